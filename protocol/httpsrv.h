/*
 * httpsrv.h - the server side of one HTTP/1.1 connection, strict (pure: no
 * I/O, no allocation): bytes in, one framed and checked request out at a
 * time (struct httpmsg_request), or a refusal that ends the connection.
 *
 * Strict where a lenient reading lets two parties disagree on what a request
 * is (request smuggling, paths that mean something else):
 *  - request line "METHOD SP origin-form SP HTTP/1.1|HTTP/1.0", CRLF line
 *    ends only (a bare CR or LF, a NUL, obsolete line folding or whitespace
 *    before a header's colon is refused), bounded head and header count;
 *  - body framing: one valid Content-Length, or Transfer-Encoding: chunked
 *    alone (both, repeats, non-numbers are refused; other codings are 501);
 *    the body is bounded by the caller's buffer (413);
 *  - the raw path, before decoding: NUL and control bytes, encoded '/' or
 *    '\', bad %-escapes, dot segments (raw or encoded), empty segments and
 *    ';' parameters are refused.
 * Any refusal is final: the parser answers nothing more on the connection
 * (state HTTPSRV_FAILED is sticky), so no byte after it is ever parsed.
 */
#ifndef HEARTH_HTTPSRV_H
#define HEARTH_HTTPSRV_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/httpmsg.h"
#include "protocol/httpreq.h"

#define HTTPSRV_HEAD_MAX 8192 /* request line through the blank line */

enum httpsrv_state {
	HTTPSRV_HEAD,   /* reading a request head */
	HTTPSRV_BODY,   /* reading its body */
	HTTPSRV_READY,  /* a whole request in rq: handle it, then httpsrv_next */
	HTTPSRV_FAILED, /* refused (err): answer it and close; sticky */
	HTTPSRV_STREAM, /* a head whose body is streamed: handle it, then httpsrv_stream */
	HTTPSRV_NSTATES
};

/* Why a request was refused: the HTTP status and the AWS error name. */
struct httpsrv_err {
	unsigned status; /* 400, 413, 431, 501 */
	const char *type; /* AWS error name for x-amzn-ErrorType */
	const char *msg;  /* a short human reason (static text) */
};

struct httpsrv {
	enum httpsrv_state state;
	struct httpmsg_request rq; /* HTTPSRV_READY: the request */
	int http10;                /* the request is HTTP/1.0 */
	int keep_alive;            /* the client keeps the connection after this request */
	int head_only;             /* a HEAD request: the answer has no body */
	int expect_continue;       /* the client waits for "100 Continue" before its body */
	struct httpsrv_err err;    /* HTTPSRV_FAILED: why */
	/*
	 * Streamed bodies (optional, set after httpsrv_init): stream_pick says
	 * for a framed head with a body whether that body is handed on as it
	 * comes (HTTPSRV_STREAM_YES, bounded by stream_max, not by the buffer),
	 * collected (NO), or collected with a refusal past the buffer that names
	 * the streamed way (SIGNED: the route streams, the request's signature
	 * covers the body's hash, which cannot be checked before it is used).
	 */
	int (*stream_pick)(void *ctx, const struct httpmsg_request *rq);
	void *stream_ctx;
	uint64_t stream_max;
	uint64_t streamed; /* body bytes handed on so far */
	/* private */
	int pick_signed; /* the route streams but the body was collected */
	struct httpreq_body bf;
	uint8_t *body;
	size_t body_cap;
	int over; /* the body outgrew body_cap */
	size_t head_len, line_start;
	unsigned lines;
	char head[HTTPSRV_HEAD_MAX];
	char strs[2 * HTTPSRV_HEAD_MAX + 4]; /* raw_path, raw_query, path */
};

/* Start a connection; bodies are collected into body[0..body_cap). */
void httpsrv_init(struct httpsrv *s, uint8_t *body, size_t body_cap);
/* The reason phrase of an answer's status line ("Status" for one not listed). */
const char *httpsrv_reason(unsigned status);
/*
 * Feed bytes from the client. Returns how many of p[0..n) were taken: it
 * stops as soon as a request is complete (HTTPSRV_READY: the rest belongs to
 * the next request, feed it after httpsrv_next) or refused (HTTPSRV_FAILED:
 * the rest must be dropped). Takes nothing in those two states.
 */
size_t httpsrv_feed(struct httpsrv *s, const uint8_t *p, size_t n);
enum { HTTPSRV_STREAM_NO, HTTPSRV_STREAM_YES, HTTPSRV_STREAM_SIGNED };
#define HTTPSRV_STREAM_TOO_LARGE_SIGNED \
	"request body is too large to be collected; a streamed upload must be signed with " \
	"x-amz-content-sha256: UNSIGNED-PAYLOAD"

/*
 * HTTPSRV_STREAM: take body bytes from p[0..n) (all of them, unless the
 * body ends or is refused before), handing the de-chunked content to sink.
 * The caller bounds n by what its sink can take (content <= raw bytes).
 * State after: still HTTPSRV_STREAM, HTTPSRV_READY at the body's end (the
 * rest starts the next request), or HTTPSRV_FAILED (over stream_max: 413,
 * malformed: 400). Returns the bytes taken.
 */
size_t httpsrv_stream(struct httpsrv *s, const uint8_t *p, size_t n, httpreq_body_sink sink,
		      void *ctx);
/* After a HTTPSRV_READY request was answered: read the next one. */
void httpsrv_next(struct httpsrv *s);

/* One decoded query parameter. */
struct httpsrv_param {
	const char *name, *value;
};

/*
 * Decode a raw query ("a=1&b=%20x", '+' is a space) into out (strings) and
 * params. Empty items are skipped, an item without '=' has the value "".
 * Returns the number of parameters, -1 on a bad %-escape or a decoded NUL
 * or control byte, -2 when out or params are too small.
 */
int httpsrv_query(const char *raw, char *out, size_t out_cap, struct httpsrv_param *params,
		  unsigned max);

/*
 * Check a raw (not decoded) origin-form path and decode it into out (a
 * string of at most strlen(raw) bytes). 0, or -1 with *why set.
 */
int httpsrv_path(const char *raw, char *out, size_t out_cap, const char **why);

#endif
