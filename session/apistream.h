/*
 * apistream.h - an API answer given later, for routes that return
 * ROUTE_DEFERRED (the files extension): the handler attaches an owner to
 * the connection (route_call.conn), then answers once, either with a whole
 * JSON answer or a chunked stream whose pace follows the client (drained
 * says there is room again). gone: the client left; the owner must stop
 * and never touch conn again. Event-loop thread only (httpd.c).
 */
#ifndef HEARTH_APISTREAM_H
#define HEARTH_APISTREAM_H

#include <stddef.h>

struct apistream_ops {
	void (*drained)(void *owner);
	void (*gone)(void *owner);
	/*
	 * A streamed request body (routes_streams_body: the route was called
	 * at the head, c->body_len 0): body_room says how many bytes the owner
	 * takes now (0: the client is not read until apistream_body_resume),
	 * body_data hands them, body_end(ok) ends it: 1 the whole body came,
	 * 0 it was refused (too large, malformed): the connection answers
	 * that itself, the owner must stop and never touch conn again.
	 * NULL for routes without a streamed body.
	 */
	size_t (*body_room)(void *owner);
	int (*body_data)(void *owner, const void *p, size_t n);
	void (*body_end)(void *owner, int ok);
};

void apistream_attach(void *conn, const struct apistream_ops *ops, void *owner);
/* The owner has room for body bytes again. */
void apistream_body_resume(void *conn);
/* Start a chunked 2xx body. */
void apistream_begin(void *conn, unsigned status, const char *ctype);
/* Queue body bytes (at most apistream_room()); 0 or -1. */
int apistream_data(void *conn, const void *p, size_t n);
size_t apistream_room(void *conn);
/* The end: complete (the last chunk) or cut (the connection closes). Detaches the owner. */
void apistream_end(void *conn, int complete);
/* One whole answer instead of a stream (status, AWS error type or NULL, JSON). Detaches. */
void apistream_answer(void *conn, unsigned status, const char *err_type, const char *json);

#endif
