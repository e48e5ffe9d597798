/* wsproto.c - RFC 6455 server side, pure; see wsproto.h. */
#include "protocol/wsproto.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WSP_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Copy [p, p+n) trimmed of spaces into out; -1 when it does not fit. */
static int copy_field(char *out, size_t outlen, const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* 1 when the comma-separated list holds token (case-insensitive). */
static int list_has(const char *p, size_t n, const char *token)
{
	size_t tl = strlen(token);
	while (n) {
		const char *comma = memchr(p, ',', n);
		size_t item = comma ? (size_t)(comma - p) : n;
		const char *s = p;
		size_t sl = item;
		while (sl && (*s == ' ' || *s == '\t')) {
			s++;
			sl--;
		}
		while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t'))
			sl--;
		if (sl == tl && strncasecmp(s, token, tl) == 0)
			return 1;
		if (!comma)
			break;
		n -= item + 1;
		p = comma + 1;
	}
	return 0;
}

static int append_protocols(struct wsp_request *r, const char *v, size_t n)
{
	size_t have = strlen(r->protocols);
	if (have + n + 2 > sizeof r->protocols)
		return -1;
	if (have)
		r->protocols[have++] = ',';
	memcpy(r->protocols + have, v, n);
	r->protocols[have + n] = '\0';
	return 0;
}

static int header(struct wsp_request *r, const char *name, size_t nl, const char *v, size_t vl)
{
	static const struct {
		const char *name;
		size_t off, size;
	} fields[] = {
		{ "host", offsetof(struct wsp_request, host), sizeof(((struct wsp_request *)0)->host) },
		{ "sec-websocket-key", offsetof(struct wsp_request, key),
		  sizeof(((struct wsp_request *)0)->key) },
		{ "x-aws-proxy-auth", offsetof(struct wsp_request, auth),
		  sizeof(((struct wsp_request *)0)->auth) },
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (nl == strlen(fields[i].name) && strncasecmp(name, fields[i].name, nl) == 0)
			return copy_field((char *)r + fields[i].off, fields[i].size, v, vl);
	if (nl == 22 && strncasecmp(name, "sec-websocket-protocol", nl) == 0)
		return append_protocols(r, v, vl);
	if (nl == 7 && strncasecmp(name, "upgrade", nl) == 0)
		r->upgrade_websocket |= list_has(v, vl, "websocket");
	else if (nl == 10 && strncasecmp(name, "connection", nl) == 0)
		r->connection_upgrade |= list_has(v, vl, "upgrade");
	else if (nl == 21 && strncasecmp(name, "sec-websocket-version", nl) == 0)
		r->version13 = list_has(v, vl, "13");
	return 0;
}

static int request_line(struct wsp_request *r, const char *p, size_t n)
{
	const char *sp1 = memchr(p, ' ', n);
	if (!sp1)
		return -1;
	const char *rest = sp1 + 1;
	size_t rn = n - (size_t)(rest - p);
	const char *sp2 = memchr(rest, ' ', rn);
	if (!sp2 || (size_t)(sp1 - p) >= sizeof r->method || (size_t)(sp2 - rest) >= sizeof r->path ||
	    sp2 == rest)
		return sp2 ? -2 : -1;
	size_t vl = n - (size_t)(sp2 + 1 - p);
	if (vl != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return -1;
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->method[sp1 - p] = '\0';
	memcpy(r->path, rest, (size_t)(sp2 - rest));
	r->path[sp2 - rest] = '\0';
	return 0;
}

int wsp_parse_request(const char *p, size_t n, struct wsp_request *r)
{
	size_t lim = n < WSP_HEAD_MAX ? n : WSP_HEAD_MAX;
	const char *end = NULL;
	for (size_t i = 0; i + 3 < lim; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
			end = p + i;
			break;
		}
	if (!end)
		return n >= WSP_HEAD_MAX ? -2 : 0;
	memset(r, 0, sizeof *r);
	const char *line = p;
	int nlines = 0;
	while (line <= end) {
		const char *eol = line;
		while (eol < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		size_t ll = (size_t)(eol - line);
		if (memchr(line, '\0', ll) || memchr(line, '\n', ll) || memchr(line, '\r', ll))
			return -1;
		int rc;
		if (nlines == 0)
			rc = request_line(r, line, ll);
		else {
			const char *colon = memchr(line, ':', ll);
			if (!colon || colon == line || nlines > WSP_HEADERS_MAX)
				return colon && colon != line ? -2 : -1;
			rc = header(r, line, (size_t)(colon - line), colon + 1,
				    ll - (size_t)(colon + 1 - line));
			if (rc < 0)
				rc = -2;
		}
		if (rc < 0)
			return rc;
		nlines++;
		line = eol + 2;
	}
	return (int)(end - p) + 4;
}

int wsp_is_upgrade(const struct wsp_request *r)
{
	return strcmp(r->method, "GET") == 0 && r->upgrade_websocket && r->connection_upgrade &&
	       r->version13 && r->key[0];
}

int wsp_accept(const char *key, char out[WSP_ACCEPT_LEN + 1])
{
	char buf[128];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(buf, sizeof buf, "%s%s", key, WSP_GUID);
	if (n < 0 || (size_t)n >= sizeof buf ||
	    !EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, md, 20) == WSP_ACCEPT_LEN ? 0 : -1;
}

int wsp_find_protocol(const char *list, const char *prefix, char *out, size_t outlen)
{
	size_t pl = strlen(prefix);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t item = strcspn(p, ",");
		size_t il = item;
		while (il && (p[il - 1] == ' ' || p[il - 1] == '\t'))
			il--;
		if (il > pl && strncmp(p, prefix, pl) == 0)
			return copy_field(out, outlen, p + pl, il - pl) < 0 ? -1 : 1;
		p += item;
	}
	return 0;
}

int wsp_offers_protocol(const char *list, const char *name)
{
	return list_has(list, strlen(list), name);
}

long wsp_frame_take(uint8_t *p, size_t n, size_t max, struct wsp_frame *f)
{
	if (n < 2)
		return 0;
	uint8_t b0 = p[0], b1 = p[1];
	if (b0 & 0x70 || !(b1 & 0x80))
		return -1; /* reserved bits (no extensions) or an unmasked client frame */
	uint8_t op = b0 & 0x0f;
	if (op != WSP_CONT && op != WSP_TEXT && op != WSP_BINARY && op != WSP_CLOSE &&
	    op != WSP_PING && op != WSP_PONG)
		return -1;
	uint64_t len = b1 & 0x7f;
	size_t hl = 2;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		hl = 10;
		if (len >> 63)
			return -1;
	}
	if (op >= WSP_CLOSE && (len > 125 || !(b0 & 0x80)))
		return -1;
	if (len > max)
		return -2;
	if (n < hl + 4 || n - hl - 4 < len)
		return 0;
	const uint8_t *mask = p + hl;
	uint8_t *pl = p + hl + 4;
	for (size_t i = 0; i < len; i++)
		pl[i] ^= mask[i & 3];
	f->fin = (b0 & 0x80) != 0;
	f->opcode = op;
	f->payload = pl;
	f->len = (size_t)len;
	return (long)(hl + 4 + len);
}

size_t wsp_frame_header(uint8_t *out, uint8_t opcode, size_t len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}
