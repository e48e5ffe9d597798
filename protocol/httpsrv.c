/*
 * httpsrv.c - strict server-side HTTP/1.1 request framing; see httpsrv.h.
 * The head is copied byte by byte into a bounded buffer (line ends checked
 * as they arrive, so a bare LF is refused at once, not after 8 KiB), then
 * split in place into NUL-terminated strings; bodies follow httpreq.c's
 * framing state machine.
 */
#include "protocol/httpsrv.h"
#include "protocol/httphead.h"

#include <string.h>
#include <strings.h>

#define E_VALIDATION "ValidationException"
#define E_TOO_LARGE_HEAD "RequestHeaderFieldsTooLargeException"
#define E_TOO_LARGE "RequestEntityTooLargeException"

static int fail(struct httpsrv *s, unsigned status, const char *type, const char *msg)
{
	s->state = HTTPSRV_FAILED;
	s->err.status = status;
	s->err.type = type;
	s->err.msg = msg;
	s->keep_alive = 0;
	return -1;
}

static int bad(struct httpsrv *s, const char *msg)
{
	return fail(s, 400, E_VALIDATION, msg);
}

/* ---- paths and queries ---- */

int httpsrv_path(const char *raw, char *out, size_t out_cap, const char **why)
{
	size_t o = 0, seg = 0; /* seg: where the current decoded segment starts */
	if (raw[0] != '/')
		return *why = "the request target must be a path", -1;
	for (size_t i = 0;; i++) {
		int c = (unsigned char)raw[i];
		if (c == '/' || c == '\0') {
			size_t sl = o - seg;
			/* Only the last segment may be empty ("/" or a trailing slash). */
			if (c == '/' && i > 0 && sl == 0)
				return *why = "empty path segment", -1;
			if ((sl == 1 && out[seg] == '.') ||
			    (sl == 2 && out[seg] == '.' && out[seg + 1] == '.'))
				return *why = "dot segment in path", -1;
			if (c == '\0')
				break;
			if (o + 1 >= out_cap)
				return *why = "path too long", -1;
			out[o++] = '/';
			seg = o;
			continue;
		}
		if (c == ';')
			return *why = "';' parameters are not served", -1;
		if (c == '\\' || c <= 0x20 || c >= 0x7f)
			return *why = "bad byte in path", -1;
		if (c == '%') {
			int h = httphead_hexval((unsigned char)raw[i + 1]), l;
			if (h < 0 || (l = httphead_hexval((unsigned char)raw[i + 2])) < 0)
				return *why = "bad %-escape in path", -1;
			c = h * 16 + l;
			i += 2;
			if (c == '/' || c == '\\')
				return *why = "encoded '/' or '\\' in path", -1;
			if (c < 0x20 || c == 0x7f)
				return *why = "encoded NUL or control byte in path", -1;
		}
		if (o + 1 >= out_cap)
			return *why = "path too long", -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Decode [p, p+n) into out at *o; -1 on a bad escape or control byte, -2 when full. */
static int query_part(const char *p, size_t n, char *out, size_t cap, size_t *o)
{
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = httphead_hexval((unsigned char)p[i + 1]), l = httphead_hexval((unsigned char)p[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (*o + 1 >= cap)
			return -2;
		out[(*o)++] = (char)c;
	}
	if (*o >= cap)
		return -2;
	out[(*o)++] = '\0';
	return 0;
}

int httpsrv_query(const char *raw, char *out, size_t out_cap, struct httpsrv_param *params,
		  unsigned max)
{
	size_t o = 0;
	unsigned np = 0;
	const char *p = raw;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t il = amp ? (size_t)(amp - p) : strlen(p);
		if (il) {
			const char *eq = memchr(p, '=', il);
			size_t nl = eq ? (size_t)(eq - p) : il;
			if (np >= max)
				return -2;
			size_t name_at = o, value_at;
			int rc = query_part(p, nl, out, out_cap, &o);
			if (rc < 0)
				return rc;
			value_at = o;
			rc = query_part(eq ? eq + 1 : p + il, eq ? il - nl - 1 : 0, out, out_cap, &o);
			if (rc < 0)
				return rc;
			params[np].name = out + name_at;
			params[np].value = out + value_at;
			np++;
		}
		p += il + (amp ? 1 : 0);
	}
	return (int)np;
}

/* ---- the head ---- */

/* Decimal digits only, at most 19, no sign or spaces; -1 when not. */
/* "METHOD SP target SP HTTP/1.x", split in place. */
static int request_line(struct httpsrv *s, char *line, size_t n)
{
	char *sp1 = memchr(line, ' ', n);
	if (!sp1 || sp1 == line || sp1 - line > 32)
		return bad(s, "bad request line");
	for (char *q = line; q < sp1; q++)
		if (!httphead_is_tchar((unsigned char)*q))
			return bad(s, "bad request method");
	char *t = sp1 + 1;
	char *sp2 = memchr(t, ' ', n - (size_t)(t - line));
	if (!sp2 || sp2 == t)
		return bad(s, "bad request line");
	for (char *q = t; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return bad(s, "bad byte in request target");
	size_t vl = n - (size_t)(sp2 + 1 - line);
	if (vl != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return bad(s, "only HTTP/1.1 and HTTP/1.0 are served");
	s->http10 = sp2[8] == '0';
	*sp1 = '\0';
	*sp2 = '\0';
	s->rq.method = line;
	s->rq.target = t;
	s->head_only = strcmp(line, "HEAD") == 0;
	if (t[0] != '/')
		return bad(s, "the request target must be a path");
	/* raw_path, raw_query and the decoded path, each its own string. */
	size_t tl = (size_t)(sp2 - t);
	const char *qm = memchr(t, '?', tl);
	size_t pl = qm ? (size_t)(qm - t) : tl;
	char *raw_path = s->strs, *raw_query = s->strs + pl + 1, *path;
	memcpy(raw_path, t, pl);
	raw_path[pl] = '\0';
	size_t ql = qm ? tl - pl - 1 : 0;
	memcpy(raw_query, qm ? qm + 1 : "", ql);
	raw_query[ql] = '\0';
	path = raw_query + ql + 1;
	s->rq.raw_path = raw_path;
	s->rq.raw_query = raw_query;
	s->rq.path = path;
	const char *why;
	if (httpsrv_path(raw_path, path, pl + 1, &why) < 0)
		return bad(s, why);
	return 0;
}

struct head_seen {
	int hosts, cl, te, conn_close, conn_keep;
	uint64_t length;
};

static int header(struct httpsrv *s, struct head_seen *h, char *line, size_t n)
{
	size_t nl = 0;
	while (nl < n && httphead_is_tchar((unsigned char)line[nl]))
		nl++;
	if (nl == 0 || nl == n || line[nl] != ':')
		return bad(s, "bad header line"); /* no name, space before ':', folding */
	const char *v = line + nl + 1;
	size_t vl = n - nl - 1;
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(s, "control byte in a header value");
	}
	if (s->rq.nheaders >= HTTPMSG_HEADERS_MAX)
		return fail(s, 431, E_TOO_LARGE_HEAD, "too many header lines");
	httphead_trim(&v, &vl);
	line[nl] = '\0';
	((char *)v)[vl] = '\0'; /* within the line: its CR at the latest */
	struct httpmsg_header *hd = &s->rq.headers[s->rq.nheaders++];
	hd->name = line;
	hd->value = v;
	if (!strcasecmp(line, "host"))
		h->hosts++;
	else if (!strcasecmp(line, "content-length")) {
		if (h->cl++ || httphead_dec(v, strlen(v), HTTPREQ_LENGTH_MAX, &h->length) < 0)
			return bad(s, "bad or repeated Content-Length");
	} else if (!strcasecmp(line, "transfer-encoding")) {
		if (h->te++)
			return bad(s, "repeated Transfer-Encoding");
		if (strcasecmp(v, "chunked"))
			return fail(s, 501, "NotImplementedException",
				    "only the chunked transfer coding is served");
	} else if (!strcasecmp(line, "connection")) {
		h->conn_close |= httphead_list_has(v, vl, "close");
		h->conn_keep |= httphead_list_has(v, vl, "keep-alive");
	} else if (!strcasecmp(line, "expect")) {
		if (strcasecmp(v, "100-continue"))
			return fail(s, 417, "ExpectationFailedException", "only 100-continue is served");
		s->expect_continue = 1;
	}
	return 0;
}

/* The body's bytes into the caller's buffer. */
static int body_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct httpsrv *s = ctx;
	if (n > s->body_cap - s->rq.body_len)
		return s->over = 1, -1;
	memcpy(s->body + s->rq.body_len, p, n);
	s->rq.body_len += n;
	return 0;
}

/* A whole head is in s->head (every line ends in CRLF, the last is empty). */
static int head_done(struct httpsrv *s)
{
	struct head_seen h;
	memset(&h, 0, sizeof h);
	char *p = s->head, *end = s->head + s->head_len - 2;
	int first = 1;
	while (p < end) {
		char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr)
			return bad(s, "bad line end"); /* cannot happen: every line was checked */
		*cr = '\0';
		if (first ? request_line(s, p, (size_t)(cr - p)) : header(s, &h, p, (size_t)(cr - p)))
			return -1;
		first = 0;
		p = cr + 2;
	}
	if (h.hosts > 1 || (h.hosts == 0 && !s->http10))
		return bad(s, "exactly one Host header is required");
	if (h.te && (h.cl || s->http10))
		return bad(s, "Transfer-Encoding with Content-Length or in HTTP/1.0");
	int pick = (h.te || h.length) && s->stream_pick ? s->stream_pick(s->stream_ctx, &s->rq)
							 : HTTPSRV_STREAM_NO;
	s->pick_signed = pick == HTTPSRV_STREAM_SIGNED;
	if (pick == HTTPSRV_STREAM_YES && h.cl && h.length > s->stream_max)
		return fail(s, 413, E_TOO_LARGE, "request body is over the streamed upload limit");
	if (pick != HTTPSRV_STREAM_YES && h.cl && h.length > s->body_cap)
		return fail(s, 413, E_TOO_LARGE, s->pick_signed ? HTTPSRV_STREAM_TOO_LARGE_SIGNED
								: "request body is too large");
	s->keep_alive = s->http10 ? h.conn_keep && !h.conn_close : !h.conn_close;
	s->rq.body = s->body;
	httpreq_body_init(&s->bf, h.te ? HTTPREQ_BODY_CHUNKED
				   : h.length ? HTTPREQ_BODY_LENGTH
					      : HTTPREQ_BODY_NONE,
			  h.length);
	s->rq.body_streamed = pick == HTTPSRV_STREAM_YES;
	s->streamed = 0;
	s->state = s->bf.done ? HTTPSRV_READY : s->rq.body_streamed ? HTTPSRV_STREAM : HTTPSRV_BODY;
	return 0;
}

/*
 * Take head bytes one at a time: each line must end in CRLF; empty lines
 * before the request line are skipped (RFC 9112 2.2: a client may send
 * CRLF after a body).
 */
static size_t feed_head(struct httpsrv *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = (char)p[i], prev = s->head_len ? s->head[s->head_len - 1] : 0;
		const char *why = c == '\0'			 ? "NUL byte in request head"
				  : prev == '\r' && c != '\n' ? "bare CR in request head"
				  : c == '\n' && prev != '\r' ? "bare LF in request head"
								: NULL;
		if (why) {
			bad(s, why);
			return i + 1;
		}
		if (s->head_len >= sizeof s->head) {
			fail(s, 431, E_TOO_LARGE_HEAD, "request head is too large");
			return i + 1;
		}
		s->head[s->head_len++] = c;
		if (c != '\n')
			continue;
		if (s->head_len - s->line_start > 2) {
			s->line_start = s->head_len;
			s->lines++;
		} else if (!s->lines) {
			s->head_len = s->line_start = 0; /* an empty line before the request */
		} else {
			head_done(s);
			return i + 1;
		}
	}
	return n;
}

static size_t feed_body(struct httpsrv *s, const uint8_t *p, size_t n)
{
	long took = httpreq_body_take(&s->bf, p, n, body_sink, s);
	if (took < 0) {
		if (s->over)
			fail(s, 413, E_TOO_LARGE, s->pick_signed ? HTTPSRV_STREAM_TOO_LARGE_SIGNED
								 : "request body is too large");
		else
			bad(s, "malformed chunked body");
		return n;
	}
	/* A chunk announced (even half-read: its digits so far are a lower
	 * bound) that cannot fit is refused before its bytes come. */
	if (s->bf.framing == HTTPREQ_BODY_CHUNKED && s->bf.left > s->body_cap - s->rq.body_len) {
		fail(s, 413, E_TOO_LARGE, s->pick_signed ? HTTPSRV_STREAM_TOO_LARGE_SIGNED
							 : "request body is too large");
		return n;
	}
	if (s->bf.done)
		s->state = HTTPSRV_READY;
	return (size_t)took;
}

struct stream_sink {
	struct httpsrv *s;
	httpreq_body_sink sink;
	void *ctx;
};

static int stream_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct stream_sink *k = ctx;
	if (n > k->s->stream_max - k->s->streamed)
		return k->s->over = 1, -1;
	k->s->streamed += n;
	return k->sink(k->ctx, p, n);
}

size_t httpsrv_stream(struct httpsrv *s, const uint8_t *p, size_t n, httpreq_body_sink sink,
		      void *ctx)
{
	if (s->state != HTTPSRV_STREAM)
		return 0;
	struct stream_sink k = { s, sink, ctx };
	long took = httpreq_body_take(&s->bf, p, n, stream_sink, &k);
	if (took < 0) {
		if (s->over)
			fail(s, 413, E_TOO_LARGE, "request body is over the streamed upload limit");
		else
			bad(s, "malformed chunked body");
		return n;
	}
	/* A chunk announced past the limit is refused before its bytes come. */
	if (s->bf.framing == HTTPREQ_BODY_CHUNKED && s->bf.left > s->stream_max - s->streamed) {
		fail(s, 413, E_TOO_LARGE, "request body is over the streamed upload limit");
		return n;
	}
	if (s->bf.done)
		s->state = HTTPSRV_READY;
	return (size_t)took;
}

static size_t feed_none(struct httpsrv *s, const uint8_t *p, size_t n)
{
	(void)s;
	(void)p;
	(void)n;
	return 0;
}

static size_t (*const feeders[HTTPSRV_NSTATES])(struct httpsrv *, const uint8_t *, size_t) = {
	[HTTPSRV_HEAD] = feed_head,
	[HTTPSRV_BODY] = feed_body,
	[HTTPSRV_READY] = feed_none,
	[HTTPSRV_FAILED] = feed_none,
	[HTTPSRV_STREAM] = feed_none, /* httpsrv_stream takes the body */
};

size_t httpsrv_feed(struct httpsrv *s, const uint8_t *p, size_t n)
{
	size_t used = 0;
	while (used < n && (s->state == HTTPSRV_HEAD || s->state == HTTPSRV_BODY)) {
		size_t took = feeders[s->state](s, p + used, n - used);
		used += took;
		if (!took)
			break;
	}
	return used;
}

static void reset(struct httpsrv *s)
{
	s->state = HTTPSRV_HEAD;
	memset(&s->rq, 0, sizeof s->rq);
	memset(&s->err, 0, sizeof s->err);
	s->http10 = s->keep_alive = s->head_only = s->expect_continue = s->over = 0;
	s->pick_signed = 0;
	s->streamed = 0;
	s->head_len = s->line_start = 0;
	s->lines = 0;
}

void httpsrv_init(struct httpsrv *s, uint8_t *body, size_t body_cap)
{
	s->stream_pick = NULL;
	s->stream_ctx = NULL;
	s->stream_max = 0;
	s->body = body;
	s->body_cap = body_cap;
	reset(s);
}

void httpsrv_next(struct httpsrv *s)
{
	if (s->state == HTTPSRV_READY)
		reset(s);
}

static const struct {
	unsigned status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 402, "Payment Required" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 409, "Conflict" },
	{ 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
};

const char *httpsrv_reason(unsigned status)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Status";
}
