/* fuzz_httphead.c - the shared head pieces from arbitrary bytes: a head ends
 * at its first CRLF CRLF inside the input and the limit, or is refused at a
 * bare CR or LF before that and only then, its lines put back
 * together with CRLFs give the head again, fields and list items stay inside
 * what they were cut from and come out trimmed, copies stay in their buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/httphead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *in_lo, *in_hi; /* the input, for the callbacks' checks */

static void inside(const char *s, size_t n)
{
	if (s < in_lo || s > in_hi || n > (size_t)(in_hi - s))
		abort();
}

static void trimmed(const char *s, size_t n)
{
	if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		abort();
}

/* The first bare CR or LF within lim bytes, before any blank line: 1 if any. */
static int bare_crlf(const char *p, size_t lim)
{
	for (size_t i = 0; i < lim; i++) {
		if (i >= 3 && !memcmp(p + i - 3, "\r\n\r\n", 4))
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 1;
		if (p[i] == '\r' && i + 1 < lim && p[i + 1] != '\n')
			return 1;
	}
	return 0;
}

static int on_first(void *ctx, const char *line, size_t len)
{
	inside(line, len);
	return len && line[0] == '!' ? HTTPHEAD_E_BAD : 0;
}

static int on_field(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
	inside(name, nl);
	inside(value, vl);
	if (nl == 0 || memchr(name, ':', nl) || value != name + nl + 1 ||
	    memchr(value, '\0', vl) || memchr(value, '\r', vl) || memchr(value, '\n', vl))
		abort();
	(*(int *)ctx)++;
	char out[16];
	if (httphead_copy(out, sizeof out, value, vl) == 0 && strlen(out) >= sizeof out)
		abort();
	const char *p = value, *item;
	size_t n = vl, il, items = 0;
	while (httphead_list_next(&p, &n, &item, &il)) {
		inside(item, il);
		trimmed(item, il);
		if (memchr(item, ',', il) || ++items > vl + 1)
			abort();
	}
	return vl > 200 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t max = 512;
	in_lo = p;
	in_hi = p + size;
	int end = httphead_end(p, size, max);
	if (end > 0) {
		if ((size_t)end > size || (size_t)end > max || memcmp(p + end - 4, "\r\n\r\n", 4) != 0)
			abort();
		for (int i = 0; i + 4 < end; i++)
			if (memcmp(p + i, "\r\n\r\n", 4) == 0)
				abort(); /* not the first blank line */
		/* The lines, each followed by CRLF, then the blank line, are the head. */
		struct httphead_lines it;
		const char *line, *at = p;
		size_t ll;
		int rc;
		httphead_lines_init(&it, p, (size_t)end);
		while ((rc = httphead_lines_next(&it, &line, &ll)) > 0) {
			if (line != at || memchr(line, '\r', ll) || memchr(line, '\n', ll))
				abort();
			inside(line, ll + 2);
			at = line + ll + 2;
		}
		if (rc < 0 || at != p + end - 2)
			abort(); /* a complete head has only CRLF line ends */
	} else if ((end == HTTPHEAD_E_BAD) != bare_crlf(p, size < max ? size : max)) {
		abort();
	} else if (end != HTTPHEAD_E_BAD && end != HTTPHEAD_MORE && end != HTTPHEAD_E_TOOBIG) {
		abort();
	} else if (end != HTTPHEAD_E_BAD && (end == HTTPHEAD_E_TOOBIG) != (size >= max)) {
		abort();
	}
	static const struct httphead_parser hp = { 512, 8, on_first, on_field };
	int fields = 0;
	int n = httphead_parse(&hp, &fields, NULL, 0, p, size);
	if ((n > 0 && n != end) || n < HTTPHEAD_E_TOOBIG || fields > 8)
		abort();
	/* The whole input as one list. */
	const char *lp = p, *item;
	size_t ln = size, il;
	while (httphead_list_next(&lp, &ln, &item, &il)) {
		inside(item, il);
		trimmed(item, il);
	}
	(void)httphead_list_has(p, size, "upgrade");
	return 0;
}
