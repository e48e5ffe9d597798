/* test_mcphttp.c - MCP Streamable HTTP header checks (protocol/mcphttp.c) */
#include "protocol/mcphttp.h"
#include "test.h"

TEST(accept)
{
	enum { J = MCPHTTP_ACCEPT_JSON, S = MCPHTTP_ACCEPT_SSE };
	CHECK_EQ(mcphttp_accept(NULL), (unsigned)(J | S));
	CHECK_EQ(mcphttp_accept("application/json, text/event-stream"), (unsigned)(J | S));
	CHECK_EQ(mcphttp_accept("text/event-stream"), (unsigned)S);
	CHECK_EQ(mcphttp_accept("Application/JSON;charset=utf-8"), (unsigned)J);
	CHECK_EQ(mcphttp_accept("*/*"), (unsigned)(J | S));
	CHECK_EQ(mcphttp_accept("text/html"), 0u);
	CHECK_EQ(mcphttp_accept(""), 0u);
	/* q=0 is a refusal, q=0.5 is not */
	CHECK_EQ(mcphttp_accept("application/json;q=0, text/event-stream"), (unsigned)S);
	CHECK_EQ(mcphttp_accept("application/json; q=0.000"), 0u);
	CHECK_EQ(mcphttp_accept("application/json; q=0.5"), (unsigned)J);
	CHECK_EQ(mcphttp_accept("application/jsonx, text/event-streamy"), 0u);
}

TEST(bearer)
{
	const char *t;
	size_t n;
	CHECK_EQ(mcphttp_bearer("Bearer abc.DEF-_~+/==", &t, &n), 0);
	CHECK(n == 14 && memcmp(t, "abc.DEF-_~+/==", 14) == 0);
	CHECK_EQ(mcphttp_bearer("bearer xyz ", &t, &n), 0);
	CHECK(n == 3 && memcmp(t, "xyz", 3) == 0);
	CHECK_EQ(mcphttp_bearer("Basic dXNlcjpwdw==", &t, &n), -1);
	CHECK_EQ(mcphttp_bearer("Bearer ", &t, &n), -1);
	CHECK_EQ(mcphttp_bearer("Bearer a b", &t, &n), -1);
	CHECK_EQ(mcphttp_bearer("Bearer a=b", &t, &n), -1);
	CHECK_EQ(mcphttp_bearer("Bearerabc", &t, &n), -1);
	CHECK_EQ(mcphttp_bearer(NULL, &t, &n), -1);
}

TEST(host)
{
	CHECK(mcphttp_host_loopback("localhost"));
	CHECK(mcphttp_host_loopback("LocalHost:8080"));
	CHECK(mcphttp_host_loopback("127.0.0.1:1"));
	CHECK(mcphttp_host_loopback("127.200.3.4"));
	CHECK(mcphttp_host_loopback("[::1]:65535"));
	CHECK(!mcphttp_host_loopback("[::1]:65536"));
	CHECK(!mcphttp_host_loopback("[::1]x"));
	CHECK(!mcphttp_host_loopback("127.0.0.1:"));
	CHECK(!mcphttp_host_loopback("127.0.0.1:x"));
	CHECK(!mcphttp_host_loopback("127.0.0.1.evil.example"));
	CHECK(!mcphttp_host_loopback("127.0.0"));
	CHECK(!mcphttp_host_loopback("127.0.0.256"));
	CHECK(!mcphttp_host_loopback("127.0.0.01"));
	CHECK(!mcphttp_host_loopback("localhost.evil.example"));
	CHECK(!mcphttp_host_loopback("evil.example"));
	CHECK(!mcphttp_host_loopback("10.0.0.1"));
	CHECK(!mcphttp_host_loopback(""));
	CHECK(!mcphttp_host_loopback(NULL));
}

TEST(origin)
{
	CHECK(mcphttp_origin_loopback("http://localhost:3000"));
	CHECK(mcphttp_origin_loopback("https://127.0.0.1"));
	CHECK(mcphttp_origin_loopback("http://[::1]:80/"));
	CHECK(!mcphttp_origin_loopback("http://evil.example"));
	CHECK(!mcphttp_origin_loopback("http://localhost.evil.example"));
	CHECK(!mcphttp_origin_loopback("http://localhost@evil.example"));
	CHECK(!mcphttp_origin_loopback("http://localhost/x"));
	CHECK(!mcphttp_origin_loopback("ftp://localhost"));
	CHECK(!mcphttp_origin_loopback("null"));
	CHECK(!mcphttp_origin_loopback("localhost"));
	CHECK(!mcphttp_origin_loopback(NULL));
}

TEST(content_type)
{
	CHECK(mcphttp_is_json("application/json"));
	CHECK(mcphttp_is_json("Application/JSON; charset=utf-8"));
	CHECK(!mcphttp_is_json("application/jsonp"));
	CHECK(!mcphttp_is_json("text/plain"));
	CHECK(!mcphttp_is_json(NULL));
}

TEST(session_ids)
{
	char long_id[MCPHTTP_SESSION_MAX + 2];
	memset(long_id, 'a', sizeof long_id);
	long_id[MCPHTTP_SESSION_MAX] = '\0';
	CHECK(mcphttp_session_ok(long_id));
	long_id[MCPHTTP_SESSION_MAX] = 'a';
	long_id[MCPHTTP_SESSION_MAX + 1] = '\0';
	CHECK(!mcphttp_session_ok(long_id));
	CHECK(mcphttp_session_ok("0f3a"));
	CHECK(!mcphttp_session_ok(""));
	CHECK(!mcphttp_session_ok("a b"));
	CHECK(!mcphttp_session_ok("a\x7f"));
	CHECK(!mcphttp_session_ok("\xc3\xa9"));
	CHECK(!mcphttp_session_ok(NULL));
}

TEST_MAIN(T(accept), T(bearer), T(host), T(origin), T(content_type), T(session_ids))
