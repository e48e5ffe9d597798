/*
 * httpreq.c - HTTP/1.1 request heads, response heads and body framing for
 * the app proxy; see httpreq.h. Every length is checked before a byte is
 * read or written; numbers are bounded before they can overflow.
 */
#include "protocol/httpreq.h"
#include "protocol/httphead.h"

#include <string.h>
#include <strings.h>

#define PROTO_PREFIX "lambda-microvms"
#define PORT_PROTO "lambda-microvms.port."
#define AWS_PREFIX "x-aws-proxy-"

/* A byte that may not appear in a field value or chunk extension. */
static int is_ctl(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int is_ws(int c)
{
	return c == ' ' || c == '\t';
}

/* Decimal 1..max digits, no sign or spaces; -1 when not. */
/*
 * Find the end of a head: returns its length (through the blank line), 0 when
 * incomplete, -1 on a bare LF, -2 when no end within max. *skip gets the
 * count of empty lines before the first line (RFC 9112 2.2 lets a server
 * ignore them: some clients send CRLF after a body). Stricter than
 * httphead_end (the WebSocket parsers' end): a bare LF is refused as soon as
 * it is seen, before the head is complete.
 */
static int head_end(const char *p, size_t n, size_t max, size_t *skip)
{
	size_t i = 0, line = 0;
	*skip = 0;
	while (i + 1 < n && i + 1 < max && p[i] == '\r' && p[i + 1] == '\n' && i < 8)
		i += 2;
	*skip = i;
	line = i;
	for (; i < n && i < max; i++) {
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] != '\r')
			return -1;
		if (i - line == 1)
			return i == *skip + 1 ? -1 : (int)(i + 1);
		line = i + 1;
	}
	return n >= max ? -2 : 0;
}

struct out {
	char *p;
	size_t cap, len;
	int over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

struct req_state {
	int hosts, cl, te, port_seen, conn_close, conn_keep, conn_upgrade, has_upgrade;
};

static int request_line(struct httpreq *r, const char *s, size_t n)
{
	const char *sp1 = memchr(s, ' ', n);
	if (!sp1 || sp1 == s)
		return HTTPREQ_E_BAD;
	size_t ml = (size_t)(sp1 - s);
	if (ml >= sizeof r->method)
		return HTTPREQ_E_BAD;
	for (size_t i = 0; i < ml; i++)
		if (!httphead_is_tchar((unsigned char)s[i]))
			return HTTPREQ_E_BAD;
	const char *t = sp1 + 1;
	const char *sp2 = memchr(t, ' ', n - ml - 1);
	if (!sp2 || sp2 == t)
		return HTTPREQ_E_BAD;
	size_t tl = (size_t)(sp2 - t);
	for (size_t i = 0; i < tl; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f)
			return HTTPREQ_E_BAD;
	}
	memcpy(r->method, s, ml);
	r->method[ml] = '\0';
	/* Origin form only: a proxy request or CONNECT is not for an application. */
	if (!strcmp(r->method, "CONNECT"))
		return r->why = "CONNECT is not served", HTTPREQ_E_BAD;
	if (t[0] != '/' && !(tl == 1 && t[0] == '*' && !strcmp(r->method, "OPTIONS")))
		return r->why = "the request target must be a path", HTTPREQ_E_BAD;
	size_t vl = n - (size_t)(sp2 + 1 - s);
	if (vl != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return r->why = "only HTTP/1.0 and HTTP/1.1 are served", HTTPREQ_E_BAD;
	r->http10 = sp2[8] == '0';
	return 0;
}

static int is_ours(const char *s, size_t n)
{
	size_t pl = strlen(PROTO_PREFIX);
	return n >= pl && strncasecmp(s, PROTO_PREFIX, pl) == 0;
}

/*
 * Sec-WebSocket-Protocol without the lambda-microvms* entries. A line without
 * one is copied as it is; else the kept entries are joined with ",", so the
 * line only shrinks (each dropped entry is longer than the ": " added).
 */
static void protocols(struct httpreq *r, struct out *o, const char *line, size_t ll, size_t nl,
		      const char *v, size_t vl)
{
	int kept = 0, ours = 0;
	for (int pass = 0; pass < 2; pass++) {
		const char *p = v, *s;
		size_t n = vl, sl;
		while (httphead_list_next(&p, &n, &s, &sl)) {
			if (pass == 0 && is_ours(s, sl)) {
				uint64_t port;
				size_t pl = strlen(PORT_PROTO);
				ours = 1;
				if (!r->ws_port && sl > pl && strncasecmp(s, PORT_PROTO, pl) == 0 &&
				    httphead_dec(s + pl, sl - pl, 65535, &port) == 0 && port > 0)
					r->ws_port = (unsigned)port;
			} else if (pass == 1 && sl && !is_ours(s, sl)) {
				if (!kept) {
					put(o, line, nl);
					put(o, ": ", 2);
				} else
					put(o, ",", 1);
				put(o, s, sl);
				kept = 1;
			}
		}
		if (pass == 0 && !ours) {
			put(o, line, ll);
			put(o, "\r\n", 2);
			return;
		}
	}
	if (kept)
		put(o, "\r\n", 2);
}

static int request_header(struct httpreq *r, struct req_state *st, struct out *o, const char *line,
			  size_t ll, size_t nl)
{
	const char *v = line + nl + 1;
	size_t vl = ll - nl - 1;
	uint64_t num;
	httphead_trim(&v, &vl);
	if (httphead_name_is(line, nl, "x-aws-proxy-port")) {
		if (st->port_seen++ || httphead_dec(v, vl, 65535, &num) < 0 || num == 0)
			return r->why = "X-aws-proxy-port must be one port 1..65535",
			       HTTPREQ_E_PORT;
		r->port = (unsigned)num;
		return 0;
	}
	if (nl >= strlen(AWS_PREFIX) && strncasecmp(line, AWS_PREFIX, strlen(AWS_PREFIX)) == 0)
		return 0; /* the proxy's own headers never reach the application */
	if (httphead_name_is(line, nl, "sec-websocket-protocol")) {
		protocols(r, o, line, ll, nl, v, vl);
		return 0;
	}
	if (httphead_name_is(line, nl, "host"))
		st->hosts++;
	else if (httphead_name_is(line, nl, "content-length")) {
		if (st->cl++ || httphead_dec(v, vl, HTTPREQ_LENGTH_MAX, &num) < 0)
			return r->why = "bad or repeated Content-Length", HTTPREQ_E_FRAMING;
		r->length = num;
	} else if (httphead_name_is(line, nl, "transfer-encoding")) {
		if (st->te++)
			return r->why = "repeated Transfer-Encoding", HTTPREQ_E_FRAMING;
		if (!httphead_name_is(v, vl, "chunked"))
			return r->why = "only the chunked transfer coding is served",
			       HTTPREQ_E_CODING;
	} else if (httphead_name_is(line, nl, "connection")) {
		st->conn_close |= httphead_list_has(v, vl, "close");
		st->conn_keep |= httphead_list_has(v, vl, "keep-alive");
		st->conn_upgrade |= httphead_list_has(v, vl, "upgrade");
	} else if (httphead_name_is(line, nl, "upgrade")) {
		st->has_upgrade = 1;
		r->websocket |= httphead_list_has(v, vl, "websocket");
	}
	put(o, line, ll);
	put(o, "\r\n", 2);
	return 0;
}

/* One header line: name, colon, value without control bytes. Returns the name length. */
static int header_line(const char *line, size_t ll)
{
	size_t nl = 0;
	while (nl < ll && httphead_is_tchar((unsigned char)line[nl]))
		nl++;
	if (nl == 0 || nl == ll || line[nl] != ':')
		return -1; /* no name, space before the colon, or obsolete line folding */
	for (size_t i = nl + 1; i < ll; i++)
		if (is_ctl((unsigned char)line[i]))
			return -1;
	return (int)nl;
}

int httpreq_parse(const char *p, size_t n, struct httpreq *r, char *out, size_t out_cap)
{
	size_t skip;
	memset(r, 0, sizeof *r);
	int end = head_end(p, n, HTTPREQ_HEAD_MAX, &skip);
	if (end <= 0) {
		r->why = end == -2 ? "request head too large" : end < 0 ? "bad line end" : NULL;
		return end == -2 ? HTTPREQ_E_TOOBIG : end < 0 ? HTTPREQ_E_BAD : HTTPREQ_MORE;
	}
	struct out o = { out, out_cap, 0, 0 };
	struct req_state st;
	memset(&st, 0, sizeof st);
	struct httphead_lines it;
	const char *line;
	size_t ll;
	int lines = 0, rc;
	httphead_lines_init(&it, p + skip, (size_t)end - skip);
	while ((rc = httphead_lines_next(&it, &line, &ll)) > 0) {
		if (lines == 0) {
			if ((rc = request_line(r, line, ll)) < 0) {
				if (!r->why)
					r->why = "bad request line";
				return rc;
			}
			put(&o, line, ll + 2);
		} else {
			if (lines > HTTPREQ_HEADERS_MAX)
				return r->why = "too many header lines", HTTPREQ_E_TOOBIG;
			int nl = header_line(line, ll);
			if (nl < 0)
				return r->why = "bad header line", HTTPREQ_E_BAD;
			if ((rc = request_header(r, &st, &o, line, ll, (size_t)nl)) < 0)
				return rc;
		}
		lines++;
	}
	if (rc < 0)
		return r->why = "bare CR", HTTPREQ_E_BAD;
	put(&o, "\r\n", 2);
	if (o.over)
		return r->why = "rewritten head does not fit", HTTPREQ_E_TOOBIG;
	if (st.hosts > 1 || (st.hosts == 0 && !r->http10))
		return r->why = "exactly one Host header is required", HTTPREQ_E_BAD;
	if (st.te && (st.cl || r->http10))
		return r->why = "Transfer-Encoding with Content-Length or HTTP/1.0",
		       HTTPREQ_E_FRAMING;
	r->framing = st.te ? HTTPREQ_BODY_CHUNKED
			   : st.cl && r->length ? HTTPREQ_BODY_LENGTH : HTTPREQ_BODY_NONE;
	r->keep_alive = r->http10 ? st.conn_keep && !st.conn_close : !st.conn_close;
	r->upgrade = st.has_upgrade && st.conn_upgrade;
	r->websocket = r->upgrade && r->websocket;
	r->out_len = o.len;
	return end;
}

const char *httpreq_strerror(int err)
{
	switch (err) {
	case HTTPREQ_E_TOOBIG:
		return "request head or header over its limit";
	case HTTPREQ_E_PORT:
		return "X-aws-proxy-port must be one port 1..65535";
	case HTTPREQ_E_FRAMING:
		return "ambiguous or bad request body framing";
	case HTTPREQ_E_CODING:
		return "only the chunked transfer coding is served";
	default:
		return "malformed request";
	}
}

unsigned httpreq_status(int err)
{
	switch (err) {
	case HTTPREQ_E_TOOBIG:
		return 431;
	case HTTPREQ_E_CODING:
		return 501;
	default:
		return 400;
	}
}

/* ---- responses ---- */

static int status_line(struct httpreq_resp *r, const char *s, size_t n, int *http10)
{
	/* "HTTP/1.x SSS" then nothing or " reason" */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (n > 12 && s[12] != ' ')
		return -1;
	for (size_t i = 12; i < n; i++)
		if (is_ctl((unsigned char)s[i]))
			return -1;
	r->status = (unsigned)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
	*http10 = s[7] == '0';
	return r->status >= 100 ? 0 : -1;
}

/* Does a Transfer-Encoding list end in "chunked"? */
static int ends_chunked(const char *v, size_t n)
{
	const char *comma = NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i] == ',')
			comma = v + i;
	const char *s = comma ? comma + 1 : v;
	size_t sl = n - (size_t)(s - v);
	httphead_trim(&s, &sl);
	return httphead_name_is(s, sl, "chunked");
}

int httpreq_parse_response(const char *p, size_t n, int head_request, struct httpreq_resp *r)
{
	size_t skip;
	int http10 = 0, cl = 0, te = 0, chunked = 0, conn_close = 0, conn_keep = 0;
	memset(r, 0, sizeof *r);
	int end = head_end(p, n, HTTPREQ_RESP_HEAD_MAX, &skip);
	if (end <= 0 || skip) {
		r->why = end == -2 ? "response head too large" : end == 0 ? NULL : "bad line end";
		return end == -2 ? HTTPREQ_E_TOOBIG : end == 0 ? HTTPREQ_MORE : HTTPREQ_E_BAD;
	}
	struct httphead_lines it;
	const char *line;
	size_t ll;
	int lines = 0, rc;
	httphead_lines_init(&it, p, (size_t)end);
	while ((rc = httphead_lines_next(&it, &line, &ll)) > 0) {
		if (lines == 0) {
			if (status_line(r, line, ll, &http10) < 0)
				return r->why = "bad status line", HTTPREQ_E_BAD;
		} else {
			int nl = header_line(line, ll);
			if (lines > HTTPREQ_RESP_HEADERS_MAX)
				return r->why = "too many header lines", HTTPREQ_E_TOOBIG;
			if (nl < 0)
				return r->why = "bad header line", HTTPREQ_E_BAD;
			const char *v = line + nl + 1;
			size_t vl = ll - (size_t)nl - 1;
			uint64_t num;
			httphead_trim(&v, &vl);
			if (httphead_name_is(line, (size_t)nl, "content-length")) {
				if (httphead_dec(v, vl, HTTPREQ_LENGTH_MAX, &num) < 0 ||
				    (cl && num != r->length))
					return r->why = "bad Content-Length", HTTPREQ_E_FRAMING;
				cl = 1;
				r->length = num;
			} else if (httphead_name_is(line, (size_t)nl, "transfer-encoding")) {
				te = 1;
				/* the last line's last coding counts */
				chunked = ends_chunked(v, vl);
			} else if (httphead_name_is(line, (size_t)nl, "connection")) {
				conn_close |= httphead_list_has(v, vl, "close");
				conn_keep |= httphead_list_has(v, vl, "keep-alive");
			}
		}
		lines++;
	}
	if (rc < 0)
		return r->why = "bare CR", HTTPREQ_E_BAD;
	r->close = http10 ? !conn_keep || conn_close : conn_close;
	if (r->status < 200 || r->status == 204 || r->status == 304 || head_request)
		r->framing = HTTPREQ_BODY_NONE;
	else if (te)
		r->framing = chunked && !http10 ? HTTPREQ_BODY_CHUNKED : HTTPREQ_BODY_CLOSE;
	else if (cl)
		r->framing = r->length ? HTTPREQ_BODY_LENGTH : HTTPREQ_BODY_NONE;
	else
		r->framing = HTTPREQ_BODY_CLOSE;
	if (r->framing == HTTPREQ_BODY_CLOSE)
		r->close = 1;
	return end;
}

/* ---- bodies ---- */

enum {
	B_SIZE,    /* chunk-size hex digits */
	B_SIZE_WS, /* after the digits: spaces, ';' or CR */
	B_EXT,     /* a chunk extension, up to CR */
	B_SIZE_LF,
	B_DATA,
	B_DATA_CR,
	B_DATA_LF,
	B_TRAILER, /* start of a trailer line, or the final CRLF */
	B_TLINE,
	B_TLINE_LF,
	B_END_LF,
};

void httpreq_body_init(struct httpreq_body *b, enum httpreq_framing f, uint64_t length)
{
	memset(b, 0, sizeof *b);
	b->framing = f;
	b->left = length;
	b->state = B_SIZE;
	b->done = f == HTTPREQ_BODY_NONE || (f == HTTPREQ_BODY_LENGTH && length == 0);
}

/*
 * The states that take one given byte of a line end, and the state after it.
 * An LF ends a line, so the line's counters start again.
 */
static const struct {
	char want;
	unsigned char next;
} line_ends[] = {
	[B_SIZE_LF] = { '\n', B_DATA }, /* B_TRAILER after the last (empty) chunk */
	[B_DATA_CR] = { '\r', B_DATA_LF },
	[B_DATA_LF] = { '\n', B_SIZE },
	[B_TLINE_LF] = { '\n', B_TRAILER },
	[B_END_LF] = { '\n', B_END_LF }, /* the body's last byte */
};

/*
 * The states that take any bytes but controls up to a CR (a chunk extension,
 * a trailer line), and the state the CR leads to; 0 for the other states.
 */
static const unsigned char text_to_cr[] = {
	[B_EXT] = B_SIZE_LF,
	[B_TLINE] = B_TLINE_LF,
};

static int line_end(struct httpreq_body *b, int c)
{
	if (c != line_ends[b->state].want)
		return -1;
	if (c == '\n')
		b->line = b->digits = 0;
	b->done = b->state == B_END_LF;
	b->state = b->state == B_SIZE_LF && !b->left ? B_TRAILER : line_ends[b->state].next;
	return 0;
}

/* One byte of chunked framing outside chunk data; -1 when malformed. */
static int chunk_byte(struct httpreq_body *b, int c)
{
	int h;
	if (b->state < sizeof line_ends / sizeof line_ends[0] && line_ends[b->state].want)
		return line_end(b, c);
	if (b->state < sizeof text_to_cr && text_to_cr[b->state]) {
		if (c == '\r')
			b->state = text_to_cr[b->state];
		else if (is_ctl(c))
			return -1;
		return 0;
	}
	switch (b->state) {
	case B_SIZE:
		if ((h = httphead_hexval(c)) >= 0) {
			if (++b->digits > 16 || b->left > (HTTPREQ_LENGTH_MAX >> 4))
				return -1;
			b->left = b->left * 16 + (uint64_t)h;
			return 0;
		}
		if (!b->digits)
			return -1;
		b->state = B_SIZE_WS;
		/* fall through */
	case B_SIZE_WS:
		if (is_ws(c))
			return 0;
		if (c == ';') {
			b->state = B_EXT;
			return 0;
		}
		if (c == '\r') {
			b->state = B_SIZE_LF;
			return 0;
		}
		return -1;
	case B_TRAILER:
		if (c == '\r') {
			b->state = B_END_LF;
			return 0;
		}
		if (is_ws(c) || is_ctl(c) || c == ':')
			return -1; /* obsolete folding, or a line without a name */
		b->state = B_TLINE;
		return 0;
	default:
		return -1;
	}
}

long httpreq_body_feed(struct httpreq_body *b, const uint8_t *p, size_t n)
{
	return httpreq_body_take(b, p, n, NULL, NULL);
}

long httpreq_body_take(struct httpreq_body *b, const uint8_t *p, size_t n,
		       httpreq_body_sink sink, void *ctx)
{
	size_t i = 0;
	if (b->done)
		return 0;
	switch (b->framing) {
	case HTTPREQ_BODY_CLOSE:
		if (sink && n && sink(ctx, p, n) < 0)
			return -1;
		return (long)n;
	case HTTPREQ_BODY_LENGTH:
		i = b->left < n ? (size_t)b->left : n;
		if (sink && i && sink(ctx, p, i) < 0)
			return -1;
		b->left -= i;
		b->done = b->left == 0;
		return (long)i;
	case HTTPREQ_BODY_CHUNKED:
		break;
	default:
		return 0;
	}
	while (i < n && !b->done) {
		if (b->state == B_DATA) {
			size_t take = b->left < n - i ? (size_t)b->left : n - i;
			if (sink && take && sink(ctx, p + i, take) < 0)
				return -1;
			b->left -= take;
			i += take;
			if (!b->left)
				b->state = B_DATA_CR;
			continue;
		}
		if (b->state == B_TRAILER || b->state == B_TLINE || b->state == B_TLINE_LF ||
		    b->state == B_END_LF) {
			if (++b->trailer > HTTPREQ_TRAILER_MAX)
				return -1;
		} else if (++b->line > HTTPREQ_CHUNK_LINE_MAX)
			return -1;
		if (chunk_byte(b, p[i]) < 0)
			return -1;
		i++;
	}
	return (long)i;
}
