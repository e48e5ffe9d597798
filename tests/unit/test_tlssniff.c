/* test_tlssniff.c - a TLS server's first answer to a cleartext request
 * (protocol/tlssniff.c): records, the HTTP refusals of nginx and Go, and
 * ordinary answers in clear. */
#include "protocol/tlssniff.h"
#include "test.h"

#define S(s) (const uint8_t *)(s), sizeof(s) - 1

TEST(tls_records)
{
	CHECK_EQ(tlssniff_answer(S("\x15\x03\x03\x00\x02\x02\x46")), TLSSNIFF_TLS); /* alert */
	CHECK_EQ(tlssniff_answer(S("\x16\x03\x03\x00\x7a\x02")), TLSSNIFF_TLS);     /* ServerHello */
	CHECK_EQ(tlssniff_answer(S("\x16")), TLSSNIFF_TLS); /* one byte so far */
	CHECK_EQ(tlssniff_answer(S("\x16\x01")), TLSSNIFF_CLEAR);
}

TEST(http_refusals_of_tls_servers)
{
	CHECK_EQ(tlssniff_answer(S("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n"
				   "Content-Type: text/html\r\n\r\n<html><center>The plain HTTP "
				   "request was sent to HTTPS port</center></html>")),
		 TLSSNIFF_TLS);
	CHECK_EQ(tlssniff_answer(S("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request "
				   "to an HTTPS server.\n")),
		 TLSSNIFF_TLS);
}

TEST(answers_in_clear)
{
	CHECK_EQ(tlssniff_answer(NULL, 0), TLSSNIFF_CLEAR);
	CHECK_EQ(tlssniff_answer(S("HTTP/1.1 200 OK\r\n\r\nHTTP request over HTTPS")),
		 TLSSNIFF_CLEAR);
	CHECK_EQ(tlssniff_answer(S("HTTP/1.1 400 Bad Request\r\n\r\nbad")), TLSSNIFF_CLEAR);
	CHECK_EQ(tlssniff_answer(S("HTTP/1.1 400 Bad Request\r\n\r\nHTTP request")),
		 TLSSNIFF_CLEAR);
	CHECK_EQ(tlssniff_answer(S("\x00\x00\x12\x04\x00\x00\x00\x00\x00")), TLSSNIFF_CLEAR); /* h2 */
	CHECK_EQ(tlssniff_answer(S("HTTP/1.1 40")), TLSSNIFF_CLEAR);
}

TEST(scan_is_bounded)
{
	static uint8_t m[TLSSNIFF_SCAN_MAX + 100];
	static const char head[] = "HTTP/1.1 400 x\r\n\r\nHTTP request ";
	memset(m, 'x', sizeof m);
	memcpy(m, head, sizeof head - 1);
	memcpy(m + TLSSNIFF_SCAN_MAX + 10, "HTTPS", 5); /* past the bound: not seen */
	CHECK_EQ(tlssniff_answer(m, sizeof m), TLSSNIFF_CLEAR);
	memcpy(m + 100, "HTTPS", 5);
	CHECK_EQ(tlssniff_answer(m, sizeof m), TLSSNIFF_TLS);
}

TEST_MAIN(T(tls_records), T(http_refusals_of_tls_servers), T(answers_in_clear),
	  T(scan_is_bounded))
