/*
 * httpconn.c - one API connection: strict framing, the auth hook, routing
 * and the answers, no I/O; see httpconn.h.
 */
#include "session/httpconn.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <json-c/json.h>

#include "protocol/buf.h"
#include "protocol/httpsrv.h"

struct httpconn {
	struct httpconn_cfg cfg;
	struct httpsrv srv;
	struct buf in;  /* client bytes not yet framed (held while paused) */
	struct buf out; /* answers not yet written */
	int closing;    /* refused or the client's close: no more requests */
	int continued;  /* "100 Continue" sent for the request in progress */
	int deferred;   /* an answer comes later (ROUTE_DEFERRED) */
	int deferred_close; /* ... and the connection closes after it */
	int streaming;  /* the deferred request's body goes to its owner as it comes */
	int processing; /* inside process(): an owner answering from a body callback
			 * must not frame held input again (process goes on itself) */
	char qbuf[2 * HTTPSRV_HEAD_MAX];
	struct httpsrv_param params[ROUTE_MAX_QUERY];
	uint8_t body[API_MAX_BODY];
};

static const struct {
	const char *name;
	enum route_method m;
} methods[] = {
	{ "GET", RM_GET },     { "POST", RM_POST },	{ "PUT", RM_PUT },
	{ "PATCH", RM_PATCH }, { "DELETE", RM_DELETE },
};

static enum route_method method_of(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (!strcmp(methods[i].name, name))
			return methods[i].m;
	return RM_OTHER;
}

struct httpconn *httpconn_new(const struct httpconn_cfg *cfg)
{
	struct httpconn *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct httpconn, qbuf));
	c->cfg = *cfg;
	httpsrv_init(&c->srv, c->body, sizeof c->body);
	if (cfg->stream_pick && cfg->body_room && cfg->body_data && cfg->body_end) {
		c->srv.stream_pick = cfg->stream_pick;
		c->srv.stream_ctx = cfg->ctx;
		c->srv.stream_max = cfg->stream_max;
	}
	buf_init(&c->in, HTTPCONN_IN_MAX);
	buf_init(&c->out, HTTPCONN_OUT_MAX);
	return c;
}

void httpconn_free(struct httpconn *c)
{
	if (!c)
		return;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* Append printf output to head[*hl..cap); over-long parts are cut, never overrun. */
__attribute__((format(printf, 4, 5))) static void hput(char *head, size_t cap, size_t *hl,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(head + *hl, cap - *hl, fmt, ap);
	va_end(ap);
	if (n > 0)
		*hl += (size_t)n < cap - *hl ? (size_t)n : cap - *hl - 1;
}

/* Queue one answer; with close, Connection: close and nothing more is read. */
static void answer(struct httpconn *c, unsigned status, const char *err_type, const char *body,
		   size_t len, int close)
{
	char head[512];
	size_t hl = 0;
	uint8_t rb[16];
	int no_body = status == 204 || status == 304;
	hput(head, sizeof head, &hl, "HTTP/1.1 %u %s\r\n", status, httpsrv_reason(status));
	if (len && !no_body)
		hput(head, sizeof head, &hl, "Content-Type: application/json\r\n");
	if (!no_body)
		hput(head, sizeof head, &hl, "Content-Length: %zu\r\n", len);
	/* A request id, as the AWS SDKs record in $metadata.requestId. */
	if (getrandom(rb, sizeof rb, GRND_NONBLOCK) != (ssize_t)sizeof rb)
		memset(rb, 0, sizeof rb);
	hput(head, sizeof head, &hl, "x-amzn-RequestId: ");
	for (size_t i = 0; i < sizeof rb; i++)
		hput(head, sizeof head, &hl, "%02x", rb[i]);
	hput(head, sizeof head, &hl, "\r\n");
	if (err_type)
		hput(head, sizeof head, &hl, "x-amzn-ErrorType: %.128s\r\n", err_type);
	if (close)
		hput(head, sizeof head, &hl, "Connection: close\r\n");
	else if (c->srv.http10)
		hput(head, sizeof head, &hl, "Connection: keep-alive\r\n");
	hput(head, sizeof head, &hl, "\r\n");
	if (buf_put(&c->out, head, hl) != BUF_OK ||
	    (len && !c->srv.head_only && !no_body && buf_put(&c->out, body, len) != BUF_OK))
		close = 1; /* answers pile up unread: end once what fits is written */
	if (close)
		c->closing = 1;
}

static void answer_error(struct httpconn *c, unsigned status, const char *type, const char *msg,
			 int close)
{
	struct json_object *o = json_object_new_object();
	const char *s = "{\"message\":\"error\"}";
	if (o) {
		json_object_object_add(o, "message", json_object_new_string(msg));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	answer(c, status, type, s, strlen(s), close);
	json_object_put(o);
}

/* A whole, well-framed request: check, route, answer. */
static void handle(struct httpconn *c)
{
	const struct httpmsg_request *rq = &c->srv.rq;
	int close = !c->srv.keep_alive;
	struct api_err e = { 0 };
	if (c->cfg.auth && c->cfg.auth(c->cfg.auth_ctx, rq, &e) < 0) {
		answer_error(c, 403, e.type ? e.type : "AccessDeniedException",
			     e.msg[0] ? e.msg : "access denied", close);
		return;
	}
	int nq = httpsrv_query(rq->raw_query, c->qbuf, sizeof c->qbuf, c->params,
			       ROUTE_MAX_QUERY);
	if (nq < 0) {
		answer_error(c, 400, API_E_VALIDATION,
			     nq == -2 ? "query string is too long" : "bad query string", close);
		return;
	}
	struct route_query q[ROUTE_MAX_QUERY];
	for (int i = 0; i < nq; i++) {
		q[i].name = c->params[i].name;
		q[i].value = c->params[i].value;
	}
	struct route_resp r;
	memset(&r, 0, sizeof r);
	c->cfg.dispatch(c->cfg.ctx, method_of(rq->method), rq, q, (unsigned)nq, &r);
	if (r.status == ROUTE_DEFERRED) {
		c->deferred = 1;
		c->deferred_close = close;
		free(r.body);
		return;
	}
	answer(c, (unsigned)r.status, r.err_type, r.body, r.body ? r.len : 0, close);
	free(r.body);
}

static void send_continue(struct httpconn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	if (!c->srv.expect_continue || c->continued)
		return;
	c->continued = 1;
	if (buf_put(&c->out, cont, sizeof cont - 1) != BUF_OK)
		c->closing = 1;
}

/* A head whose body streams: check and route it now; only a deferred
 * answer takes the body, any other answer ends the connection (its body
 * is never read). */
static void handle_stream(struct httpconn *c)
{
	int keep = c->srv.keep_alive;
	c->srv.keep_alive = 0; /* for an answer given now: the body stays unread */
	handle(c);
	if (!c->deferred) {
		c->closing = 1;
		return;
	}
	c->deferred_close = !keep;
	c->streaming = 1;
	send_continue(c);
}

static int body_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct httpconn *c = ctx;
	return c->cfg.body_data(c->cfg.ctx, p, n);
}

/* Hand body bytes to the owner as far as it has room; returns the bytes taken. */
static size_t stream_body(struct httpconn *c, const uint8_t *p, size_t n)
{
	size_t used = 0;
	while (c->streaming && used < n) {
		size_t room = c->cfg.body_room(c->cfg.ctx);
		if (!room)
			break;
		size_t want = n - used < room ? n - used : room;
		size_t took = httpsrv_stream(&c->srv, p + used, want, body_sink, c);
		used += took;
		if (!c->streaming) /* the owner answered meanwhile: the rest is dropped */
			return n;
		if (c->srv.state == HTTPSRV_FAILED) {
			c->streaming = 0;
			c->deferred = 0;
			c->cfg.body_end(c->cfg.ctx, 0);
			answer_error(c, c->srv.err.status, c->srv.err.type, c->srv.err.msg, 1);
			return n;
		}
		if (c->srv.state == HTTPSRV_READY) {
			c->streaming = 0;
			c->cfg.body_end(c->cfg.ctx, 1);
			httpsrv_next(&c->srv);
			c->continued = 0;
		} else if (!took) {
			break;
		}
	}
	return used;
}

/* Frame and answer what p[0..n) holds; returns the bytes taken. */
static size_t process(struct httpconn *c, const uint8_t *p, size_t n)
{
	size_t used = 0;
	c->processing = 1;
	for (;;) {
		if (c->streaming && !c->closing)
			used += stream_body(c, p + used, n - used);
		if (c->streaming || c->closing || c->deferred ||
		    buf_used(&c->out) >= HTTPCONN_OUT_HIGH)
			break;
		used += httpsrv_feed(&c->srv, p + used, n - used);
		switch (c->srv.state) {
		case HTTPSRV_STREAM:
			handle_stream(c);
			continue;
		case HTTPSRV_READY:
			handle(c);
			httpsrv_next(&c->srv);
			c->continued = 0;
			continue;
		case HTTPSRV_FAILED:
			answer_error(c, c->srv.err.status, c->srv.err.type, c->srv.err.msg, 1);
			c->closing = 1;
			break;
		case HTTPSRV_BODY:
			send_continue(c);
			break;
		default:
			break;
		}
		break;
	}
	c->processing = 0;
	return c->closing ? n : used;
}

/* Frame what is held in c->in, as far as the output allows. */
static void process_held(struct httpconn *c)
{
	size_t took = process(c, buf_ptr(&c->in), buf_used(&c->in));
	buf_consume(&c->in, took);
	if (!buf_used(&c->in))
		buf_reset(&c->in);
}

int httpconn_input(struct httpconn *c, const uint8_t *p, size_t n)
{
	if (c->closing)
		return 0; /* after a refusal or the client's close: dropped unread */
	if (!buf_used(&c->in)) {
		size_t took = process(c, p, n);
		p += took;
		n -= took;
	}
	if (n && buf_put(&c->in, p, n) != BUF_OK)
		return -1;
	if (buf_used(&c->in))
		process_held(c);
	return 0;
}

const uint8_t *httpconn_output(struct httpconn *c, size_t *n)
{
	*n = buf_used(&c->out);
	return buf_ptr(&c->out);
}

int httpconn_written(struct httpconn *c, size_t n)
{
	buf_consume(&c->out, n);
	if (!buf_used(&c->out))
		buf_reset(&c->out);
	if (buf_used(&c->in) && !c->closing)
		process_held(c);
	return 0;
}

int httpconn_paused(const struct httpconn *c)
{
	/* Input is held while the output drains, or while a streamed body's
	 * owner has no room: either way the socket is not read meanwhile. */
	return !c->closing && buf_used(&c->in) > 0 &&
	       (buf_used(&c->out) >= HTTPCONN_OUT_HIGH || c->streaming);
}

void httpconn_resume(struct httpconn *c)
{
	if (buf_used(&c->in) && !c->closing && !c->processing)
		process_held(c);
}

int httpconn_streaming(const struct httpconn *c)
{
	return c->streaming;
}

int httpconn_closing(const struct httpconn *c)
{
	return c->closing;
}

int httpconn_deferred(const struct httpconn *c)
{
	return c->deferred;
}

void httpconn_stream_begin(struct httpconn *c, unsigned status, const char *ctype)
{
	char head[512];
	size_t hl = 0;
	hput(head, sizeof head, &hl, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n"
				     "Transfer-Encoding: chunked\r\n%s\r\n",
	     status, httpsrv_reason(status), ctype,
	     c->deferred_close || c->streaming ? "Connection: close\r\n" : "");
	if (buf_put(&c->out, head, hl) != BUF_OK)
		c->closing = 1;
}

int httpconn_stream_data(struct httpconn *c, const void *p, size_t n)
{
	char len[24];
	int l = snprintf(len, sizeof len, "%zx\r\n", n);
	if (n == 0)
		return 0; /* a zero chunk would end the body */
	if (buf_room(&c->out) < (size_t)l + n + 2 || buf_put(&c->out, len, (size_t)l) != BUF_OK ||
	    buf_put(&c->out, p, n) != BUF_OK || buf_put(&c->out, "\r\n", 2) != BUF_OK) {
		c->closing = 1;
		return -1;
	}
	return 0;
}

/* The deferred answer is complete: go on with the requests held meanwhile. */
static void deferred_done(struct httpconn *c, int close)
{
	c->deferred = 0;
	if (c->streaming) { /* answered before the body's end: the rest is never read */
		c->streaming = 0;
		close = 1;
	}
	if (close || c->deferred_close)
		c->closing = 1;
	if (!c->closing && !c->processing && buf_used(&c->in))
		process_held(c);
}

void httpconn_stream_end(struct httpconn *c, int complete)
{
	if (complete && buf_put(&c->out, "0\r\n\r\n", 5) != BUF_OK)
		complete = 0;
	deferred_done(c, !complete);
}

void httpconn_deferred_answer(struct httpconn *c, unsigned status, const char *err_type,
			      const char *json_body)
{
	answer(c, status, err_type, json_body, strlen(json_body),
	       c->deferred_close || c->streaming);
	deferred_done(c, 0);
}

size_t httpconn_out_room(const struct httpconn *c)
{
	size_t used = buf_used(&c->out);
	return used < HTTPCONN_OUT_HIGH ? HTTPCONN_OUT_HIGH - used : 0;
}
