/*
 * httpreq.h - HTTP/1.1 message framing for a forwarding proxy (pure: no I/O,
 * no allocation). The app proxy of the ingress uses it to
 *  - parse a client's request head, pick out what the proxy decides on
 *    (X-aws-proxy-port, the lambda-microvms.port.<N> subprotocol, Upgrade,
 *    keep-alive, body framing) and write the head the application gets:
 *    every X-aws-proxy-* header removed and every lambda-microvms*
 *    subprotocol removed from Sec-WebSocket-Protocol;
 *  - parse the application's response heads (status, framing, close);
 *  - follow a body (Content-Length or chunked, passed through unmodified) to
 *    learn where one message ends, so requests on a kept-alive connection
 *    are each parsed, authorized and rewritten.
 * Framing is strict where a lenient reading lets two parties disagree on
 * where a request ends (request smuggling): Content-Length with
 * Transfer-Encoding, repeated or non-numeric lengths, codings other than
 * "chunked", bare LF line ends and obsolete line folding are refused.
 */
#ifndef HEARTH_HTTPREQ_H
#define HEARTH_HTTPREQ_H

#include <stddef.h>
#include <stdint.h>

#define HTTPREQ_HEAD_MAX 8192          /* request head, request line to blank line */
#define HTTPREQ_HEADERS_MAX 64         /* request header lines */
#define HTTPREQ_RESP_HEAD_MAX 16384    /* response head */
#define HTTPREQ_RESP_HEADERS_MAX 128   /* response header lines */
#define HTTPREQ_CHUNK_LINE_MAX 4096    /* a chunk-size line with its extensions */
#define HTTPREQ_TRAILER_MAX 8192       /* all trailer lines of a chunked body */
#define HTTPREQ_LENGTH_MAX ((uint64_t)1 << 60) /* largest Content-Length or chunk */

enum httpreq_framing {
	HTTPREQ_BODY_NONE,    /* no body */
	HTTPREQ_BODY_LENGTH,  /* Content-Length bytes */
	HTTPREQ_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTPREQ_BODY_CLOSE,   /* (responses) everything until the connection ends */
};

/* Results of the head parsers: > 0 is the head's length. */
enum {
	HTTPREQ_MORE = 0,       /* incomplete: more input needed */
	HTTPREQ_E_BAD = -1,     /* malformed (400) */
	HTTPREQ_E_TOOBIG = -2,  /* head or a field over its limit (431) */
	HTTPREQ_E_PORT = -3,    /* X-aws-proxy-port not one number 1..65535 (400) */
	HTTPREQ_E_FRAMING = -4, /* ambiguous or bad body framing (400) */
	HTTPREQ_E_CODING = -5,  /* a transfer coding other than chunked (501) */
};

struct httpreq {
	char method[16];
	int http10;             /* HTTP/1.0 (else HTTP/1.1) */
	unsigned port;          /* X-aws-proxy-port, 0 when absent */
	unsigned ws_port;       /* subprotocol lambda-microvms.port.<N>, 0 when absent or bad */
	int upgrade;            /* an Upgrade header and Connection: upgrade */
	int websocket;          /* ... and Upgrade names websocket */
	int keep_alive;         /* the client wants the connection kept after this request */
	enum httpreq_framing framing;
	uint64_t length;        /* HTTPREQ_BODY_LENGTH: the Content-Length */
	size_t out_len;         /* length of the rewritten head */
	const char *why;        /* on error: a short reason */
};

/*
 * Parse the request head at the start of p[0..n). On success returns the
 * head's length (through the blank line) and writes the rewritten head to
 * out (out_cap >= the head's length always suffices: it only shrinks).
 * Only origin-form and "*" targets are accepted (no CONNECT, no proxy
 * requests). Returns HTTPREQ_MORE or an error code otherwise.
 */
int httpreq_parse(const char *p, size_t n, struct httpreq *r, char *out, size_t out_cap);
/* A short text for an error code, and the HTTP status the proxy answers it with. */
const char *httpreq_strerror(int err);
unsigned httpreq_status(int err);

struct httpreq_resp {
	unsigned status;        /* 100..999 */
	int close;              /* the server ends the connection after this response */
	enum httpreq_framing framing;
	uint64_t length;
	const char *why;
};

/*
 * Parse a response head at the start of p[0..n) (head_request: it answers a
 * HEAD request, so no body whatever the headers say). Returns the head's
 * length, HTTPREQ_MORE, or an error (HTTPREQ_E_*). A 1xx other than 101 is
 * followed by another head; 101 ends HTTP on the connection.
 */
int httpreq_parse_response(const char *p, size_t n, int head_request, struct httpreq_resp *r);

/* A body in progress; a byte-wise state machine, so it never buffers. */
struct httpreq_body {
	enum httpreq_framing framing;
	uint64_t left;          /* bytes left of the body or the current chunk */
	unsigned state, line, trailer, digits;
	int done;
};

void httpreq_body_init(struct httpreq_body *b, enum httpreq_framing f, uint64_t length);
/*
 * Feed bytes that follow the head. Returns how many of p[0..n) belong to the
 * body (the rest, if any, starts the next message), or -1 when a chunked body
 * is malformed or over a limit. b->done is set once the body has ended.
 */
long httpreq_body_feed(struct httpreq_body *b, const uint8_t *p, size_t n);
/*
 * The same, handing the body's content (de-chunked) to sink as it passes;
 * a sink that returns -1 (e.g. the body is over its limit) makes this
 * return -1 too.
 */
typedef int (*httpreq_body_sink)(void *ctx, const uint8_t *p, size_t n);
long httpreq_body_take(struct httpreq_body *b, const uint8_t *p, size_t n,
		       httpreq_body_sink sink, void *ctx);

#endif
