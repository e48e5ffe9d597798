/*
 * hooks.h - call an image's lifecycle hook over the agent's tcp relay:
 * open a MUX_KIND_TCP channel to the hook port inside the guest, send
 * POST /aws/lambda-microvms/runtime/v1/<hook>, read the status. Blocking,
 * with a deadline; for worker threads that own the agent fd meanwhile.
 */
#ifndef HEARTH_HOOKS_H
#define HEARTH_HOOKS_H

#include <stddef.h>
#include <stdint.h>

/* 0 with *status set (any HTTP status), -1 with err (connect failure, timeout). */
int hooks_call(int agent_fd, uint16_t port, const char *hook, const void *body, size_t len,
	       int timeout_ms, int *status, char *err, size_t errlen);

/* Run an image's start command (/bin/sh -c) and wait for its exit code. */
int hooks_command(int agent_fd, const char *cmdline, int timeout_ms, int *code, char *err,
		  size_t errlen);

#endif
