/*
 * qmp.h - QEMU Machine Protocol message reader (pure, no I/O).
 *
 * QMP is newline-delimited JSON from QEMU. qmp_reader splits the byte stream
 * into lines no longer than QMP_MAX_LINE (a longer line is an error: the
 * connection can no longer be trusted); qmp_parse turns one line into a
 * classified message with a bounded JSON nesting depth.
 */
#ifndef HEARTH_QMP_H
#define HEARTH_QMP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

struct json_object;

#define QMP_MAX_LINE (256u * 1024)
#define QMP_MAX_DEPTH 16

enum qmp_kind {
	QMP_GREETING = 1,
	QMP_RETURN,
	QMP_ERROR,
	QMP_EVENT,
};

enum {
	QMP_OK = 0,
	QMP_AGAIN = 1,      /* reader: no complete line yet */
	QMP_E_TOOLONG = -1, /* line over QMP_MAX_LINE */
	QMP_E_JSON = -2,    /* not one JSON object */
	QMP_E_SHAPE = -3,   /* an object QMP does not send */
};

struct qmp_msg {
	int kind;
	struct json_object *root; /* owned; free with qmp_msg_free */
	struct json_object *value; /* borrowed: "return" or event "data" (may be NULL) */
	char event[64];            /* QMP_EVENT: name */
	char cls[64];              /* QMP_ERROR: class */
	char desc[512];            /* QMP_ERROR: description (truncated) */
};

struct qmp_reader {
	struct buf line; /* bytes of the current, incomplete line */
	int overflow;
};

void qmp_reader_init(struct qmp_reader *r);
void qmp_reader_free(struct qmp_reader *r);
/*
 * Consume input up to and including the first newline. QMP_OK: *line and *len
 * hold one line without its terminator (valid until the next call);
 * QMP_AGAIN: all input consumed; QMP_E_TOOLONG: the line overflowed.
 * *used is set to the bytes consumed.
 */
int qmp_reader_feed(struct qmp_reader *r, const uint8_t *in, size_t n, size_t *used,
		    const char **line, size_t *len);

/* Parse one line into *m (m->root owned by the caller on QMP_OK). */
int qmp_parse(const char *line, size_t len, struct qmp_msg *m);
void qmp_msg_free(struct qmp_msg *m);
const char *qmp_strerror(int rc);

#endif
