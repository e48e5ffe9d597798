/*
 * qmpc.h - a blocking QMP client over a connected stream fd, every call with
 * a deadline. Events that arrive while waiting for a reply are kept (bounded)
 * for qmpc_wait_event.
 */
#ifndef HEARTH_QMPC_H
#define HEARTH_QMPC_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/qmp.h"

struct json_object;

#define QMPC_MAX_EVENTS 32

struct qmpc {
	int fd;
	int dead; /* EOF or a protocol error: no further calls succeed */
	unsigned stale; /* replies still owed to commands that timed out */
	struct qmp_reader rd;
	uint8_t in[4096];
	size_t in_off, in_len;
	struct qmp_msg events[QMPC_MAX_EVENTS];
	unsigned nevents;
};

/* Take ownership of fd (made non-blocking). */
void qmpc_init(struct qmpc *q, int fd);
void qmpc_close(struct qmpc *q);
/* Read the greeting and negotiate capabilities. */
int qmpc_handshake(struct qmpc *q, int64_t deadline, char *err, size_t errlen);
/*
 * Run one command. args may be NULL; it is consumed (json_object_put) either
 * way. pass_fd >= 0 is sent along with the command (SCM_RIGHTS), as getfd
 * expects. On success *ret (if not NULL) gets the "return" value, owned by
 * the caller. Errors fill err with the QMP error class/desc or the I/O reason.
 */
int qmpc_cmd(struct qmpc *q, const char *name, struct json_object *args, int pass_fd,
	     int64_t deadline, struct json_object **ret, char *err, size_t errlen);
/* Wait for an event by name (already queued or new); its data (may be NULL) into *data. */
int qmpc_wait_event(struct qmpc *q, const char *name, int64_t deadline,
		    struct json_object **data, char *err, size_t errlen);
/* Drop queued events. */
void qmpc_clear_events(struct qmpc *q);

#endif
