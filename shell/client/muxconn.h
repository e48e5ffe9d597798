/*
 * muxconn.h - the client end of one agent stream (protocol/mux.h) over a
 * connected socket: buffered frame output, frame input, the HELLO exchange.
 * Single-threaded; the caller owns the poll loop.
 */
#ifndef HEARTH_MUXCONN_H
#define HEARTH_MUXCONN_H

#include "protocol/mux.h"

struct muxconn {
	int fd;
	struct buf out;          /* encoded frames not yet written */
	struct mux_reader *rdr;  /* incoming frames */
	uint8_t in[16384];
	size_t in_len, in_off;
};

/* Connect to "unix:PATH" (or a bare path). Returns 0 or -errno. */
int muxconn_open(struct muxconn *c, const char *addr);
void muxconn_close(struct muxconn *c);
/* Write as much queued output as the socket takes. 0, or -errno on failure. */
int muxconn_flush(struct muxconn *c);
/* Next frame from buffered input, reading the socket only when `may_read`.
 * MUX_OK with *f, MUX_AGAIN when nothing complete, <0 mux error for a refused
 * frame, or MUXCONN_EOF / MUXCONN_IOERR. */
#define MUXCONN_EOF (-100)
#define MUXCONN_IOERR (-101)
int muxconn_next(struct muxconn *c, int may_read, struct mux_frame *f);
/* Send HELLO and wait up to timeout_ms for the agent's HELLO. 0 or -1 (err set). */
int muxconn_hello(struct muxconn *c, int timeout_ms, char *err, size_t errlen);

#endif
