/* test_httpsrv.c - strict server-side request framing and path checks (protocol/httpsrv.c) */
#include "protocol/httpsrv.h"
#include "test.h"

static struct httpsrv srv;
static uint8_t body[1024];

/* Feed a whole string; returns the bytes taken. */
static size_t feed(const char *s)
{
	return httpsrv_feed(&srv, (const uint8_t *)s, strlen(s));
}

/* A fresh connection fed s: the state it ends in. */
static enum httpsrv_state one(const char *s)
{
	httpsrv_init(&srv, body, sizeof body);
	feed(s);
	return srv.state;
}

TEST(simple_get)
{
	static const char req[] = "GET /2025-09-09/microvms?maxResults=5&nextToken=a%2Bb HTTP/1.1\r\n"
				  "Host: localhost\r\n"
				  "X-Amz-Date:  20250101T000000Z \r\n"
				  "\r\n";
	httpsrv_init(&srv, body, sizeof body);
	CHECK_EQ(feed(req), strlen(req));
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_STR(srv.rq.method, "GET");
	CHECK_STR(srv.rq.target, "/2025-09-09/microvms?maxResults=5&nextToken=a%2Bb");
	CHECK_STR(srv.rq.raw_path, "/2025-09-09/microvms");
	CHECK_STR(srv.rq.raw_query, "maxResults=5&nextToken=a%2Bb");
	CHECK_STR(srv.rq.path, "/2025-09-09/microvms");
	CHECK_EQ(srv.rq.nheaders, 2u);
	CHECK_STR(httpmsg_get(&srv.rq, "x-amz-date"), "20250101T000000Z");
	CHECK_STR(httpmsg_get(&srv.rq, "HOST"), "localhost");
	CHECK_EQ(srv.rq.body_len, 0u);
	CHECK(srv.keep_alive);
	char qb[256];
	struct httpsrv_param ps[4];
	CHECK_EQ(httpsrv_query(srv.rq.raw_query, qb, sizeof qb, ps, 4), 2);
	CHECK_STR(ps[0].name, "maxResults");
	CHECK_STR(ps[0].value, "5");
	CHECK_STR(ps[1].name, "nextToken");
	CHECK_STR(ps[1].value, "a+b");
}

TEST(pipelined_one_at_a_time)
{
	static const char two[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
				  "DELETE /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	httpsrv_init(&srv, body, sizeof body);
	size_t n = feed(two);
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_EQ(n, strlen("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
	CHECK_EQ(srv.rq.body_len, 5u);
	CHECK_MEM(srv.rq.body, "hello", 5);
	/* Nothing more is taken until the request is handled. */
	CHECK_EQ(httpsrv_feed(&srv, (const uint8_t *)two + n, strlen(two) - n), 0u);
	httpsrv_next(&srv);
	CHECK_EQ(httpsrv_feed(&srv, (const uint8_t *)two + n, strlen(two) - n), strlen(two) - n);
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_STR(srv.rq.method, "DELETE");
	CHECK_STR(srv.rq.path, "/b");
	CHECK(!srv.keep_alive);
}

TEST(byte_by_byte_and_chunked)
{
	static const char req[] = "\r\nPUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
	httpsrv_init(&srv, body, sizeof body);
	for (size_t i = 0; i < strlen(req); i++) {
		CHECK(srv.state != HTTPSRV_FAILED);
		CHECK_EQ(httpsrv_feed(&srv, (const uint8_t *)req + i, 1), 1u);
	}
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_EQ(srv.rq.body_len, 5u);
	CHECK_MEM(srv.rq.body, "abcde", 5);
}

TEST(http10_and_keep_alive)
{
	CHECK_EQ(one("GET / HTTP/1.0\r\n\r\n"), HTTPSRV_READY);
	CHECK(srv.http10);
	CHECK(!srv.keep_alive);
	CHECK_EQ(one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HTTPSRV_READY);
	CHECK(srv.keep_alive);
	CHECK_EQ(one("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: x, close\r\n\r\n"), HTTPSRV_READY);
	CHECK(!srv.keep_alive);
	CHECK(srv.head_only);
	CHECK_EQ(one("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"), HTTPSRV_READY);
	CHECK_STR(srv.rq.method, "BREW");
}

/* Requests refused with the given status, and nothing after them taken. */
static const struct {
	const char *req;
	unsigned status;
} refused[] = {
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n", 400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	  400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	  400 },
	{ "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", 413 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n", 413 },
	{ "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
	{ "GET /a HTTP/1.1\r\n\r\n", 400 },                        /* no Host */
	{ "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "GET /a HTTP/1.1\nHost: x\n\n", 400 },                     /* bare LF */
	{ "GET /a HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400 },         /* bare CR */
	{ "GET /a HTTP/1.1\r\nHost : x\r\n\r\n", 400 },             /* space before colon */
	{ "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },   /* obs-fold */
	{ "GET /a HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n", 400 },
	{ "GET /a HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417 },
	{ "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a  HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400 }, /* TLS hello */
	{ "garbage\r\n\r\n", 400 },
	/* paths */
	{ "POST /2025-09-09/microvms/%00/anything HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/A%2F..%2FB HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/A%2f..%2fB HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/A%5cB HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/A\\B HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/mvm-X;x HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/mvm-X// HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09//microvms HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET //2025-09-09/microvms HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/x/../mvm-X HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/x/%2e%2E/mvm-X HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/./mvm-X HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/.. HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /2025-09-09/microvms/%2e HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a% HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a%1f HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a%7F HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "GET /a\x80 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
};

TEST(refusals_are_final)
{
	static const char next[] = "DELETE /2025-09-09/microvms/mvm-1 HTTP/1.1\r\nHost: x\r\n\r\n";
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		char buf[512];
		snprintf(buf, sizeof buf, "%s%s", refused[i].req, next);
		httpsrv_init(&srv, body, sizeof body);
		size_t n = feed(buf);
		if (srv.state != HTTPSRV_FAILED || srv.err.status != refused[i].status)
			fprintf(stderr, "  case %zu: state %d status %u (%s)\n", i, srv.state,
				srv.err.status, srv.err.msg ? srv.err.msg : "");
		CHECK_EQ(srv.state, HTTPSRV_FAILED);
		CHECK_EQ(srv.err.status, refused[i].status);
		CHECK(srv.err.type && srv.err.msg);
		CHECK(n <= strlen(buf));
		/* Sticky: nothing more is taken, and next is no way out. */
		CHECK_EQ(httpsrv_feed(&srv, (const uint8_t *)next, strlen(next)), 0u);
		httpsrv_next(&srv);
		CHECK_EQ(srv.state, HTTPSRV_FAILED);
	}
}

TEST(head_limits_answer_431)
{
	char big[HTTPSRV_HEAD_MAX + 64];
	int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'a', sizeof big - (size_t)n - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(one(big), HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 431u);
	/* 65 header lines. */
	char many[4096];
	size_t used = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTPMSG_HEADERS_MAX + 1; i++)
		used += (size_t)snprintf(many + used, sizeof many - used, "H%d: v\r\n", i);
	snprintf(many + used, sizeof many - used, "\r\n");
	CHECK_EQ(one(many), HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 431u);
	/* 64 are fine (one of them Host). */
	used = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < HTTPMSG_HEADERS_MAX - 1; i++)
		used += (size_t)snprintf(many + used, sizeof many - used, "H%d: v\r\n", i);
	snprintf(many + used, sizeof many - used, "\r\n");
	CHECK_EQ(one(many), HTTPSRV_READY);
	CHECK_EQ(srv.rq.nheaders, (unsigned)HTTPMSG_HEADERS_MAX);
}

TEST(paths_allowed)
{
	static const struct {
		const char *raw, *decoded;
	} ok[] = {
		{ "/", "/" },
		{ "/2025-09-09/microvms/", "/2025-09-09/microvms/" },
		{ "/2017-03-31/tags/arn%3Ahearth%3Alambda", "/2017-03-31/tags/arn:hearth:lambda" },
		{ "/a/mvm-%3Bdrop", "/a/mvm-;drop" },
		{ "/a/%252e%252e%252f", "/a/%2e%2e%2f" },
		{ "/a/...", "/a/..." },
		{ "/a/.x/x.", "/a/.x/x." },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char out[128];
		const char *why = NULL;
		CHECK_EQ(httpsrv_path(ok[i].raw, out, sizeof out, &why), 0);
		CHECK_STR(out, ok[i].decoded);
	}
}

TEST(query_decoding)
{
	char qb[64];
	struct httpsrv_param ps[3];
	CHECK_EQ(httpsrv_query("", qb, sizeof qb, ps, 3), 0);
	CHECK_EQ(httpsrv_query("a&&b=&c=x+y%21", qb, sizeof qb, ps, 3), 3);
	CHECK_STR(ps[0].name, "a");
	CHECK_STR(ps[0].value, "");
	CHECK_STR(ps[1].name, "b");
	CHECK_STR(ps[1].value, "");
	CHECK_STR(ps[2].value, "x y!");
	CHECK_EQ(httpsrv_query("a=1&b=2&c=3&d=4", qb, sizeof qb, ps, 3), -2);
	CHECK_EQ(httpsrv_query("a=%00", qb, sizeof qb, ps, 3), -1);
	CHECK_EQ(httpsrv_query("a=%0", qb, sizeof qb, ps, 3), -1);
	CHECK_EQ(httpsrv_query("a=%g0", qb, sizeof qb, ps, 3), -1);
	CHECK_EQ(httpsrv_query("a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			       qb, sizeof qb, ps, 3),
		 -2);
}

TEST(expect_continue)
{
	CHECK_EQ(one("POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
		 HTTPSRV_BODY);
	CHECK(srv.expect_continue);
	CHECK_EQ(feed("{}"), 2u);
	CHECK_EQ(srv.state, HTTPSRV_READY);
}

/* Streamed bodies: /s streams, /signed is a streaming route signed with a hash. */
static int pick(void *ctx, const struct httpmsg_request *rq)
{
	(void)ctx;
	if (!strcmp(rq->path, "/s"))
		return HTTPSRV_STREAM_YES;
	return !strcmp(rq->path, "/signed") ? HTTPSRV_STREAM_SIGNED : HTTPSRV_STREAM_NO;
}

static char got[4096];
static size_t got_len;

static int take(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	if (n > sizeof got - got_len)
		return -1;
	memcpy(got + got_len, p, n);
	got_len += n;
	return 0;
}

static void stream_init(uint64_t max)
{
	httpsrv_init(&srv, body, sizeof body);
	srv.stream_pick = pick;
	srv.stream_max = max;
	got_len = 0;
}

/* Hand s to httpsrv_stream a few bytes at a time (the owner's room). */
static size_t stream_in(const char *s, size_t room)
{
	size_t n = strlen(s), at = 0;
	while (at < n && srv.state == HTTPSRV_STREAM) {
		size_t k = n - at < room ? n - at : room;
		at += httpsrv_stream(&srv, (const uint8_t *)s + at, k, take, NULL);
	}
	return at;
}

TEST(streamed_bodies)
{
	/* Content-Length past the buffer: streamed, then the next request */
	stream_init(1u << 20);
	static const char head[] = "PUT /s HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n";
	CHECK_EQ(feed(head), strlen(head));
	CHECK_EQ(srv.state, HTTPSRV_STREAM);
	CHECK(srv.rq.body_streamed);
	CHECK_EQ(feed("more"), 0u); /* the body is httpsrv_stream's */
	static char b[2100];
	memset(b, 'a', 2000);
	strcpy(b + 2000, "GET / HTTP/1.1\r\n");
	CHECK_EQ(stream_in(b, 7), 2000u);
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_EQ(got_len, 2000u);
	CHECK_EQ(srv.rq.body_len, 0u);
	httpsrv_next(&srv);
	CHECK_EQ(one("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), HTTPSRV_READY);
	CHECK(!srv.rq.body_streamed);

	/* chunked, de-chunked as it passes */
	stream_init(1u << 20);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	CHECK_EQ(srv.state, HTTPSRV_STREAM);
	stream_in("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 3);
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK_EQ(got_len, 11u);
	CHECK(!memcmp(got, "hello world", 11));

	/* over stream_max: by Content-Length at the head, by a chunk's size, by the sum */
	stream_init(10);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
	CHECK_EQ(srv.state, HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 413u);
	stream_init(10);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	stream_in("b\r\n", 1);
	CHECK_EQ(srv.state, HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 413u);
	stream_init(10);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	stream_in("6\r\nabcdef\r\n5\r\n", 100);
	CHECK_EQ(srv.state, HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 413u);
	CHECK(got_len <= 10);
	/* malformed chunks */
	stream_init(100);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	stream_in("zz\r\n", 100);
	CHECK_EQ(srv.state, HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 400u);

	/* a streaming route signed with the body's hash: collected, and told why past the buffer */
	stream_init(1u << 20);
	feed("PUT /signed HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK(!srv.rq.body_streamed);
	CHECK_EQ(srv.rq.body_len, 2u);
	stream_init(1u << 20);
	feed("PUT /signed HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
	CHECK_EQ(srv.state, HTTPSRV_FAILED);
	CHECK_EQ(srv.err.status, 413u);
	CHECK(strstr(srv.err.msg, "UNSIGNED-PAYLOAD") != NULL);
	/* no body: never streamed */
	stream_init(1u << 20);
	feed("PUT /s HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK_EQ(srv.state, HTTPSRV_READY);
	CHECK(!srv.rq.body_streamed);
}

TEST_MAIN(T(simple_get), T(pipelined_one_at_a_time), T(byte_by_byte_and_chunked),
	  T(http10_and_keep_alive), T(refusals_are_final), T(head_limits_answer_431),
	  T(paths_allowed), T(query_decoding), T(expect_continue),
	  T(streamed_bodies))
