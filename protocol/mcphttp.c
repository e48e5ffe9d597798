/* mcphttp.c - MCP Streamable HTTP header checks; see mcphttp.h. */
#include "protocol/mcphttp.h"

#include <string.h>
#include <strings.h>

#include "protocol/httphead.h"

/* The media range of one Accept item, and whether its q is zero. */
static int accept_item(const char *p, size_t n, const char **mr, size_t *mlen)
{
	const char *semi = memchr(p, ';', n);
	*mr = p;
	*mlen = semi ? (size_t)(semi - p) : n;
	httphead_trim(mr, mlen);
	if (!semi)
		return 1;
	const char *q = semi + 1, *end = p + n;
	while (q < end) {
		const char *next = memchr(q, ';', (size_t)(end - q));
		const char *pe = next ? next : end, *k = q;
		size_t kl = (size_t)(pe - q);
		httphead_trim(&k, &kl);
		if (kl >= 2 && (k[0] == 'q' || k[0] == 'Q') && k[1] == '=') {
			/* q=0, 0.0, 0.00, 0.000: refused */
			size_t i = 2;
			int zero = i < kl && k[i] == '0';
			for (i = 3; zero && i < kl; i++)
				if (!(i == 3 && k[i] == '.') && k[i] != '0')
					zero = 0;
			if (zero)
				return 0;
		}
		q = next ? next + 1 : end;
	}
	return 1;
}

unsigned mcphttp_accept(const char *v)
{
	if (!v)
		return MCPHTTP_ACCEPT_JSON | MCPHTTP_ACCEPT_SSE;
	static const struct {
		const char *range;
		unsigned flags;
	} ranges[] = {
		{ "application/json", MCPHTTP_ACCEPT_JSON },
		{ "application/*", MCPHTTP_ACCEPT_JSON },
		{ "text/event-stream", MCPHTTP_ACCEPT_SSE },
		{ "text/*", MCPHTTP_ACCEPT_SSE },
		{ "*/*", MCPHTTP_ACCEPT_JSON | MCPHTTP_ACCEPT_SSE },
	};
	unsigned out = 0;
	const char *p = v, *item;
	size_t n = strlen(v), ilen;
	while (httphead_list_next(&p, &n, &item, &ilen)) {
		const char *mr;
		size_t ml;
		if (!accept_item(item, ilen, &mr, &ml))
			continue;
		for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
			if (httphead_name_is(mr, ml, ranges[i].range))
				out |= ranges[i].flags;
	}
	return out;
}

int mcphttp_bearer(const char *v, const char **tok, size_t *len)
{
	if (!v || strncasecmp(v, "Bearer ", 7) != 0)
		return -1;
	const char *t = v + 7;
	while (*t == ' ')
		t++;
	size_t n = 0;
	/* token68: ALPHA DIGIT - . _ ~ + / then '=' padding */
	while (t[n] && (strchr("-._~+/", t[n]) || (t[n] >= '0' && t[n] <= '9') ||
			((t[n] | 0x20) >= 'a' && (t[n] | 0x20) <= 'z')))
		n++;
	while (t[n] == '=')
		n++;
	size_t m = n;
	while (t[m] == ' ' || t[m] == '\t')
		m++;
	if (n == 0 || t[m] != '\0')
		return -1;
	*tok = t;
	*len = n;
	return 0;
}

/* [p, p+n) is a decimal number 0..255 without a leading zero. */
static int octet(const char *p, size_t n)
{
	uint64_t v;
	return n >= 1 && n <= 3 && !(n > 1 && p[0] == '0') && httphead_dec(p, n, 255, &v) == 0;
}

/* [p, p+n) is a loopback host (no port). */
static int host_loopback(const char *p, size_t n)
{
	if (httphead_name_is(p, n, "localhost") || (n == 5 && !memcmp(p, "[::1]", 5)))
		return 1;
	if (n < 4 || memcmp(p, "127.", 4) != 0)
		return 0;
	unsigned parts = 0;
	const char *s = p, *end = p + n;
	while (s <= end) {
		const char *dot = memchr(s, '.', (size_t)(end - s));
		const char *e = dot ? dot : end;
		if (!octet(s, (size_t)(e - s)) || ++parts > 4)
			return 0;
		s = e + 1;
		if (!dot)
			break;
	}
	return parts == 4;
}

/* [p, p+n) is host[:port] with a loopback host. */
static int authority_loopback(const char *p, size_t n)
{
	size_t hl = n;
	const char *colon = NULL;
	if (n > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', n);
		if (!rb)
			return 0;
		hl = (size_t)(rb - p) + 1;
		if (hl < n)
			colon = p + hl;
	} else {
		colon = memchr(p, ':', n);
		if (colon)
			hl = (size_t)(colon - p);
	}
	if (colon) {
		uint64_t port;
		if (*colon != ':' || httphead_dec(colon + 1, (size_t)(p + n - colon - 1), 65535, &port))
			return 0;
	}
	return host_loopback(p, hl);
}

int mcphttp_host_loopback(const char *v)
{
	return v && authority_loopback(v, strlen(v));
}

int mcphttp_origin_loopback(const char *v)
{
	if (!v)
		return 0;
	size_t skip = !strncasecmp(v, "http://", 7) ? 7 : !strncasecmp(v, "https://", 8) ? 8 : 0;
	if (!skip)
		return 0;
	const char *a = v + skip;
	size_t n = strlen(a);
	if (n > 0 && a[n - 1] == '/')
		n--; /* some clients send a trailing slash */
	return memchr(a, '/', n) == NULL && memchr(a, '@', n) == NULL && authority_loopback(a, n);
}

int mcphttp_session_ok(const char *v)
{
	size_t n = 0;
	if (!v)
		return 0;
	for (; v[n]; n++)
		if ((unsigned char)v[n] < 0x21 || (unsigned char)v[n] > 0x7e || n >= MCPHTTP_SESSION_MAX)
			return 0;
	return n > 0;
}

int mcphttp_is_json(const char *v)
{
	if (!v)
		return 0;
	const char *semi = strchr(v, ';'), *p = v;
	size_t n = semi ? (size_t)(semi - v) : strlen(v);
	httphead_trim(&p, &n);
	return httphead_name_is(p, n, "application/json");
}
