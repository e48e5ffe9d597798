/*
 * httpresp.c - an HTTP/1.1 response as a REST client reads it, on the same
 * framing code the app proxy uses for the responses it relays
 * (httpreq_parse_response for the head, httpreq_body_take for the body), so
 * hearth has one response parser and one notion of where a response ends.
 * What this file adds: interim 1xx heads skipped, x-amzn-ErrorType picked
 * out, the body de-chunked into the caller's buffer, and the end of the
 * connection as the end of an unframed body.
 */
#include "protocol/httpresp.h"

#include <string.h>

#include "protocol/httphead.h"
#include "protocol/httpreq.h"

static enum httpresp_result fail(struct httpresp *out, const char *why)
{
	out->why = why;
	return HTTPRESP_ERROR;
}

/* x-amzn-ErrorType of the (complete, well-formed) head p[0..n), "" if absent. */
static void error_type(const char *p, size_t n, struct httpresp *out)
{
	struct httphead_lines it;
	const char *line;
	size_t ll;
	out->error_type[0] = '\0';
	httphead_lines_init(&it, p, n);
	if (httphead_lines_next(&it, &line, &ll) <= 0) /* the status line */
		return;
	while (httphead_lines_next(&it, &line, &ll) > 0) {
		const char *colon = memchr(line, ':', ll);
		if (!colon || !httphead_name_is(line, (size_t)(colon - line), "x-amzn-errortype"))
			continue;
		const char *v = colon + 1;
		size_t vl = ll - (size_t)(colon - line) - 1, k = 0;
		httphead_trim(&v, &vl);
		/* AWS may append ":http://..." details; keep the name only */
		while (k < vl && v[k] != ':' && k + 1 < sizeof out->error_type) {
			out->error_type[k] = v[k];
			k++;
		}
		out->error_type[k] = '\0';
		return;
	}
}

struct sink {
	uint8_t *buf;
	size_t cap, len;
};

static int sink_put(void *ctx, const uint8_t *p, size_t n)
{
	struct sink *s = ctx;
	if (n > s->cap - s->len)
		return -1;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

enum httpresp_result httpresp_parse(const uint8_t *in, size_t len, int eof, int head_only,
				    uint8_t *body, size_t body_cap, struct httpresp *out)
{
	struct httpreq_resp r;
	size_t pos = 0;
	memset(out, 0, sizeof *out);
	/* interim 1xx responses (not 101) precede the real one */
	for (;;) {
		int h = httpreq_parse_response((const char *)in + pos, len - pos, head_only, &r);
		if (h == HTTPREQ_MORE)
			return eof ? fail(out, "connection closed in the headers") : HTTPRESP_INCOMPLETE;
		if (h < 0)
			return fail(out, r.why ? r.why : httpreq_strerror(h));
		error_type((const char *)in + pos, (size_t)h, out);
		out->status = (int)r.status;
		pos += (size_t)h;
		if (r.status >= 200 || r.status == 101)
			break;
	}
	if (r.status == 101)
		r.framing = HTTPREQ_BODY_NONE; /* the connection now speaks another protocol */
	if (r.framing == HTTPREQ_BODY_LENGTH && r.length > body_cap)
		return fail(out, "body too large");
	struct httpreq_body b;
	struct sink s = { body, body_cap, 0 };
	httpreq_body_init(&b, r.framing, r.length);
	long used = 0;
	if (r.framing != HTTPREQ_BODY_NONE) {
		used = httpreq_body_take(&b, in + pos, len - pos, sink_put, &s);
		if (used < 0)
			return fail(out, s.len == s.cap ? "body too large" : "bad chunked body");
	}
	out->body_len = s.len;
	/* A chunk (or the digits of its size so far) that cannot fit is refused
	 * now, not once its bytes have arrived. */
	if (r.framing == HTTPREQ_BODY_CHUNKED && !b.done && b.left > s.cap - s.len)
		return fail(out, "body too large");
	if (r.framing == HTTPREQ_BODY_NONE || b.done) {
		out->consumed = pos + (size_t)used;
		return HTTPRESP_OK;
	}
	if (r.framing == HTTPREQ_BODY_CLOSE && eof) {
		out->consumed = len;
		return HTTPRESP_OK;
	}
	if (eof)
		return fail(out, r.framing == HTTPREQ_BODY_CHUNKED
					 ? "connection closed in a chunked body"
					 : "connection closed before content-length bytes");
	return HTTPRESP_INCOMPLETE;
}
