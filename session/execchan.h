/*
 * execchan.h - one non-interactive command in a VM (a hearth.v1 "exec",
 * PROTOCOL.md 2.3) as an agent channel: stdin queued within the agent's
 * window, stdout/stderr kept as whole DATA records until the owner has
 * written them to its client (only then acknowledged to the agent: lossless,
 * a slow client slows the command), an optional timeout (SIGKILL).
 * Everything runs on hearthd's event-loop thread.
 */
#ifndef HEARTH_EXECCHAN_H
#define HEARTH_EXECCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/shellmsg.h"
#include "session/hearthd.h"

#define EXECCHAN_WINDOW (256u * 1024)    /* output window granted to the agent */
#define EXECCHAN_STDIN_MAX (256u * 1024) /* stdin waiting for the agent's window */

struct execchan;

struct execchan_end {
	int have_exit;      /* is_signal/value say how the process ended */
	int is_signal, value;
	int timed_out;      /* the timeout killed it */
	int failed;         /* it never started (reason says why) */
	const char *reason; /* without have_exit: why it ended */
};

/* Callbacks may call any execchan function but execchan_close. */
struct execchan_ops {
	void (*started)(void *owner, uint32_t pid);
	/* A record is ready for execchan_peek. */
	void (*output)(void *owner);
	/* The channel is over; records may still be queued (ended comes once). */
	void (*ended)(void *owner, const struct execchan_end *e);
	/* The stdin queue has room again. */
	void (*stdin_ready)(void *owner);
};

/* Start m (an SHELLMSG_EXEC) on vm_id. NULL with err. */
struct execchan *execchan_open(struct hearthd *hd, const char *vm_id, const struct shellmsg *m,
			       const struct execchan_ops *ops, void *owner, char *err,
			       size_t errlen);
/* Ends the process if it still runs (the agent's CLOSE: SIGTERM, SIGKILL) and frees x. */
void execchan_close(struct execchan *x);

/* The oldest output record: stream (1 stdout, 2 stderr) and bytes; 0 when none. */
int execchan_peek(const struct execchan *x, uint8_t *stream, const uint8_t **p, size_t *n);
/* That record has been written to the client: drop it, acknowledge it. */
void execchan_consume(struct execchan *x);

/* Queue stdin bytes; -1 when they do not fit (nothing queued). */
int execchan_stdin(struct execchan *x, const void *p, size_t n);
size_t execchan_stdin_queued(const struct execchan *x);
/* End of stdin, after the queued bytes. */
void execchan_eof(struct execchan *x);
int execchan_signal(struct execchan *x, uint8_t signo);

#endif
