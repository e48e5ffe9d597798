/* wsclient.c - RFC 6455 client side, pure; see wsclient.h. */
#include "protocol/wsclient.h"
#include "protocol/httphead.h"
#include "protocol/wsproto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

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
		if (!httphead_is_tchar(*p))
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

static int header(void *ctx, const char *name, size_t nl, const char *v, size_t vl)
{
	struct wsc_response *r = ctx;
	if (httphead_name_is(name, nl, "sec-websocket-accept"))
		return httphead_copy(r->accept, sizeof r->accept, v, vl);
	if (httphead_name_is(name, nl, "sec-websocket-protocol")) {
		r->nprotocol_lines++;
		return httphead_copy(r->protocol, sizeof r->protocol, v, vl);
	}
	if (httphead_name_is(name, nl, "sec-websocket-extensions"))
		r->extensions = 1;
	else if (httphead_name_is(name, nl, "upgrade"))
		r->upgrade_websocket |= httphead_list_has(v, vl, "websocket");
	else if (httphead_name_is(name, nl, "connection"))
		r->connection_upgrade |= httphead_list_has(v, vl, "upgrade");
	return 0;
}

/* "HTTP/1.1 101 Switching Protocols" (the reason may be empty). */
static int status_line(void *ctx, const char *p, size_t n)
{
	struct wsc_response *r = ctx;
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
	static const struct httphead_parser hp = { WSC_HEAD_MAX, WSC_HEADERS_MAX, status_line,
						   header };
	return httphead_parse(&hp, r, r, sizeof *r, p, n);
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
	struct wsp_head h;
	int hl = wsp_frame_head(p, n, 0, &h);
	if (hl <= 0)
		return hl;
	if ((hl == 4 && h.len < 126) || (hl == 10 && h.len <= 0xffff))
		return -1; /* not the minimal encoding */
	if (h.len > max || h.len > (uint64_t)LONG_MAX - (uint64_t)hl)
		return -2;
	if (n - (size_t)hl < h.len)
		return 0;
	f->fin = h.fin;
	f->opcode = h.opcode;
	f->payload = p + hl;
	f->len = (size_t)h.len;
	return (long)((size_t)hl + h.len);
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
