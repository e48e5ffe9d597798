/* test_httpreq.c - request heads, rewriting, response heads, body framing (protocol/httpreq.c) */
#include "protocol/httpreq.h"
#include "test.h"

static char out[HTTPREQ_HEAD_MAX];

static int parse(const char *head, struct httpreq *r)
{
	return httpreq_parse(head, strlen(head), r, out, sizeof out);
}

TEST(rewrite_strips_proxy_headers)
{
	static const char head[] =
		"POST /echo?x=1 HTTP/1.1\r\n"
		"Host: mvm-abc.localhost:7443\r\n"
		"X-aws-proxy-auth: hth1.secret.mac\r\n"
		"x-AWS-proxy-port: 8081\r\n"
		"X-aws-proxy-force-h2: false\r\n"
		"X-Other: kept \r\n"
		"Content-Length: 5\r\n"
		"\r\n";
	struct httpreq r;
	CHECK_EQ(parse(head, &r), (int)strlen(head));
	CHECK_STR(r.method, "POST");
	CHECK_EQ(r.port, 8081u);
	CHECK_EQ(r.framing, HTTPREQ_BODY_LENGTH);
	CHECK_EQ(r.length, 5u);
	CHECK(r.keep_alive);
	CHECK(!r.upgrade);
	static const char want[] = "POST /echo?x=1 HTTP/1.1\r\n"
				   "Host: mvm-abc.localhost:7443\r\n"
				   "X-Other: kept \r\n"
				   "Content-Length: 5\r\n"
				   "\r\n";
	CHECK_EQ(r.out_len, strlen(want));
	CHECK_MEM(out, want, r.out_len);
	/* Incomplete, and the body after the head is not part of it. */
	CHECK_EQ(httpreq_parse(head, strlen(head) - 1, &r, out, sizeof out), HTTPREQ_MORE);
	char more[sizeof head + 8];
	snprintf(more, sizeof more, "%shello", head);
	CHECK_EQ(parse(more, &r), (int)strlen(head));
}

TEST(websocket_subprotocols)
{
	static const char head[] =
		"GET /ws HTTP/1.1\r\n"
		"Host: a.localhost\r\n"
		"Upgrade: websocket\r\n"
		"Connection: keep-alive, Upgrade\r\n"
		"Sec-WebSocket-Protocol: lambda-microvms, chat, "
		"lambda-microvms.authentication.hth1.AAA.BBB\r\n"
		"Sec-WebSocket-Protocol: Lambda-MicroVMs.port.9001 ,  v2.echo\r\n"
		"Sec-WebSocket-Protocol: lambda-microvms.port.9002\r\n"
		"\r\n";
	struct httpreq r;
	CHECK_EQ(parse(head, &r), (int)strlen(head));
	CHECK(r.upgrade);
	CHECK(r.websocket);
	CHECK_EQ(r.port, 0u);
	CHECK_EQ(r.ws_port, 9001u);
	static const char want[] = "GET /ws HTTP/1.1\r\n"
				   "Host: a.localhost\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: keep-alive, Upgrade\r\n"
				   "Sec-WebSocket-Protocol: chat\r\n"
				   "Sec-WebSocket-Protocol: v2.echo\r\n"
				   "\r\n";
	CHECK_EQ(r.out_len, strlen(want));
	CHECK_MEM(out, want, r.out_len);
	/* Lines without our entries are kept as they are; others joined with ",". */
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol:a , b\r\n"
		    "Sec-WebSocket-Protocol: x, lambda-microvms, y\r\n\r\n",
		    &r) > 0);
	static const char want2[] = "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol:a , b\r\n"
				    "Sec-WebSocket-Protocol: x,y\r\n\r\n";
	CHECK_EQ(r.out_len, strlen(want2));
	CHECK_MEM(out, want2, r.out_len);
	/* A bad port subprotocol is ignored (the default port applies), never forwarded. */
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol: "
		    "lambda-microvms.port.0, lambda-microvms.port.70000\r\n\r\n",
		    &r) > 0);
	CHECK_EQ(r.ws_port, 0u);
	CHECK(strstr(out, "lambda") == NULL);
	/* Upgrade without Connection: upgrade is not an upgrade. */
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", &r) > 0);
	CHECK(!r.upgrade && !r.websocket);
}

TEST(ports)
{
	struct httpreq r;
	static const char *bad[] = { "0", "65536", "-1", "80a", "", "1 2", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char h[256];
		snprintf(h, sizeof h, "GET / HTTP/1.1\r\nHost: a\r\nX-aws-proxy-port: %s\r\n\r\n",
			 bad[i]);
		CHECK_EQ(parse(h, &r), HTTPREQ_E_PORT);
		CHECK_EQ(httpreq_status(HTTPREQ_E_PORT), 400u);
	}
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-aws-proxy-port: 1\r\n"
		       "X-aws-proxy-port: 1\r\n\r\n",
		       &r),
		 HTTPREQ_E_PORT);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-aws-proxy-port:  65535 \r\n\r\n", &r) > 0);
	CHECK_EQ(r.port, 65535u);
}

TEST(smuggling_refused)
{
	struct httpreq r;
	/* Both framings, repeated or odd lengths, other codings, HTTP/1.0 chunked. */
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		       "Content-Length: 3\r\n\r\n",
		       &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
		       &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(
		parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r),
		HTTPREQ_E_CODING);
	CHECK_EQ(httpreq_status(HTTPREQ_E_CODING), 501u);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       &r),
		 HTTPREQ_E_FRAMING);
	CHECK_EQ(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &r),
		 HTTPREQ_E_FRAMING);
	/* Space before the colon, folding, bare LF, bare CR, NUL. */
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", &r),
		 HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET / HTTP/1.1\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(httpreq_parse("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29, &r, out, sizeof out),
		 HTTPREQ_E_BAD);
	/* Host: exactly one in HTTP/1.1. */
	CHECK_EQ(parse("GET / HTTP/1.1\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK(parse("GET / HTTP/1.0\r\n\r\n", &r) > 0);
	CHECK(r.http10 && !r.keep_alive);
}

TEST(request_lines)
{
	struct httpreq r;
	CHECK_EQ(parse("CONNECT a:80 HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK_EQ(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r) > 0);
	CHECK_EQ(parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTPREQ_E_BAD);
	/* Empty lines before a request are skipped (and not forwarded). */
	CHECK_EQ(parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 29);
	CHECK_MEM(out, "GET / HTTP/1.1\r\n", 16);
	CHECK_EQ(r.out_len, 27u);
	/* Connection handling. */
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r) > 0);
	CHECK(!r.keep_alive);
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0);
	CHECK(r.keep_alive);
	CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_CHUNKED);
	CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_NONE);
}

TEST(limits)
{
	struct httpreq r;
	static char big[HTTPREQ_HEAD_MAX + 64];
	/* 65 header lines: too many. */
	size_t n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
	CHECK_EQ(httpreq_parse(big, n, &r, out, sizeof out), HTTPREQ_E_TOOBIG);
	/* A head without an end within the limit. */
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /", 5);
	CHECK_EQ(httpreq_parse(big, sizeof big, &r, out, sizeof out), HTTPREQ_E_TOOBIG);
	CHECK_EQ(httpreq_parse(big, 100, &r, out, sizeof out), HTTPREQ_MORE);
	/* An output buffer too small is refused, never overrun. */
	static const char h[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	CHECK_EQ(httpreq_parse(h, strlen(h), &r, out, 10), HTTPREQ_E_TOOBIG);
}

TEST(responses)
{
	struct httpreq_resp r;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!";
	CHECK_EQ(httpreq_parse_response(ok, strlen(ok), 0, &r), (int)strlen(ok) - 12);
	CHECK_EQ(r.status, 200u);
	CHECK_EQ(r.framing, HTTPREQ_BODY_LENGTH);
	CHECK_EQ(r.length, 12u);
	CHECK(!r.close);
	CHECK(httpreq_parse_response(ok, strlen(ok), 1, &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_NONE);
	CHECK_EQ(httpreq_parse_response(ok, 20, 0, &r), HTTPREQ_MORE);
	static const char ch[] = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
	CHECK(httpreq_parse_response(ch, strlen(ch), 0, &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_CHUNKED);
	static const char eof[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
	CHECK(httpreq_parse_response(eof, strlen(eof), 0, &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_CLOSE);
	CHECK(r.close);
	static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
	CHECK(httpreq_parse_response(sw, strlen(sw), 0, &r) > 0);
	CHECK_EQ(r.status, 101u);
	CHECK_EQ(r.framing, HTTPREQ_BODY_NONE);
	static const char nc[] = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
	CHECK(httpreq_parse_response(nc, strlen(nc), 0, &r) > 0);
	CHECK_EQ(r.framing, HTTPREQ_BODY_NONE);
	static const char old[] = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n";
	CHECK(httpreq_parse_response(old, strlen(old), 0, &r) > 0);
	CHECK(r.close);
	static const char cl2[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
	CHECK_EQ(httpreq_parse_response(cl2, strlen(cl2), 0, &r), HTTPREQ_E_FRAMING);
	CHECK_EQ(httpreq_parse_response("HTTP/1.1 20 OK\r\n\r\n", 18, 0, &r), HTTPREQ_E_BAD);
	CHECK_EQ(httpreq_parse_response("HTTP/1.1 200 OK\nX: 1\r\n\r\n", 24, 0, &r), HTTPREQ_E_BAD);
	static const char bare[] = "HTTP/1.1 200\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	CHECK(httpreq_parse_response(bare, strlen(bare), 0, &r) > 0);
	CHECK(r.close);
	CHECK_EQ(r.framing, HTTPREQ_BODY_NONE);
}

/* Feed s one byte at a time when bytewise, else at once; returns bytes taken or -1. */
static long feed(struct httpreq_body *b, const char *s, size_t n, int bytewise)
{
	if (!bytewise)
		return httpreq_body_feed(b, (const uint8_t *)s, n);
	long total = 0;
	for (size_t i = 0; i < n && !b->done; i++) {
		long k = httpreq_body_feed(b, (const uint8_t *)s + i, 1);
		if (k < 0)
			return -1;
		total += k;
	}
	return total;
}

TEST(chunked_bodies)
{
	static const char body[] = "5;name=\"v\"\r\nhello\r\n"
				   "A \r\n0123456789\r\n"
				   "000\r\nX-Trailer: yes\r\nY: z\r\n\r\n";
	static const char next[] = "GET / HTTP/1.1\r\n";
	char both[256];
	snprintf(both, sizeof both, "%s%s", body, next);
	for (int bw = 0; bw < 2; bw++) {
		struct httpreq_body b;
		httpreq_body_init(&b, HTTPREQ_BODY_CHUNKED, 0);
		CHECK(!b.done);
		CHECK_EQ(feed(&b, both, strlen(both), bw), (long)strlen(body));
		CHECK(b.done);
		CHECK_EQ(httpreq_body_feed(&b, (const uint8_t *)"x", 1), 0);
	}
	static const char *bad[] = {
		"5\nhello\r\n0\r\n\r\n",          /* bare LF after the size */
		"5\r\nhelloX\r\n0\r\n\r\n",       /* data longer than the size */
		"g\r\n",                          /* not hex */
		"\r\n",                           /* no digits */
		"-5\r\n",
		"5 x\r\n",                        /* junk after the size */
		"5;a\x01\r\n",                    /* control byte in an extension */
		"0\r\n X: folded\r\n\r\n",        /* folded trailer */
		"0\r\nX: 1\n\r\n",                /* bare LF in the trailers */
		"0\r\n\r\r",
		"11111111111111111\r\n",          /* 17 hex digits */
		"FFFFFFFFFFFFFFFF\r\n",           /* over HTTPREQ_LENGTH_MAX */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct httpreq_body b;
		httpreq_body_init(&b, HTTPREQ_BODY_CHUNKED, 0);
		if (feed(&b, bad[i], strlen(bad[i]), 0) != -1) {
			fprintf(stderr, "  bad chunked body %zu accepted\n", i);
			CHECK(0);
		}
	}
	/* Limits on extensions and trailers. */
	static char big[HTTPREQ_TRAILER_MAX + 64];
	struct httpreq_body b;
	httpreq_body_init(&b, HTTPREQ_BODY_CHUNKED, 0);
	memset(big, 'e', sizeof big);
	memcpy(big, "1;", 2);
	CHECK_EQ(feed(&b, big, HTTPREQ_CHUNK_LINE_MAX + 8, 0), -1);
	httpreq_body_init(&b, HTTPREQ_BODY_CHUNKED, 0);
	memcpy(big, "0\r\nX: ", 6);
	CHECK_EQ(feed(&b, big, sizeof big, 0), -1);
}

TEST(length_bodies)
{
	struct httpreq_body b;
	httpreq_body_init(&b, HTTPREQ_BODY_LENGTH, 7);
	CHECK_EQ(httpreq_body_feed(&b, (const uint8_t *)"abc", 3), 3);
	CHECK(!b.done);
	CHECK_EQ(httpreq_body_feed(&b, (const uint8_t *)"defgGET", 7), 4);
	CHECK(b.done);
	httpreq_body_init(&b, HTTPREQ_BODY_NONE, 0);
	CHECK(b.done);
	CHECK_EQ(httpreq_body_feed(&b, (const uint8_t *)"GET", 3), 0);
	httpreq_body_init(&b, HTTPREQ_BODY_CLOSE, 0);
	CHECK_EQ(httpreq_body_feed(&b, (const uint8_t *)"everything", 10), 10);
	CHECK(!b.done);
}

TEST_MAIN(T(rewrite_strips_proxy_headers), T(websocket_subprotocols), T(ports),
	  T(smuggling_refused), T(request_lines), T(limits), T(responses), T(chunked_bodies),
	  T(length_bodies))
