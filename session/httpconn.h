/*
 * httpconn.h - one API connection without I/O: bytes from the client in,
 * requests framed strictly (protocol/httpsrv.h), checked (the auth hook),
 * routed one at a time in order, answers out. A refused request is answered
 * in the AWS error shape with Connection: close, and nothing after it is
 * read. The lws glue (httpd.c) and the fuzzer (tests/fuzz/fuzz_httpconn.c)
 * drive it.
 */
#ifndef HEARTH_HTTPCONN_H
#define HEARTH_HTTPCONN_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/httpmsg.h"
#include "session/httpd.h"
#include "session/routes.h"

#define HTTPCONN_OUT_HIGH (256u * 1024)    /* unwritten answers: read no more requests */
#define HTTPCONN_OUT_MAX (32u * 1024 * 1024) /* unwritten answers: hard limit */
#define HTTPCONN_IN_MAX (256u * 1024)      /* bytes held while reading is paused */

/* Route one request; always fills *resp (the connection frees resp->body). */
typedef void (*httpconn_dispatch_fn)(void *ctx, enum route_method m,
				     const struct httpmsg_request *rq,
				     const struct route_query *query, unsigned nquery,
				     struct route_resp *resp);

/*
 * Streamed request bodies (protocol/httpsrv.h, stream_pick): the request is
 * checked and routed as soon as its head is read; a route that defers its
 * answer then takes the body through body_room/body_data as it comes, at
 * most body_room() bytes at a time (0: the client is not read until
 * httpconn_resume), then body_end(ok): 1 at the body's end, 0 when it is
 * refused (over stream_max, malformed): the owner gives up without
 * answering, the connection answers the refusal and closes. An answer given
 * before the body's end closes the connection after it.
 */
struct httpconn_cfg {
	httpconn_dispatch_fn dispatch;
	void *ctx;
	httpd_auth_fn auth; /* NULL: every request is let through */
	void *auth_ctx;
	int (*stream_pick)(void *ctx, const struct httpmsg_request *rq); /* NULL: none */
	uint64_t stream_max;
	size_t (*body_room)(void *ctx);
	int (*body_data)(void *ctx, const uint8_t *p, size_t n);
	void (*body_end)(void *ctx, int ok);
};

struct httpconn;

struct httpconn *httpconn_new(const struct httpconn_cfg *cfg);
void httpconn_free(struct httpconn *c);
/* Bytes from the client. 0, or -1: close at once (out of memory, or more
 * input held while paused than HTTPCONN_IN_MAX). */
int httpconn_input(struct httpconn *c, const uint8_t *p, size_t n);
/* The answers not yet written (*n bytes, 0 when none). */
const uint8_t *httpconn_output(struct httpconn *c, size_t *n);
/* n bytes of the output were written; reading may resume. 0 or -1 as above. */
int httpconn_written(struct httpconn *c, size_t n);
/* 1 while input is held until the output drains: stop reading the socket. */
int httpconn_paused(const struct httpconn *c);
/* 1 once no more requests will be read (refused, or the client's close). */
int httpconn_closing(const struct httpconn *c);

/*
 * Answers given later (a route returned ROUTE_DEFERRED): no further request
 * is handled until one of stream_end or deferred_answer. A stream is a
 * chunked body: begin, data..., end (complete: the last chunk; else the
 * connection closes, so the client sees a cut body).
 */
int httpconn_deferred(const struct httpconn *c);
void httpconn_stream_begin(struct httpconn *c, unsigned status, const char *ctype);
int httpconn_stream_data(struct httpconn *c, const void *p, size_t n);
void httpconn_stream_end(struct httpconn *c, int complete);
void httpconn_deferred_answer(struct httpconn *c, unsigned status, const char *err_type,
			      const char *json_body);
/* The stream owner has room again: take the body bytes held meanwhile. */
void httpconn_resume(struct httpconn *c);
/* 1 while a request's body is being streamed to its owner. */
int httpconn_streaming(const struct httpconn *c);
/* Output bytes that may still be queued before the output is "full". */
size_t httpconn_out_room(const struct httpconn *c);

#endif
