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

struct mux_open;
/* Run an exec channel (o: argv or cmdline, env, cwd, user, detach; kind and
 * window are set here) and wait for its exit code (128+N for signal N). When
 * out is not NULL, up to outlen-1 bytes of its output (stdout and stderr)
 * are kept there, NUL-terminated. -1 with err when it could not be run. */
int hooks_exec(int agent_fd, struct mux_open *o, int timeout_ms, int *code, char *out,
	       size_t outlen, char *err, size_t errlen);

/* Does the guest accept a TCP connection on port (127.0.0.1)? 1 yes, 0 no
 * (refused), -1 with err (agent error or timeout). */
int hooks_port_open(int agent_fd, uint16_t port, int timeout_ms, char *err, size_t errlen);

/* Run an image's start command (/bin/sh -c) and wait for its exit code. */
int hooks_command(int agent_fd, const char *cmdline, int timeout_ms, int *code, char *err,
		  size_t errlen);

#endif
