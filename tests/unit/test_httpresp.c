/* test_httpresp.c - the HTTP/1.1 response parser: framing, limits, bad input. */
#include "protocol/httpresp.h"
#include "tests/unit/test.h"

static uint8_t body[256];
static struct httpresp r;

static enum httpresp_result parse(const char *s, int eof)
{
	return httpresp_parse((const uint8_t *)s, strlen(s), eof, 0, body, sizeof(body), &r);
}

/* Every proper prefix of a whole response is incomplete, never an error. */
static int prefixes_incomplete(const char *s)
{
	for (size_t n = 0; n < strlen(s); n++)
		if (httpresp_parse((const uint8_t *)s, n, 0, 0, body, sizeof(body), &r) !=
		    HTTPRESP_INCOMPLETE)
			return 0;
	return 1;
}

TEST(content_length)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Other: y\r\n\r\nhelloEXTRA";
	CHECK_EQ(parse(s, 0), HTTPRESP_OK);
	CHECK_EQ(r.status, 200);
	CHECK_EQ(r.body_len, 5u);
	CHECK_MEM(body, "hello", 5);
	CHECK_EQ(r.consumed, strlen(s) - 5);
	CHECK_STR(r.error_type, "");
	CHECK(prefixes_incomplete("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
}

TEST(error_type_header)
{
	const char *s = "HTTP/1.1 404 Not Found\r\nx-amzn-errortype:  ResourceNotFoundException:http://x \r\n"
			"Content-Length: 2\r\n\r\n{}";
	CHECK_EQ(parse(s, 0), HTTPRESP_OK);
	CHECK_EQ(r.status, 404);
	CHECK_STR(r.error_type, "ResourceNotFoundException");
}

TEST(chunked)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
			"5;ext=1\r\nhello\r\nA\r\n 0123456789\r\n0\r\nTrailer: x\r\n\r\n";
	/* gzip,chunked: the body is still de-chunked; content coding is not ours */
	const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5\r\nhello\r\nb\r\n 0123456789\r\n0\r\n\r\n";
	CHECK_EQ(parse(t, 0), HTTPRESP_OK);
	CHECK_EQ(r.body_len, 16u);
	CHECK_MEM(body, "hello 0123456789", 16);
	CHECK_EQ(r.consumed, strlen(t));
	CHECK(prefixes_incomplete(t));
	CHECK_EQ(parse(s, 0), HTTPRESP_ERROR); /* A = 10 bytes, then no CRLF */
}

TEST(bare_newlines_and_until_close)
{
	/* Bare LF line ends are refused (one strict parser for every response). */
	CHECK_EQ(parse("HTTP/1.0 200 OK\nServer: x\n\nall of it", 0), HTTPRESP_ERROR);
	const char *s = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it";
	CHECK_EQ(parse(s, 0), HTTPRESP_INCOMPLETE);
	CHECK_EQ(parse(s, 1), HTTPRESP_OK);
	CHECK_EQ(r.body_len, 9u);
	CHECK_MEM(body, "all of it", 9);
}

TEST(no_body_statuses_and_interim)
{
	CHECK_EQ(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0), HTTPRESP_OK);
	CHECK_EQ(r.body_len, 0u);
	CHECK_EQ(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 0),
		 HTTPRESP_OK);
	CHECK_EQ(r.status, 201);
	CHECK_EQ(r.body_len, 1u);
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
	CHECK_EQ(httpresp_parse((const uint8_t *)h, strlen(h), 0, 1, body, sizeof(body), &r), HTTPRESP_OK);
	CHECK_EQ(r.body_len, 0u);
}

TEST(malformed)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
		"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n", /* larger than the body buffer */
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], 0) != HTTPRESP_ERROR) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(0);
		}
		CHECK(r.why != NULL);
	}
}

TEST(truncated_at_eof)
{
	CHECK_EQ(parse("HTTP/1.1 200 OK\r\nContent-Len", 1), HTTPRESP_ERROR);
	CHECK_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1), HTTPRESP_ERROR);
	CHECK_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1),
		 HTTPRESP_ERROR);
	CHECK_EQ(parse("", 1), HTTPRESP_ERROR);
	CHECK_EQ(parse("", 0), HTTPRESP_INCOMPLETE);
}

TEST(header_limits)
{
	/* too many headers */
	static char many[8192];
	size_t n = (size_t)snprintf(many, sizeof(many), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HTTPRESP_MAX_HEADERS + 1; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "H%d: v\r\n", i);
	snprintf(many + n, sizeof(many) - n, "\r\n");
	CHECK_EQ(parse(many, 0), HTTPRESP_ERROR);
	/* a header block that never ends is refused once it passes the limit */
	static char big[HTTPRESP_MAX_HEAD + 64];
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', sizeof(big) - 21);
	big[sizeof(big) - 1] = 0;
	CHECK_EQ(parse(big, 0), HTTPRESP_ERROR);
}

TEST_MAIN(T(content_length), T(error_type_header), T(chunked), T(bare_newlines_and_until_close),
	  T(no_body_statuses_and_interim), T(malformed), T(truncated_at_eof), T(header_limits))
