/* test_h2map.c - h2 request fields to an HTTP/1.1 head, HTTP/1.1 response heads to h2
 * fields (protocol/h2map.c) */
#include "protocol/h2map.h"
#include "protocol/httpreq.h"
#include "test.h"

static struct h2map m;
static char out[HTTPREQ_HEAD_MAX];

static int add(const char *n, const char *v)
{
	return h2map_add(&m, (const uint8_t *)n, strlen(n), (const uint8_t *)v, strlen(v));
}

static void base(void)
{
	h2map_init(&m);
	add(":method", "POST");
	add(":scheme", "https");
	add(":path", "/p?q=%00");
	add(":authority", "mvm-a.localhost:7443");
}

TEST(head_from_fields)
{
	base();
	CHECK_EQ(add("x-aws-proxy-auth", "tok"), H2MAP_OK);
	CHECK_EQ(add("accept", "*/*"), H2MAP_OK);
	CHECK_EQ(add("host", "other"), H2MAP_OK); /* :authority wins */
	int n = h2map_head(&m, 1, out, sizeof out);
	static const char want[] = "POST /p?q=%00 HTTP/1.1\r\nHost: mvm-a.localhost:7443\r\n"
				   "x-aws-proxy-auth: tok\r\naccept: */*\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	CHECK_EQ(n, (int)strlen(want));
	CHECK_STR(out, want);
	/* The proxy's own parser takes it and strips the token. */
	struct httpreq r;
	static char rw[HTTPREQ_HEAD_MAX];
	CHECK_EQ(httpreq_parse(out, (size_t)n, &r, rw, sizeof rw), n);
	CHECK_EQ(r.framing, HTTPREQ_BODY_CHUNKED);
	CHECK(strstr(rw, "x-aws-proxy") == NULL);
}

TEST(content_length_means_no_chunking)
{
	base();
	add("content-length", "5");
	CHECK(h2map_head(&m, 1, out, sizeof out) > 0);
	CHECK(strstr(out, "chunked") == NULL);
	base();
	CHECK(h2map_head(&m, 0, out, sizeof out) > 0); /* END_STREAM on HEADERS */
	CHECK(strstr(out, "chunked") == NULL);
}

TEST(host_field_when_no_authority)
{
	h2map_init(&m);
	add(":method", "GET");
	add(":path", "/");
	add("host", "mvm-b.localhost");
	CHECK(h2map_head(&m, 0, out, sizeof out) > 0);
	CHECK(strstr(out, "Host: mvm-b.localhost\r\n") != NULL);
}

TEST(refused_fields)
{
	static const char *const bad[][2] = {
		{ "x-a", "v\r\nInjected: 1" }, { "x-a", "v\nb" }, { "x-a\r\nb", "v" },
		{ "x a", "v" }, { "", "v" }, { "connection", "close" },
		{ "transfer-encoding", "chunked" }, { "upgrade", "h2c" }, { ":protocol", "websocket" },
		{ ":bogus", "1" }, { "keep-alive", "1" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		base();
		CHECK_EQ(add(bad[i][0], bad[i][1]), H2MAP_E_BAD);
		CHECK_EQ(h2map_head(&m, 0, out, sizeof out), H2MAP_E_BAD); /* sticks */
	}
	/* A value with a NUL byte. */
	base();
	CHECK_EQ(h2map_add(&m, (const uint8_t *)"x", 1, (const uint8_t *)"a\0b", 3), H2MAP_E_BAD);
	/* Pseudo fields after regular ones, repeated, or missing. */
	base();
	add("x", "1");
	CHECK_EQ(add(":path", "/x"), H2MAP_E_BAD);
	base();
	CHECK_EQ(add(":path", "/again"), H2MAP_E_BAD);
	h2map_init(&m);
	add(":method", "GET");
	CHECK_EQ(h2map_head(&m, 0, out, sizeof out), H2MAP_E_BAD);
	h2map_init(&m);
	add(":method", "CONNECT");
	add(":authority", "x");
	add(":path", "/");
	CHECK_EQ(h2map_head(&m, 0, out, sizeof out), H2MAP_E_BAD);
	base();
	CHECK_EQ(add(":path", "/a b"), H2MAP_E_BAD);
}

TEST(limits)
{
	static char big[H2MAP_FIELDS_MAX];
	memset(big, 'a', sizeof big - 1);
	base();
	CHECK_EQ(add("x-big", big), H2MAP_E_TOOBIG);
	static char path[H2MAP_PATH_MAX + 2];
	memset(path, 'p', sizeof path - 1);
	path[0] = '/';
	h2map_init(&m);
	add(":method", "GET");
	CHECK_EQ(add(":path", path), H2MAP_E_TOOBIG);
	/* Many fields that each fit fill the lines up. */
	base();
	int rc = H2MAP_OK;
	for (int i = 0; i < 1000 && rc == H2MAP_OK; i++)
		rc = add("x-field", "0123456789");
	CHECK_EQ(rc, H2MAP_E_TOOBIG);
}

TEST(response_fields)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\n"
				   "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
				   "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\n\r\n";
	char names[256];
	struct h2map_field f[8];
	int n = h2map_response_fields(head, strlen(head), names, sizeof names, f, 8);
	CHECK_EQ(n, 4);
	CHECK(f[0].nlen == 12 && !memcmp(f[0].name, "content-type", 12));
	CHECK(f[0].vlen == 10 && !memcmp(f[0].value, "text/plain", 10));
	CHECK(f[1].nlen == 10 && !memcmp(f[1].name, "set-cookie", 10));
	CHECK(f[2].vlen == 3 && !memcmp(f[2].value, "b=2", 3));
	CHECK(f[3].nlen == 7 && f[3].vlen == 0);
	CHECK_EQ(h2map_response_fields(head, strlen(head), names, sizeof names, f, 2),
		 H2MAP_E_TOOBIG);
	CHECK_EQ(h2map_response_fields(head, strlen(head), names, 8, f, 8), H2MAP_E_TOOBIG);
	static const char bad[] = "HTTP/1.1 200 OK\r\nno colon\r\n\r\n";
	CHECK_EQ(h2map_response_fields(bad, strlen(bad), names, sizeof names, f, 8), H2MAP_E_BAD);
}

static int wants(const char *n, const char *v)
{
	return h2map_wants_h2((const uint8_t *)n, strlen(n), (const uint8_t *)v, strlen(v));
}

/* Which fields send a request to the app over h2c (h2up). */
static void wants_h2(void)
{
	CHECK_EQ(wants("content-type", "application/grpc"), 1);
	CHECK_EQ(wants("content-type", "application/grpc+proto"), 1);
	CHECK_EQ(wants("content-type", "Application/GRPC;charset=utf-8"), 1);
	CHECK_EQ(wants("x-aws-proxy-force-h2", "true"), 1);
	CHECK_EQ(wants("X-aws-proxy-force-h2", "TRUE"), 1);
	CHECK_EQ(wants("x-aws-proxy-force-h2", "false"), 0);
	CHECK_EQ(wants("x-aws-proxy-force-h2", "truex"), 0);
	CHECK_EQ(wants("content-type", "application/grpc-web"), 0);
	CHECK_EQ(wants("content-type", "application/grp"), 0);
	CHECK_EQ(wants("content-type", "application/json"), 0);
	CHECK_EQ(wants("accept", "application/grpc"), 0);
	CHECK_EQ(wants("", ""), 0);
}

TEST_MAIN(T(wants_h2), T(head_from_fields), T(content_length_means_no_chunking), T(host_field_when_no_authority),
	  T(refused_fields), T(limits), T(response_fields))
