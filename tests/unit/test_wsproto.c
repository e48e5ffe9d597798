/* test_wsproto.c - upgrade request heads, accept keys and frames (protocol/wsproto.c) */
#include "protocol/wsproto.h"
#include "test.h"

static const char upgrade[] =
	"GET /shell HTTP/1.1\r\n"
	"Host: mvm-abc.localhost:7443\r\n"
	"Upgrade: websocket\r\n"
	"Connection: keep-alive, Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"Sec-WebSocket-Protocol: lambda-microvms, lambda-microvms.authentication.hth1.AAA.BBB\r\n"
	"X-aws-proxy-auth:  tok  \r\n"
	"\r\n";

TEST(request)
{
	static struct wsp_request r;
	int n = wsp_parse_request(upgrade, strlen(upgrade), &r);
	CHECK_EQ(n, (int)strlen(upgrade));
	CHECK_STR(r.method, "GET");
	CHECK_STR(r.path, "/shell");
	CHECK_STR(r.host, "mvm-abc.localhost:7443");
	CHECK_STR(r.auth, "tok");
	CHECK(wsp_is_upgrade(&r));
	char tok[64];
	CHECK_EQ(wsp_find_protocol(r.protocols, "lambda-microvms.authentication.", tok, sizeof tok), 1);
	CHECK_STR(tok, "hth1.AAA.BBB");
	CHECK_EQ(wsp_find_protocol(r.protocols, "lambda-microvms.authentication.", tok, 5), -1);
	CHECK_EQ(wsp_find_protocol(r.protocols, "nope.", tok, sizeof tok), 0);
	CHECK(wsp_offers_protocol(r.protocols, "lambda-microvms"));
	CHECK(!wsp_offers_protocol(r.protocols, "lambda"));
	/* Incomplete heads ask for more; a body after the head is not consumed. */
	CHECK_EQ(wsp_parse_request(upgrade, strlen(upgrade) - 1, &r), 0);
	char more[sizeof upgrade + 8];
	snprintf(more, sizeof more, "%sXYZ", upgrade);
	CHECK_EQ(wsp_parse_request(more, strlen(more), &r), (int)strlen(upgrade));
	/* Two protocol lines are joined. */
	const char *two = "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: a\r\n"
			  "Sec-WebSocket-Protocol: b.c\r\n\r\n";
	CHECK(wsp_parse_request(two, strlen(two), &r) > 0);
	CHECK(wsp_offers_protocol(r.protocols, "a") && wsp_offers_protocol(r.protocols, "b.c"));
	CHECK(!wsp_is_upgrade(&r));
}

TEST(bad_requests)
{
	static struct wsp_request r;
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET / HTTP/2\r\n\r\n",
		"GET / HTTP/1.1\r\nno colon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(wsp_parse_request(bad[i], strlen(bad[i]), &r), -1);
	/* Bare LF line ends are refused with the first one, not waited out. */
	static const char *const lf[] = { "GET / HTTP/1.1\n", "GET / HTTP/1.1\r\nHost: x\n" };
	for (size_t i = 0; i < sizeof lf / sizeof lf[0]; i++)
		CHECK_EQ(wsp_parse_request(lf[i], strlen(lf[i]), &r), -1);
	static char big[WSP_HEAD_MAX + 16];
	memset(big, 'a', sizeof big);
	CHECK_EQ(wsp_parse_request(big, sizeof big, &r), -2);
	char longhost[600];
	snprintf(longhost, sizeof longhost, "GET / HTTP/1.1\r\nHost: %0400d\r\n\r\n", 0);
	CHECK_EQ(wsp_parse_request(longhost, strlen(longhost), &r), -2);
}

TEST(accept_key)
{
	char out[WSP_ACCEPT_LEN + 1];
	CHECK_EQ(wsp_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0); /* RFC 6455 section 1.3 */
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static size_t client_frame(uint8_t *out, uint8_t b0, const char *p, size_t n)
{
	static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t hl = wsp_frame_header(out, b0 & 0x0f, n);
	out[0] = b0;
	out[1] |= 0x80;
	memcpy(out + hl, mask, 4);
	for (size_t i = 0; i < n; i++)
		out[hl + 4 + i] = (uint8_t)(p[i] ^ mask[i & 3]);
	return hl + 4 + n;
}

TEST(frames)
{
	static uint8_t b[70000];
	static char big[66000];
	struct wsp_frame f;
	size_t n = client_frame(b, 0x81, "hello", 5);
	CHECK_EQ(wsp_frame_take(b, n - 1, 100, &f), 0);
	CHECK_EQ(wsp_frame_take(b, n, 100, &f), (long)n);
	CHECK(f.fin && f.opcode == WSP_TEXT && f.len == 5 && memcmp(f.payload, "hello", 5) == 0);
	memset(big, 'x', sizeof big);
	n = client_frame(b, 0x02, big, 300); /* 16-bit length, not final */
	CHECK_EQ(wsp_frame_take(b, n, 1000, &f), (long)n);
	CHECK(!f.fin && f.opcode == WSP_BINARY && f.len == 300 && f.payload[299] == 'x');
	n = client_frame(b, 0x82, big, 65600); /* 64-bit length */
	CHECK_EQ(wsp_frame_take(b, n, 65600, &f), (long)n);
	CHECK_EQ(wsp_frame_take(b, n, 65599, &f), -2);
	n = client_frame(b, 0x81, "x", 1);
	b[1] &= 0x7f; /* unmasked */
	CHECK_EQ(wsp_frame_take(b, n, 100, &f), -1);
	n = client_frame(b, 0xc1, "x", 1); /* RSV1 */
	CHECK_EQ(wsp_frame_take(b, n, 100, &f), -1);
	n = client_frame(b, 0x83, "x", 1); /* reserved opcode */
	CHECK_EQ(wsp_frame_take(b, n, 100, &f), -1);
	n = client_frame(b, 0x09, "x", 1); /* fragmented ping */
	CHECK_EQ(wsp_frame_take(b, n, 100, &f), -1);
	n = client_frame(b, 0x88, big, 126); /* long close */
	CHECK_EQ(wsp_frame_take(b, n, 1000, &f), -1);
	uint8_t h[WSP_FRAME_HDR_MAX];
	CHECK_EQ(wsp_frame_header(h, WSP_BINARY, 125), 2u);
	CHECK_EQ(wsp_frame_header(h, WSP_BINARY, 65535), 4u);
	CHECK_EQ(wsp_frame_header(h, WSP_BINARY, 65536), 10u);
	CHECK(h[0] == 0x82 && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
}

/* The header checks both ends share: the mask bit must be what the side expects. */
TEST(frame_head_mask_bit)
{
	static const uint8_t masked[] = { 0x81, 0x80 }, plain[] = { 0x81, 0x00 };
	static const uint8_t ext[] = { 0x02, 0x7e, 0x01, 0x00 }, ping[] = { 0x09, 0x00 };
	struct wsp_head h;
	CHECK_EQ(wsp_frame_head(masked, 2, 1, &h), 2);
	CHECK(h.fin == 1 && h.opcode == WSP_TEXT && h.len == 0);
	CHECK_EQ(wsp_frame_head(masked, 2, 0, &h), -1);
	CHECK_EQ(wsp_frame_head(plain, 2, 0, &h), 2);
	CHECK_EQ(wsp_frame_head(plain, 2, 1, &h), -1);
	CHECK_EQ(wsp_frame_head(ext, 3, 0, &h), 0);
	CHECK_EQ(wsp_frame_head(ext, 4, 0, &h), 4);
	CHECK(h.fin == 0 && h.opcode == WSP_BINARY && h.len == 256);
	CHECK_EQ(wsp_frame_head(ping, 2, 0, &h), -1); /* fragmented control */
	CHECK_EQ(wsp_frame_head(ping, 1, 0, &h), 0);
}

TEST(close_codes)
{
	static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
				       1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100,
					2000, 2999, 5000, 65535 };
	unsigned code;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint8_t p[2] = { (uint8_t)(ok[i] >> 8), (uint8_t)ok[i] };
		CHECK(wsp_close_code_ok(ok[i]));
		CHECK_EQ(wsp_close_check(p, 2, &code), 0u);
		CHECK_EQ(code, ok[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t p[2] = { (uint8_t)(bad[i] >> 8), (uint8_t)bad[i] };
		CHECK(!wsp_close_code_ok(bad[i]));
		CHECK_EQ(wsp_close_check(p, 2, &code), (unsigned)WSP_CLOSE_PROTOCOL);
	}
	CHECK_EQ(wsp_close_check((const uint8_t *)"", 0, &code), 0u);
	CHECK_EQ(code, 1005u); /* no code: nothing to echo */
	CHECK_EQ(wsp_close_check((const uint8_t *)"\x03", 1, &code), (unsigned)WSP_CLOSE_PROTOCOL);
	CHECK_EQ(wsp_close_check((const uint8_t *)"\x03\xe8ok \xce\xba", 7, &code), 0u);
	CHECK_EQ(wsp_close_check((const uint8_t *)"\x03\xe8\xce", 3, &code),
		 (unsigned)WSP_CLOSE_BAD_DATA);
	CHECK_EQ(wsp_close_check((const uint8_t *)"\x03\xe8\xed\xa0\x80", 5, &code),
		 (unsigned)WSP_CLOSE_BAD_DATA);
	/* A code that may not be sent is the first fault, whatever the reason. */
	CHECK_EQ(wsp_close_check((const uint8_t *)"\x00\x00\xff", 3, &code),
		 (unsigned)WSP_CLOSE_PROTOCOL);
}

TEST(close_payload)
{
	uint8_t out[WSP_CLOSE_PAYLOAD_MAX];
	unsigned code;
	CHECK_EQ(wsp_close_payload(out, 1013, "viewer too slow"), 17u);
	CHECK(out[0] == 0x03 && out[1] == 0xf5 && memcmp(out + 2, "viewer too slow", 15) == 0);
	/* Long reasons are cut to whole characters; bytes that are not UTF-8 end them. */
	char r[200];
	memset(r, 'a', 122);
	strcpy(r + 122, "\xe2\x82\xac tail");
	CHECK_EQ(wsp_close_payload(out, 1011, r), 124u);
	CHECK_EQ(wsp_close_check(out, 124, &code), 0u);
	CHECK_EQ(wsp_close_payload(out, 1011, "agent said \xff\xfe"), 13u);
	CHECK_EQ(wsp_close_check(out, 13, &code), 0u);
	CHECK_EQ(code, 1011u);
}

TEST(paths)
{
	static const char *const plain[] = {
		"/", "/shell", "/index.html", "/a/b/", "/a?x=%00&y=..//", "/%41bc", "/...",
		"/a.b/..c/.d", "/~user/x-y_z!$&'()*+,=:@", "/%2e%2e%2e",
	};
	static const char *const odd[] = {
		"", "*", "shell", "http://x/", "//", "/a//b", "//shell", "/.", "/..", "/./shell",
		"/a/../b", "/a/.", "/%2e", "/%2E%2e", "/.%2e/x", "/a/%2e%2e?q", "/%00", "/a%00b",
		"/%1f", "/%7F", "/%2F", "/a%2fb", "/%5c", "/a\\b", "/%zz", "/%4", "/%", "/%g0",
		"/a;b", "/shell;x", "/a b", "/\x80", "/a#b", "/a\"b", "/a<b", "/x%0a",
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		CHECK(wsp_path_check(plain[i]) == NULL);
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		const char *why = wsp_path_check(odd[i]);
		if (!why)
			fprintf(stderr, "  not refused: %s\n", odd[i]);
		CHECK(why != NULL);
	}
	CHECK_STR(wsp_path_check("/a%2Fb"), "encoded '/' or '\\' in path");
	CHECK_STR(wsp_path_check("/%2e%2e/x"), "dot segment in path");
	CHECK_STR(wsp_path_check("/a//b"), "empty path segment");
}

TEST_MAIN(T(request), T(bad_requests), T(accept_key), T(frames), T(frame_head_mask_bit),
	  T(close_codes), T(close_payload), T(paths))
