/* wsproto.c - RFC 6455 server side, pure; see wsproto.h. */
#include "protocol/wsproto.h"
#include "protocol/httphead.h"
#include "protocol/httpsrv.h"
#include "protocol/utf8.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define WSP_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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

static int header(void *ctx, const char *name, size_t nl, const char *v, size_t vl)
{
	struct wsp_request *r = ctx;
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
		if (httphead_name_is(name, nl, fields[i].name))
			return httphead_copy((char *)r + fields[i].off, fields[i].size, v, vl);
	if (httphead_name_is(name, nl, "sec-websocket-protocol"))
		return append_protocols(r, v, vl);
	if (httphead_name_is(name, nl, "upgrade"))
		r->upgrade_websocket |= httphead_list_has(v, vl, "websocket");
	else if (httphead_name_is(name, nl, "connection"))
		r->connection_upgrade |= httphead_list_has(v, vl, "upgrade");
	else if (httphead_name_is(name, nl, "sec-websocket-version"))
		r->version13 = httphead_list_has(v, vl, "13");
	return 0;
}

static int request_line(void *ctx, const char *p, size_t n)
{
	struct wsp_request *r = ctx;
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
	static const struct httphead_parser hp = { WSP_HEAD_MAX, WSP_HEADERS_MAX, request_line,
						   header };
	return httphead_parse(&hp, r, r, sizeof *r, p, n);
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
	size_t pl = strlen(prefix), n = strlen(list), il;
	const char *item;
	while (httphead_list_next(&list, &n, &item, &il))
		if (il > pl && strncmp(item, prefix, pl) == 0)
			return httphead_copy(out, outlen, item + pl, il - pl) < 0 ? -1 : 1;
	return 0;
}

int wsp_offers_protocol(const char *list, const char *name)
{
	return httphead_list_has(list, strlen(list), name);
}

int wsp_frame_head(const uint8_t *p, size_t n, int masked, struct wsp_head *h)
{
	if (n < 2)
		return 0;
	uint8_t b0 = p[0], b1 = p[1];
	if (b0 & 0x70 || !(b1 & 0x80) != !masked)
		return -1; /* reserved bits (no extensions) or the wrong mask bit */
	uint8_t op = b0 & 0x0f;
	if (op != WSP_CONT && op != WSP_TEXT && op != WSP_BINARY && op != WSP_CLOSE &&
	    op != WSP_PING && op != WSP_PONG)
		return -1;
	uint64_t l = b1 & 0x7f;
	int hl = 2;
	if (l == 126) {
		if (n < 4)
			return 0;
		l = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (l == 127) {
		if (n < 10)
			return 0;
		l = 0;
		for (int i = 0; i < 8; i++)
			l = l << 8 | p[2 + i];
		hl = 10;
		if (l >> 63)
			return -1;
	}
	if (op >= WSP_CLOSE && (l > 125 || !(b0 & 0x80)))
		return -1;
	h->fin = (b0 & 0x80) != 0;
	h->opcode = op;
	h->len = l;
	return hl;
}

long wsp_frame_take(uint8_t *p, size_t n, size_t max, struct wsp_frame *f)
{
	struct wsp_head h;
	int hl = wsp_frame_head(p, n, 1, &h);
	if (hl <= 0)
		return hl;
	if (h.len > max)
		return -2;
	if (n < (size_t)hl + 4 || n - (size_t)hl - 4 < h.len)
		return 0;
	const uint8_t *mask = p + hl;
	uint8_t *pl = p + hl + 4;
	for (size_t i = 0; i < h.len; i++)
		pl[i] ^= mask[i & 3];
	f->fin = h.fin;
	f->opcode = h.opcode;
	f->payload = pl;
	f->len = (size_t)h.len;
	return (long)((size_t)hl + 4 + h.len);
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

int wsp_close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

unsigned wsp_close_check(const uint8_t *p, size_t n, unsigned *code)
{
	if (n == 0) {
		*code = 1005;
		return 0;
	}
	if (n == 1)
		return WSP_CLOSE_PROTOCOL;
	*code = (unsigned)p[0] << 8 | p[1];
	if (!wsp_close_code_ok(*code))
		return WSP_CLOSE_PROTOCOL;
	return utf8_valid(p + 2, n - 2) ? 0 : WSP_CLOSE_BAD_DATA;
}

size_t wsp_close_payload(uint8_t out[WSP_CLOSE_PAYLOAD_MAX], unsigned code, const char *reason)
{
	size_t rl = utf8_prefix((const uint8_t *)reason, strlen(reason), WSP_CLOSE_PAYLOAD_MAX - 2);
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	memcpy(out + 2, reason, rl);
	return 2 + rl;
}

/* RFC 3986 pchar, less '%' (escapes are checked apart) and ';' (parameters). */
static int path_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~!$&'()*+,=:@/%", c));
}

/* The bytes are checked here (lws hands the ingress a target it has not
 * vetted); escapes and segments by the API's own checker, so the two
 * listeners refuse the same paths. */
const char *wsp_path_check(const char *target)
{
	char raw[WSP_PATH_MAX], out[WSP_PATH_MAX];
	size_t n = strcspn(target, "?");
	if (target[0] != '/')
		return "the request target must be a path";
	if (n >= sizeof raw)
		return "path too long";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)target[i];
		if (c == ';')
			return "parameters (';') in path";
		if (!path_char(c))
			return "bad byte in path";
	}
	memcpy(raw, target, n);
	raw[n] = '\0';
	const char *why = NULL;
	return httpsrv_path(raw, out, sizeof out, &why) < 0 ? why : NULL;
}
