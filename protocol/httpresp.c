/*
 * httpresp.c - HTTP/1.1 response parser (RFC 9112 subset a REST client needs).
 * Every length is checked against the input before it is read; numbers are
 * bounded before they can overflow.
 */
#include "protocol/httpresp.h"

#include <string.h>

#define LINE_MAX_CHUNK 1024  /* a chunk-size line with extensions */

/* One line in in[*pos..len): sets [*s, *e) without the line ending. */
static enum httpresp_result take_line(const uint8_t *in, size_t len, size_t *pos, size_t limit,
				      const uint8_t **s, size_t *n)
{
	size_t avail = len - *pos;
	if (avail == 0)
		return HTTPRESP_INCOMPLETE;
	const uint8_t *start = in + *pos;
	const uint8_t *nl = memchr(start, '\n', avail < limit ? avail : limit);
	if (!nl)
		return avail >= limit ? HTTPRESP_ERROR : HTTPRESP_INCOMPLETE;
	size_t l = (size_t)(nl - start);
	*pos += l + 1;
	if (l > 0 && start[l - 1] == '\r')
		l--;
	*s = start;
	*n = l;
	return HTTPRESP_OK;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int name_is(const uint8_t *s, size_t n, const char *want)
{
	size_t wl = strlen(want);
	if (n != wl)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != want[i])
			return 0;
	return 1;
}

static int is_tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does a Transfer-Encoding list end in "chunked"? */
static int ends_chunked(const uint8_t *v, size_t n)
{
	size_t end = n;
	while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
		end--;
	size_t start = end;
	while (start > 0 && v[start - 1] != ',' && v[start - 1] != ' ' && v[start - 1] != '\t')
		start--;
	return name_is(v + start, end - start, "chunked");
}

struct head {
	int has_length, chunked, other_te;
	uint64_t length;
};

static enum httpresp_result fail(struct httpresp *out, const char *why)
{
	out->why = why;
	return HTTPRESP_ERROR;
}

static enum httpresp_result parse_status(const uint8_t *s, size_t n, struct httpresp *out)
{
	/* "HTTP/1.x SSS" then nothing or " reason" */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
		return fail(out, "bad status line");
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(out, "bad status code");
		st = st * 10 + (s[i] - '0');
	}
	if (st < 100 || (n > 12 && s[12] != ' '))
		return fail(out, "bad status code");
	out->status = st;
	return HTTPRESP_OK;
}

static enum httpresp_result parse_header(const uint8_t *s, size_t n, struct head *h,
					 struct httpresp *out)
{
	const uint8_t *colon = memchr(s, ':', n);
	if (!colon || colon == s)
		return fail(out, "bad header line");
	size_t nl = (size_t)(colon - s);
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar(s[i]))
			return fail(out, "bad header name");
	const uint8_t *v = colon + 1;
	size_t vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	for (size_t i = 0; i < vl; i++)
		if (v[i] == 0 || v[i] == '\r')
			return fail(out, "bad header value");

	if (name_is(s, nl, "content-length")) {
		if (vl == 0 || vl > 18)
			return fail(out, "bad content-length");
		uint64_t x = 0;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(out, "bad content-length");
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		if (h->has_length && h->length != x)
			return fail(out, "conflicting content-length");
		h->has_length = 1;
		h->length = x;
	} else if (name_is(s, nl, "transfer-encoding")) {
		if (ends_chunked(v, vl))
			h->chunked = 1;
		else
			h->other_te = 1;
	} else if (name_is(s, nl, "x-amzn-errortype")) {
		/* AWS may append ":http://..." details; keep the name only */
		size_t k = 0;
		while (k < vl && v[k] != ':' && k + 1 < sizeof(out->error_type)) {
			out->error_type[k] = (char)v[k];
			k++;
		}
		out->error_type[k] = 0;
	}
	return HTTPRESP_OK;
}

/* Status line and headers from in[*pos..); on OK *pos is at the body. */
static enum httpresp_result parse_head(const uint8_t *in, size_t len, size_t *pos, struct head *h,
				       struct httpresp *out)
{
	size_t start = *pos;
	const uint8_t *s;
	size_t n;
	enum httpresp_result r = take_line(in, len, pos, HTTPRESP_MAX_HEAD, &s, &n);
	if (r != HTTPRESP_OK)
		return r == HTTPRESP_ERROR ? fail(out, "status line too long") : r;
	if ((r = parse_status(s, n, out)) != HTTPRESP_OK)
		return r;
	for (int count = 0;; count++) {
		size_t left = HTTPRESP_MAX_HEAD - (*pos - start);
		if (*pos - start >= HTTPRESP_MAX_HEAD)
			return fail(out, "headers too long");
		r = take_line(in, len, pos, left, &s, &n);
		if (r != HTTPRESP_OK)
			return r == HTTPRESP_ERROR ? fail(out, "headers too long") : r;
		if (n == 0)
			return HTTPRESP_OK;
		if (count >= HTTPRESP_MAX_HEADERS)
			return fail(out, "too many headers");
		if (s[0] == ' ' || s[0] == '\t')
			return fail(out, "folded header");
		if ((r = parse_header(s, n, h, out)) != HTTPRESP_OK)
			return r;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static enum httpresp_result parse_chunked(const uint8_t *in, size_t len, size_t *pos,
					  uint8_t *body, size_t cap, struct httpresp *out)
{
	const uint8_t *s;
	size_t n;
	enum httpresp_result r;
	for (;;) {
		if ((r = take_line(in, len, pos, LINE_MAX_CHUNK, &s, &n)) != HTTPRESP_OK)
			return r == HTTPRESP_ERROR ? fail(out, "chunk size line too long") : r;
		uint64_t size = 0;
		size_t i = 0;
		for (; i < n && hexval(s[i]) >= 0; i++) {
			if (i >= 15)
				return fail(out, "chunk too large");
			size = size * 16 + (uint64_t)hexval(s[i]);
		}
		if (i == 0)
			return fail(out, "bad chunk size");
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < n && s[i] != ';')
			return fail(out, "bad chunk size");
		if (size == 0)
			break;
		if (size > cap - out->body_len)
			return fail(out, "body too large");
		if (len - *pos < size)
			return HTTPRESP_INCOMPLETE;
		memcpy(body + out->body_len, in + *pos, (size_t)size);
		out->body_len += (size_t)size;
		*pos += (size_t)size;
		if (len - *pos < 1)
			return HTTPRESP_INCOMPLETE;
		if (in[*pos] == '\r') {
			if (len - *pos < 2)
				return HTTPRESP_INCOMPLETE;
			if (in[*pos + 1] != '\n')
				return fail(out, "bad chunk end");
			*pos += 2;
		} else if (in[*pos] == '\n') {
			*pos += 1;
		} else {
			return fail(out, "bad chunk end");
		}
	}
	/* trailer fields, then an empty line */
	for (size_t total = 0;;) {
		size_t before = *pos;
		if ((r = take_line(in, len, pos, HTTPRESP_MAX_HEAD, &s, &n)) != HTTPRESP_OK)
			return r == HTTPRESP_ERROR ? fail(out, "trailer too long") : r;
		if (n == 0)
			return HTTPRESP_OK;
		total += *pos - before;
		if (total > HTTPRESP_MAX_HEAD)
			return fail(out, "trailer too long");
	}
}

enum httpresp_result httpresp_parse(const uint8_t *in, size_t len, int eof, int head_only,
				    uint8_t *body, size_t body_cap, struct httpresp *out)
{
	size_t pos = 0;
	enum httpresp_result r;
	struct head h;
	memset(out, 0, sizeof(*out));
	/* interim 1xx responses (not 101) precede the real one */
	for (;;) {
		memset(&h, 0, sizeof(h));
		out->error_type[0] = 0;
		r = parse_head(in, len, &pos, &h, out);
		if (r == HTTPRESP_INCOMPLETE && eof)
			return fail(out, "connection closed in the headers");
		if (r != HTTPRESP_OK)
			return r;
		if (out->status >= 200 || out->status == 101)
			break;
	}
	if (head_only || out->status == 204 || out->status == 304 || out->status == 101) {
		out->consumed = pos;
		return HTTPRESP_OK;
	}
	if (h.chunked) {
		r = parse_chunked(in, len, &pos, body, body_cap, out);
		if (r == HTTPRESP_INCOMPLETE && eof)
			return fail(out, "connection closed in a chunked body");
	} else if (h.has_length && !h.other_te) {
		if (h.length > body_cap)
			return fail(out, "body too large");
		if (len - pos < h.length) {
			if (eof)
				return fail(out, "connection closed before content-length bytes");
			return HTTPRESP_INCOMPLETE;
		}
		if (h.length > 0)
			memcpy(body, in + pos, (size_t)h.length);
		out->body_len = (size_t)h.length;
		pos += (size_t)h.length;
		r = HTTPRESP_OK;
	} else {
		/* no framing: the body runs to the end of the connection */
		if (!eof)
			return HTTPRESP_INCOMPLETE;
		if (len - pos > body_cap)
			return fail(out, "body too large");
		if (len > pos)
			memcpy(body, in + pos, len - pos);
		out->body_len = len - pos;
		pos = len;
		r = HTTPRESP_OK;
	}
	if (r == HTTPRESP_OK)
		out->consumed = pos;
	return r;
}
