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
};

void apistream_attach(void *conn, const struct apistream_ops *ops, void *owner);
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
