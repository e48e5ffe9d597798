/* wsclient.c - RFC 6455 client side, pure; see wsclient.h. */
#include "protocol/wsclient.h"
#include "protocol/wsproto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void wsc_key(const uint8_t raw[16], char out[WSC_KEY_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16;
		if (i + 1 < 16)
			v |= (uint32_t)raw[i + 1] << 8;
		if (i + 2 < 16)
			v |= raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < 16 ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < 16 ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

/* RFC 7230 tchar: what a subprotocol name may hold. */
static int is_token(const char *s)
{
	if (!*s || strlen(s) >= WSC_PROTOCOL_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
			return 0;
	return 1;
}

/* Visible ASCII without spaces: fits a request line or a Host header. */
static int is_visible(const char *s, size_t max)
{
	if (!*s || strlen(s) >= max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

int wsc_request(char *out, size_t cap, const struct wsc_request *r)
{
	if (!is_visible(r->host, 512) || !is_visible(r->path, 1024) || r->path[0] != '/' ||
	    strlen(r->key) != WSC_KEY_LEN || r->nprotocols > WSC_PROTOCOLS_MAX)
		return -1;
	for (size_t i = 0; i < r->nprotocols; i++)
		if (!is_token(r->protocols[i]))
			return -1;
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n",
			 r->path, r->host, r->key);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	size_t o = (size_t)n;
	for (size_t i = 0; i < r->nprotocols; i++) {
		n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "Sec-WebSocket-Protocol: ",
			     r->protocols[i]);
		if (n < 0 || (size_t)n >= cap - o)
			return -1;
		o += (size_t)n;
	}
	n = snprintf(out + o, cap - o, "%s\r\n", r->nprotocols ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap - o)
		return -1;
	return (int)(o + (size_t)n);
}

/* Trim spaces and tabs off both ends of [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static int copy_field(char *out, size_t outlen, const char *p, size_t n)
{
	trim(&p, &n);
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* 1 when the comma-separated list [p, p+n) holds token (case-insensitive). */
static int list_has(const char *p, size_t n, const char *token)
{
	size_t tl = strlen(token);
	while (n) {
		const char *comma = memchr(p, ',', n);
		size_t item = comma ? (size_t)(comma - p) : n;
		const char *s = p;
		size_t sl = item;
		trim(&s, &sl);
		if (sl == tl && strncasecmp(s, token, tl) == 0)
			return 1;
		if (!comma)
			break;
		n -= item + 1;
		p = comma + 1;
	}
	return 0;
}

static int name_is(const char *name, size_t nl, const char *want)
{
	return nl == strlen(want) && strncasecmp(name, want, nl) == 0;
}

static int header(struct wsc_response *r, const char *name, size_t nl, const char *v, size_t vl)
{
	if (name_is(name, nl, "sec-websocket-accept"))
		return copy_field(r->accept, sizeof r->accept, v, vl);
	if (name_is(name, nl, "sec-websocket-protocol")) {
		r->nprotocol_lines++;
		return copy_field(r->protocol, sizeof r->protocol, v, vl);
	}
	if (name_is(name, nl, "sec-websocket-extensions"))
		r->extensions = 1;
	else if (name_is(name, nl, "upgrade"))
		r->upgrade_websocket |= list_has(v, vl, "websocket");
	else if (name_is(name, nl, "connection"))
		r->connection_upgrade |= list_has(v, vl, "upgrade");
	return 0;
}

/* "HTTP/1.1 101 Switching Protocols" (the reason may be empty). */
static int status_line(struct wsc_response *r, const char *p, size_t n)
{
	if (n < 12 || (memcmp(p, "HTTP/1.1 ", 9) != 0 && memcmp(p, "HTTP/1.0 ", 9) != 0))
		return -1;
	int st = 0;
	for (size_t i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		st = st * 10 + (p[i] - '0');
	}
	if (st < 100 || (n > 12 && p[12] != ' '))
		return -1;
	r->status = st;
	return 0;
}

int wsc_parse_response(const char *p, size_t n, struct wsc_response *r)
{
	size_t lim = n < WSC_HEAD_MAX ? n : WSC_HEAD_MAX;
	const char *end = NULL;
	for (size_t i = 0; i + 3 < lim; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
			end = p + i;
			break;
		}
	if (!end)
		return n >= WSC_HEAD_MAX ? -2 : 0;
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
		if (nlines == 0) {
			rc = status_line(r, line, ll);
		} else {
			const char *colon = memchr(line, ':', ll);
			if (!colon || colon == line)
				return -1;
			if (nlines > WSC_HEADERS_MAX)
				return -2;
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

enum wsc_verdict wsc_verify(const struct wsc_response *r, const struct wsc_request *req)
{
	char want[WSP_ACCEPT_LEN + 1];
	if (r->status != 101)
		return WSC_E_STATUS;
	if (!r->upgrade_websocket || !r->connection_upgrade)
		return WSC_E_UPGRADE;
	if (wsp_accept(req->key, want) < 0 || strcmp(want, r->accept) != 0)
		return WSC_E_ACCEPT;
	if (r->extensions)
		return WSC_E_EXTENSION;
	if (r->nprotocol_lines > 1)
		return WSC_E_PROTOCOL;
	if (r->protocol[0]) {
		size_t i;
		for (i = 0; i < req->nprotocols; i++)
			if (strcmp(req->protocols[i], r->protocol) == 0)
				break;
		if (i == req->nprotocols)
			return WSC_E_PROTOCOL;
	}
	return WSC_OK;
}

const char *wsc_verdict_str(enum wsc_verdict v)
{
	switch (v) {
	case WSC_OK:
		return "ok";
	case WSC_E_STATUS:
		return "the server refused the upgrade";
	case WSC_E_UPGRADE:
		return "the answer lacks Upgrade: websocket / Connection: upgrade";
	case WSC_E_ACCEPT:
		return "Sec-WebSocket-Accept does not match the key";
	case WSC_E_PROTOCOL:
		return "the server selected a subprotocol that was not offered";
	case WSC_E_EXTENSION:
		return "the server selected an extension that was not offered";
	}
	return "?";
}

int wsc_put_frame(struct buf *b, uint8_t opcode, const void *payload, size_t len,
		  const uint8_t mask[4])
{
	uint8_t hdr[WSC_FRAME_HDR_MAX];
	if (opcode >= WSC_CLOSE && len > 125)
		return -3;
	size_t hl = wsp_frame_header(hdr, opcode, len);
	hdr[1] |= 0x80;
	memcpy(hdr + hl, mask, 4);
	hl += 4;
	if (len > SIZE_MAX - hl)
		return BUF_E_FULL;
	uint8_t *w = buf_reserve(b, hl + len);
	if (!w)
		return BUF_E_FULL;
	memcpy(w, hdr, hl);
	const uint8_t *src = payload;
	for (size_t i = 0; i < len; i++)
		w[hl + i] = src[i] ^ mask[i & 3];
	buf_commit(b, hl + len);
	return BUF_OK;
}

long wsc_frame_take(const uint8_t *p, size_t n, size_t max, struct wsc_frame *f)
{
	if (n < 2)
		return 0;
	uint8_t b0 = p[0], b1 = p[1];
	if (b0 & 0x70 || b1 & 0x80)
		return -1; /* reserved bits (no extensions) or a masked server frame */
	uint8_t op = b0 & 0x0f;
	if (op != WSC_CONT && op != WSC_TEXT && op != WSC_BINARY && op != WSC_CLOSE &&
	    op != WSC_PING && op != WSC_PONG)
		return -1;
	uint64_t len = b1 & 0x7f;
	size_t hl = 2;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
		if (len < 126)
			return -1; /* not the minimal encoding */
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		hl = 10;
		if (len >> 63 || len <= 0xffff)
			return -1;
	}
	if (op >= WSC_CLOSE && (len > 125 || !(b0 & 0x80)))
		return -1;
	if (len > max || len > (uint64_t)LONG_MAX - hl)
		return -2;
	if (n - hl < len)
		return 0;
	f->fin = (b0 & 0x80) != 0;
	f->opcode = op;
	f->payload = p + hl;
	f->len = (size_t)len;
	return (long)(hl + len);
}

int wsc_close_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
		    size_t *rlen)
{
	*reason = p;
	*rlen = 0;
	if (n == 0) {
		*code = 1005;
		return 0;
	}
	if (n < 2)
		return -1;
	*code = (uint16_t)(p[0] << 8 | p[1]);
	if (*code < 1000 || *code > 4999)
		return -1;
	*reason = p + 2;
	*rlen = n - 2;
	return 0;
}
