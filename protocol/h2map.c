/*
 * h2map.c - HTTP/2 <-> HTTP/1.1 message mapping; see h2map.h.
 */
#include "protocol/h2map.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Fields HTTP/2 has no use for on the other side (RFC 9113 8.2.2). */
static const char *const h2map_hop[] = {
	"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
};

static int is_hop(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof h2map_hop / sizeof h2map_hop[0]; i++)
		if (strlen(h2map_hop[i]) == n && !strncasecmp(name, h2map_hop[i], n))
			return 1;
	return 0;
}

/* A field name: RFC 9110 token characters. */
static int name_ok(const uint8_t *p, size_t n)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c && strchr(tchar, c))))
			return 0;
	}
	return 1;
}

/* A value: no CR, LF or NUL, no other control byte but tab. */
static int value_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return 0;
	return 1;
}

void h2map_init(struct h2map *m)
{
	memset(m, 0, sizeof *m);
}

static int set_pseudo(char *dst, size_t cap, const uint8_t *v, size_t n)
{
	if (dst[0])
		return H2MAP_E_BAD; /* repeated */
	if (n >= cap)
		return H2MAP_E_TOOBIG;
	if (!n)
		return H2MAP_E_BAD;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return H2MAP_OK;
}

static int add(struct h2map *m, const uint8_t *name, size_t nlen, const uint8_t *value,
	       size_t vlen)
{
	if (!value_ok(value, vlen))
		return H2MAP_E_BAD;
	if (nlen && name[0] == ':') {
		if (m->nfields)
			return H2MAP_E_BAD; /* pseudo fields come first */
		if (nlen == 7 && !memcmp(name, ":method", 7)) {
			for (size_t i = 0; i < vlen; i++)
				if (!name_ok(value + i, 1))
					return H2MAP_E_BAD;
			return set_pseudo(m->method, sizeof m->method, value, vlen);
		}
		if (nlen == 5 && !memcmp(name, ":path", 5)) {
			for (size_t i = 0; i < vlen; i++)
				if (value[i] <= ' ' || value[i] >= 0x7f)
					return H2MAP_E_BAD;
			return set_pseudo(m->path, sizeof m->path, value, vlen);
		}
		if (nlen == 10 && !memcmp(name, ":authority", 10)) {
			for (size_t i = 0; i < vlen; i++)
				if (value[i] <= ' ' || value[i] >= 0x7f)
					return H2MAP_E_BAD;
			return set_pseudo(m->authority, sizeof m->authority, value, vlen);
		}
		if (nlen == 7 && !memcmp(name, ":scheme", 7))
			return H2MAP_OK;
		return H2MAP_E_BAD; /* :protocol (RFC 8441) and unknown ones */
	}
	if (!name_ok(name, nlen))
		return H2MAP_E_BAD;
	if (is_hop((const char *)name, nlen))
		return H2MAP_E_BAD; /* RFC 9113 8.2.2: malformed */
	if (nlen == 4 && !strncasecmp((const char *)name, "host", 4)) {
		if (m->authority[0])
			return H2MAP_OK; /* :authority wins (RFC 9113 8.3.1) */
		return set_pseudo(m->authority, sizeof m->authority, value, vlen);
	}
	if (nlen == 14 && !strncasecmp((const char *)name, "content-length", 14))
		m->has_length = 1;
	if (m->flen + nlen + vlen + 4 > sizeof m->fields)
		return H2MAP_E_TOOBIG;
	char *o = m->fields + m->flen;
	memcpy(o, name, nlen);
	o += nlen;
	*o++ = ':';
	*o++ = ' ';
	memcpy(o, value, vlen);
	o += vlen;
	*o++ = '\r';
	*o++ = '\n';
	m->flen = (size_t)(o - m->fields);
	m->nfields++;
	return H2MAP_OK;
}

int h2map_add(struct h2map *m, const uint8_t *name, size_t nlen, const uint8_t *value,
	      size_t vlen)
{
	if (m->err)
		return m->err;
	int rc = add(m, name, nlen, value, vlen);
	if (rc)
		m->err = rc;
	return rc;
}

int h2map_head(const struct h2map *m, int has_body, char *out, size_t cap)
{
	if (m->err)
		return m->err;
	if (!m->method[0] || !m->path[0] || !m->authority[0] || !strcmp(m->method, "CONNECT"))
		return H2MAP_E_BAD;
	const char *te = has_body && !m->has_length ? "Transfer-Encoding: chunked\r\n" : "";
	int n = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", m->method, m->path,
			 m->authority);
	if (n < 0 || (size_t)n + m->flen + strlen(te) + 2 >= cap)
		return H2MAP_E_TOOBIG;
	memcpy(out + n, m->fields, m->flen);
	n += (int)m->flen;
	memcpy(out + n, te, strlen(te));
	n += (int)strlen(te);
	memcpy(out + n, "\r\n", 3);
	return n + 2;
}

int h2map_response_fields(const char *p, size_t n, char *buf, size_t cap,
			  struct h2map_field *f, size_t fmax)
{
	size_t i = 0, used = 0;
	int count = 0;
	while (i + 1 < n && !(p[i] == '\r' && p[i + 1] == '\n'))
		i++; /* the status line */
	i += 2;
	while (i + 1 < n && !(p[i] == '\r' && p[i + 1] == '\n')) {
		size_t e = i;
		while (e + 1 < n && !(p[e] == '\r' && p[e + 1] == '\n'))
			e++;
		if (e + 1 >= n)
			return H2MAP_E_BAD;
		const char *colon = memchr(p + i, ':', e - i);
		if (!colon || colon == p + i)
			return H2MAP_E_BAD;
		size_t nl = (size_t)(colon - (p + i));
		const char *v = colon + 1, *ve = p + e;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!name_ok((const uint8_t *)p + i, nl) ||
		    !value_ok((const uint8_t *)v, (size_t)(ve - v)))
			return H2MAP_E_BAD;
		if (!is_hop(p + i, nl)) {
			if ((size_t)count >= fmax || used + nl > cap)
				return H2MAP_E_TOOBIG;
			for (size_t k = 0; k < nl; k++) {
				char c = p[i + k];
				buf[used + k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
			}
			f[count].name = buf + used;
			f[count].nlen = nl;
			f[count].value = v;
			f[count].vlen = (size_t)(ve - v);
			used += nl;
			count++;
		}
		i = e + 2;
	}
	return count;
}

int h2map_wants_h2(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	static const char force[] = "x-aws-proxy-force-h2", ct[] = "content-type",
			  grpc[] = "application/grpc";
	if (nlen == sizeof force - 1 && !strncasecmp((const char *)name, force, nlen))
		return vlen == 4 && !strncasecmp((const char *)value, "true", 4);
	if (nlen != sizeof ct - 1 || strncasecmp((const char *)name, ct, nlen))
		return 0;
	size_t g = sizeof grpc - 1;
	if (vlen < g || strncasecmp((const char *)value, grpc, g))
		return 0;
	return vlen == g || value[g] == '+' || value[g] == ';';
}
