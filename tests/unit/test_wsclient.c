/* test_wsclient.c - the client side of RFC 6455 (protocol/wsclient.c): upgrade
 * requests, the server's answer, masked frames out, server frames in. */
#include "protocol/wsclient.h"
#include "protocol/wsproto.h"
#include "test.h"

#include <stdlib.h>

static const uint8_t rfc_nonce[16] = "the sample nonce"; /* RFC 6455 section 1.3 */

TEST(key)
{
	char k[WSC_KEY_LEN + 1];
	wsc_key(rfc_nonce, k);
	CHECK_STR(k, "dGhlIHNhbXBsZSBub25jZQ==");
}

static struct wsc_request req(const char *key)
{
	struct wsc_request r = { .host = "mvm-1.localhost:7443", .path = "/", .key = key };
	r.protocols[0] = "lambda-microvms";
	r.protocols[1] = "lambda-microvms.authentication.hth1.AAAA.BBBB";
	r.protocols[2] = "hearth.v1";
	r.nprotocols = 3;
	return r;
}

TEST(request_round_trips_through_the_server_parser)
{
	static struct wsp_request srv;
	static char long_proto[300];
	char out[2048], tok[512];
	struct wsc_request r = req("dGhlIHNhbXBsZSBub25jZQ==");
	int n = wsc_request(out, sizeof out, &r);
	CHECK(n > 0);
	CHECK_EQ((size_t)n, strlen(out));
	CHECK_EQ(wsp_parse_request(out, (size_t)n, &srv), n);
	CHECK(wsp_is_upgrade(&srv));
	CHECK_STR(srv.path, "/");
	CHECK_STR(srv.host, "mvm-1.localhost:7443");
	CHECK(wsp_offers_protocol(srv.protocols, "lambda-microvms"));
	CHECK(wsp_offers_protocol(srv.protocols, "hearth.v1"));
	CHECK_EQ(wsp_find_protocol(srv.protocols, "lambda-microvms.authentication.", tok, sizeof tok),
		 1);
	CHECK_STR(tok, "hth1.AAAA.BBBB");
	/* A list far over 128 bytes (a real shell token is ~200) stays whole. */
	memset(long_proto, 'x', sizeof long_proto - 1);
	memcpy(long_proto, "lambda-microvms.authentication.", 31);
	r.protocols[1] = long_proto;
	n = wsc_request(out, sizeof out, &r);
	CHECK(n > 0);
	CHECK_EQ(wsp_parse_request(out, (size_t)n, &srv), n);
	CHECK_EQ(wsp_find_protocol(srv.protocols, "lambda-microvms.authentication.", tok, sizeof tok),
		 1);
	CHECK_EQ(strlen(tok), sizeof long_proto - 1 - 31);
	/* No protocols: no header. */
	r.nprotocols = 0;
	n = wsc_request(out, sizeof out, &r);
	CHECK(n > 0 && !strstr(out, "Protocol"));
	/* Too small an output buffer. */
	r = req("dGhlIHNhbXBsZSBub25jZQ==");
	CHECK_EQ(wsc_request(out, 100, &r), -1);
}

TEST(request_refuses_fields_that_would_break_the_head)
{
	char out[2048];
	static const char *const bad_protos[] = { "a,b", "a b", "a\r\nX: y", "", "a\"b" };
	for (size_t i = 0; i < sizeof bad_protos / sizeof bad_protos[0]; i++) {
		struct wsc_request r = req("dGhlIHNhbXBsZSBub25jZQ==");
		r.protocols[1] = bad_protos[i];
		CHECK_EQ(wsc_request(out, sizeof out, &r), -1);
	}
	struct wsc_request r = req("dGhlIHNhbXBsZSBub25jZQ==");
	r.host = "a b";
	CHECK_EQ(wsc_request(out, sizeof out, &r), -1);
	r = req("dGhlIHNhbXBsZSBub25jZQ==");
	r.path = "shell";
	CHECK_EQ(wsc_request(out, sizeof out, &r), -1);
	r = req("short");
	CHECK_EQ(wsc_request(out, sizeof out, &r), -1);
	r = req("dGhlIHNhbXBsZSBub25jZQ==");
	r.nprotocols = WSC_PROTOCOLS_MAX + 1;
	CHECK_EQ(wsc_request(out, sizeof out, &r), -1);
}

static const char ok101[] = "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: WebSocket\r\n"
			    "Connection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			    "Sec-WebSocket-Protocol:  hearth.v1 \r\n"
			    "\r\n";

TEST(answer_101)
{
	static struct wsc_response a;
	struct wsc_request r = req("dGhlIHNhbXBsZSBub25jZQ==");
	char more[sizeof ok101 + 8];
	CHECK_EQ(wsc_parse_response(ok101, strlen(ok101), &a), (int)strlen(ok101));
	CHECK_EQ(a.status, 101);
	CHECK_STR(a.protocol, "hearth.v1");
	CHECK_EQ(wsc_verify(&a, &r), WSC_OK);
	/* Frames right behind the head are not consumed. */
	snprintf(more, sizeof more, "%s\x81\x01x", ok101);
	CHECK_EQ(wsc_parse_response(more, strlen(more), &a), (int)strlen(ok101));
	/* Incomplete heads ask for more. */
	for (size_t i = 0; i < strlen(ok101); i++)
		CHECK_EQ(wsc_parse_response(ok101, i, &a), 0);
	/* Another key: the accept does not match. */
	r.key = "AAAAAAAAAAAAAAAAAAAAAA==";
	CHECK_EQ(wsc_parse_response(ok101, strlen(ok101), &a), (int)strlen(ok101));
	CHECK_EQ(wsc_verify(&a, &r), WSC_E_ACCEPT);
	/* A protocol we did not offer. */
	r = req("dGhlIHNhbXBsZSBub25jZQ==");
	r.nprotocols = 1;
	CHECK_EQ(wsc_verify(&a, &r), WSC_E_PROTOCOL);
	/* No protocol selected is the caller's business. */
	a.protocol[0] = '\0';
	CHECK_EQ(wsc_verify(&a, &r), WSC_OK);
	CHECK(strlen(wsc_verdict_str(WSC_E_PROTOCOL)) > 0);
}

TEST(answer_checks)
{
	static struct wsc_response a;
	struct wsc_request r = req("dGhlIHNhbXBsZSBub25jZQ==");
	static const struct {
		const char *head;
		enum wsc_verdict want;
	} cases[] = {
		{ "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  WSC_E_UPGRADE },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  WSC_E_UPGRADE },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		  WSC_E_ACCEPT },
		{ "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: keep-alive, upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Protocol: hearth.v1\r\nSec-WebSocket-Protocol: hearth.v1\r\n\r\n",
		  WSC_E_PROTOCOL },
		{ "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Protocol: lambda-microvms, hearth.v1\r\n\r\n",
		  WSC_E_PROTOCOL },
		{ "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		  WSC_E_EXTENSION },
		{ "HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  WSC_OK },
		{ "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n", WSC_E_STATUS },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = wsc_parse_response(cases[i].head, strlen(cases[i].head), &a);
		CHECK_EQ(n, (int)strlen(cases[i].head));
		CHECK_EQ(wsc_verify(&a, &r), cases[i].want);
	}
	CHECK_EQ(a.status, 403);
}

TEST(malformed_answers)
{
	static struct wsc_response a;
	static const char *const bad[] = {
		"HTTP/1.1\r\n\r\n",
		"HTTP/2 101 x\r\n\r\n",
		"HTTP/1.1 1x1 x\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 1010 x\r\n\r\n",
		"HTTP/1.1 101 x\r\nno colon\r\n\r\n",
		"HTTP/1.1 101 x\r\n: empty\r\n\r\n",
		"HTTP/1.1 101 x\r\nA: b\rc\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(wsc_parse_response(bad[i], strlen(bad[i]), &a), -1);
	static char big[WSC_HEAD_MAX + 16];
	memset(big, 'a', sizeof big);
	CHECK_EQ(wsc_parse_response(big, sizeof big, &a), -2);
	char longacc[300];
	snprintf(longacc, sizeof longacc, "HTTP/1.1 101 x\r\nSec-WebSocket-Accept: %0100d\r\n\r\n", 0);
	CHECK_EQ(wsc_parse_response(longacc, strlen(longacc), &a), -2);
	static char many[WSC_HEADERS_MAX * 8 + 64];
	size_t o = (size_t)snprintf(many, sizeof many, "HTTP/1.1 101 x\r\n");
	for (int i = 0; i <= WSC_HEADERS_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof many - o, "A: b\r\n");
	snprintf(many + o, sizeof many - o, "\r\n");
	CHECK_EQ(wsc_parse_response(many, strlen(many), &a), -2);
}

/* What a server sees of our frames: wsproto's parser unmasks them. */
TEST(masked_frames_reach_the_server_parser)
{
	static const uint8_t mask[4] = { 0xde, 0xad, 0xbe, 0xef };
	static uint8_t big[70000];
	struct buf b;
	struct wsp_frame f;
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	buf_init(&b, 1 << 20);
	CHECK_EQ(wsc_put_frame(&b, WSC_TEXT, "{\"type\":\"detach\"}", 17, mask), BUF_OK);
	CHECK_EQ(wsc_put_frame(&b, WSC_BINARY, big, 300, mask), BUF_OK);
	CHECK_EQ(wsc_put_frame(&b, WSC_BINARY, big, sizeof big, mask), BUF_OK);
	CHECK_EQ(wsc_put_frame(&b, WSC_PONG, NULL, 0, mask), BUF_OK);
	CHECK_EQ(wsc_put_frame(&b, WSC_PING, big, 126, mask), -3);
	/* The payload on the wire is masked. */
	CHECK(memcmp(buf_ptr(&b) + 6, "{\"type\"", 7) != 0);
	uint8_t *p = b.data + b.off;
	size_t n = buf_used(&b);
	long m = wsp_frame_take(p, n, sizeof big, &f);
	CHECK_EQ(m, 2 + 4 + 17);
	CHECK(f.fin && f.opcode == WSP_TEXT && f.len == 17);
	CHECK_MEM(f.payload, "{\"type\":\"detach\"}", 17);
	p += m, n -= (size_t)m;
	m = wsp_frame_take(p, n, sizeof big, &f);
	CHECK_EQ(m, 4 + 4 + 300);
	CHECK(f.opcode == WSP_BINARY && f.len == 300);
	CHECK_MEM(f.payload, big, 300);
	p += m, n -= (size_t)m;
	m = wsp_frame_take(p, n, sizeof big, &f);
	CHECK_EQ(m, 10 + 4 + (long)sizeof big);
	CHECK_MEM(f.payload, big, sizeof big);
	p += m, n -= (size_t)m;
	m = wsp_frame_take(p, n, sizeof big, &f);
	CHECK(m == 6 && f.opcode == WSP_PONG && f.len == 0);
	CHECK_EQ(n, (size_t)m);
	buf_free(&b);
	/* The bound holds, all or nothing. */
	buf_init(&b, 64);
	CHECK_EQ(wsc_put_frame(&b, WSC_BINARY, big, 100, mask), BUF_E_FULL);
	CHECK_EQ(buf_used(&b), 0u);
	buf_free(&b);
}

static size_t server_frame(uint8_t *out, uint8_t b0, const void *p, size_t n)
{
	size_t hl = wsp_frame_header(out, b0 & 0x0f, n);
	out[0] = b0;
	memcpy(out + hl, p, n);
	return hl + n;
}

TEST(server_frames)
{
	static uint8_t w[70000 + 16], big[70000];
	struct wsc_frame f;
	size_t n = server_frame(w, 0x81, "{\"type\":\"hello\"}", 16);
	CHECK_EQ(wsc_frame_take(w, n, 4096, &f), (long)n);
	CHECK(f.fin && f.opcode == WSC_TEXT && f.len == 16);
	CHECK_MEM(f.payload, "{\"type\":\"hello\"}", 16);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(wsc_frame_take(w, i, 4096, &f), 0);
	n = server_frame(w, 0x82, big, sizeof big);
	CHECK_EQ(wsc_frame_take(w, n, sizeof big, &f), (long)n);
	CHECK_EQ(f.len, sizeof big);
	CHECK_EQ(wsc_frame_take(w, n, 4096, &f), -2);
	CHECK_EQ(wsc_frame_take(w, 10, 4096, &f), -2); /* known too long from the header */
	n = server_frame(w, 0x02, "ab", 2);              /* a first fragment */
	CHECK(wsc_frame_take(w, n, 4096, &f) > 0 && !f.fin);
	n = server_frame(w, 0x80, "cd", 2);              /* its continuation */
	CHECK(wsc_frame_take(w, n, 4096, &f) > 0 && f.fin && f.opcode == WSC_CONT);
	/* Protocol breaks. */
	static const uint8_t masked[] = { 0x81, 0x81, 1, 2, 3, 4, 'x' };
	CHECK_EQ(wsc_frame_take(masked, sizeof masked, 4096, &f), -1);
	static const uint8_t rsv[] = { 0xc1, 0x00 };
	CHECK_EQ(wsc_frame_take(rsv, sizeof rsv, 4096, &f), -1);
	static const uint8_t badop[] = { 0x83, 0x00 };
	CHECK_EQ(wsc_frame_take(badop, sizeof badop, 4096, &f), -1);
	static const uint8_t fragping[] = { 0x09, 0x00 };
	CHECK_EQ(wsc_frame_take(fragping, sizeof fragping, 4096, &f), -1);
	static const uint8_t longping[] = { 0x89, 126, 0, 126 };
	CHECK_EQ(wsc_frame_take(longping, sizeof longping, 4096, &f), -1);
	static const uint8_t nonminimal[] = { 0x82, 126, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	CHECK_EQ(wsc_frame_take(nonminimal, sizeof nonminimal, 4096, &f), -1);
	static const uint8_t huge[] = { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	CHECK_EQ(wsc_frame_take(huge, sizeof huge, 4096, &f), -1);
}

TEST(close_payload)
{
	uint16_t code;
	const uint8_t *reason;
	size_t rlen;
	static const uint8_t bye[] = { 0x03, 0xe8, 's', 'h', 'e', 'l', 'l', ' ', 'e', 'x', 'i', 't',
				       'e', 'd' };
	CHECK_EQ(wsc_close_parse(bye, sizeof bye, &code, &reason, &rlen), 0);
	CHECK_EQ(code, 1000);
	CHECK(rlen == 12 && memcmp(reason, "shell exited", 12) == 0);
	CHECK_EQ(wsc_close_parse(bye, 0, &code, &reason, &rlen), 0);
	CHECK(code == 1005 && rlen == 0);
	CHECK_EQ(wsc_close_parse(bye, 1, &code, &reason, &rlen), -1);
	static const uint8_t low[] = { 0x00, 0x10 };
	CHECK_EQ(wsc_close_parse(low, 2, &code, &reason, &rlen), -1);
}

TEST_MAIN(T(key), T(request_round_trips_through_the_server_parser),
	  T(request_refuses_fields_that_would_break_the_head), T(answer_101), T(answer_checks),
	  T(malformed_answers), T(masked_frames_reach_the_server_parser), T(server_frames),
	  T(close_payload))
