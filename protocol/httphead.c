/* httphead.c - shared pieces of the HTTP head parsers, pure; see httphead.h. */
#include "protocol/httphead.h"

#include <string.h>
#include <strings.h>

int httphead_end(const char *p, size_t n, size_t max)
{
	size_t lim = n < max ? n : max;
	for (size_t i = 0; i < lim; i++) {
		if (p[i] == '\r' && i + 1 < lim && p[i + 1] != '\n')
			return HTTPHEAD_E_BAD; /* a bare CR */
		if (p[i] != '\n')
			continue;
		/* A bare LF now, not when the head times out: a head with bare LF
		 * line ends never shows the CRLF CRLF that would end it. */
		if (i == 0 || p[i - 1] != '\r')
			return HTTPHEAD_E_BAD;
		if (i >= 3 && p[i - 2] == '\n' && p[i - 3] == '\r')
			return (int)(i + 1);
	}
	return n >= max ? HTTPHEAD_E_TOOBIG : HTTPHEAD_MORE;
}

void httphead_lines_init(struct httphead_lines *it, const char *head, size_t len)
{
	it->pos = head;
	it->end = head + (len >= 2 ? len - 2 : 0);
}

int httphead_lines_next(struct httphead_lines *it, const char **line, size_t *len)
{
	const char *s = it->pos;
	if (s >= it->end)
		return 0;
	/* The first CR or LF must be the CRLF that ends the line. */
	for (const char *q = s; q < it->end; q++) {
		if (*q != '\r' && *q != '\n')
			continue;
		if (*q != '\r' || q + 1 >= it->end || q[1] != '\n')
			return HTTPHEAD_E_BAD;
		*line = s;
		*len = (size_t)(q - s);
		it->pos = q + 2;
		return 1;
	}
	return HTTPHEAD_E_BAD;
}

/* One line after the first (index nth, from 1): split at the colon. */
static int field_line(const struct httphead_parser *hp, void *ctx, const char *line, size_t ll,
		      int nth)
{
	const char *colon = memchr(line, ':', ll);
	if (!colon || colon == line)
		return HTTPHEAD_E_BAD;
	if (nth > hp->fields_max)
		return HTTPHEAD_E_TOOBIG;
	size_t nl = (size_t)(colon - line);
	return hp->field(ctx, line, nl, colon + 1, ll - nl - 1) < 0 ? HTTPHEAD_E_TOOBIG : 0;
}

int httphead_parse(const struct httphead_parser *hp, void *ctx, void *clear, size_t clear_len,
		   const char *p, size_t n)
{
	int len = httphead_end(p, n, hp->head_max);
	if (len <= 0)
		return len;
	if (clear)
		memset(clear, 0, clear_len);
	struct httphead_lines it;
	const char *line;
	size_t ll;
	int rc, nth = 0;
	httphead_lines_init(&it, p, (size_t)len);
	while ((rc = httphead_lines_next(&it, &line, &ll)) > 0) {
		if (memchr(line, '\0', ll))
			return HTTPHEAD_E_BAD;
		rc = nth == 0 ? hp->first_line(ctx, line, ll) : field_line(hp, ctx, line, ll, nth);
		if (rc < 0)
			return rc;
		nth++;
	}
	return rc < 0 ? rc : len;
}

void httphead_trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

int httphead_is_tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int httphead_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int httphead_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int httphead_name_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

int httphead_list_next(const char **p, size_t *n, const char **item, size_t *ilen)
{
	if (!*n)
		return 0;
	const char *comma = memchr(*p, ',', *n);
	size_t il = comma ? (size_t)(comma - *p) : *n;
	size_t used = comma ? il + 1 : il;
	*item = *p;
	*ilen = il;
	httphead_trim(item, ilen);
	*p += used;
	*n -= used;
	return 1;
}

int httphead_list_has(const char *p, size_t n, const char *token)
{
	const char *s;
	size_t sl;
	while (httphead_list_next(&p, &n, &s, &sl))
		if (httphead_name_is(s, sl, token))
			return 1;
	return 0;
}

int httphead_copy(char *out, size_t outlen, const char *p, size_t n)
{
	httphead_trim(&p, &n);
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}
