/* test_sigv4.c - protocol/sigv4.c against AWS's published SigV4 test suite
 * (get-vanilla, get-vanilla-query-order-key-case, ...) and vectors made with
 * botocore 1.29 (Debian's python3-botocore) for hearth's own paths. */
#include <stdlib.h>

#include "protocol/sigv4.h"
#include "test.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define T0 1440938160 /* 2015-08-30T12:36:00Z */

static struct httpmsg_request req(const char *method, const char *path, const char *query)
{
	struct httpmsg_request r;
	memset(&r, 0, sizeof r);
	r.method = method;
	r.raw_path = path;
	r.raw_query = query;
	r.path = path;
	r.target = path;
	return r;
}

static void hdr(struct httpmsg_request *r, const char *name, const char *value)
{
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
}

/* Sign rq as the suite does and compare with the expected signature, then
 * verify it back. */
static int signs_as(struct httpmsg_request *r, const char *want_authz)
{
	char authz[1024], why[512];
	if (sigv4_sign(r, AKID, SECRET, "us-east-1", "service", DATE, authz, sizeof authz) != 0)
		return 0;
	if (strcmp(authz, want_authz) != 0) {
		fprintf(stderr, "  got  %s\n  want %s\n", authz, want_authz);
		return 0;
	}
	hdr(r, "Authorization", authz);
	struct sigv4_auth au;
	int ok = sigv4_parse(r, &au, why, sizeof why) == SIGV4_OK &&
		 sigv4_check_time(&au, T0 + 10, why, sizeof why) == SIGV4_OK &&
		 sigv4_verify(r, &au, SECRET, why, sizeof why) == SIGV4_OK;
	r->nheaders--;
	return ok;
}

TEST(get_vanilla)
{
	struct httpmsg_request r = req("GET", "/", "");
	hdr(&r, "Host", "example.amazonaws.com");
	hdr(&r, "X-Amz-Date", DATE);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;x-amz-date, Signature="
			   "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST(get_vanilla_query_order_key_case)
{
	struct httpmsg_request r = req("GET", "/", "Param2=value2&Param1=value1");
	hdr(&r, "Host", "example.amazonaws.com");
	hdr(&r, "X-Amz-Date", DATE);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;x-amz-date, Signature="
			   "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST(get_relative_and_utf8)
{
	struct httpmsg_request r = req("GET", "/example/..//./foo/", "");
	hdr(&r, "Host", "example.amazonaws.com");
	hdr(&r, "X-Amz-Date", DATE);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;x-amz-date, Signature="
			   "82b50dbf69c4217f78a7867dbfe0ec3bff030afbb88a76929dda1603c9059d37"));
	r.raw_path = "/\xe1\x88\xb4";
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;x-amz-date, Signature="
			   "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));
}

/* Repeated headers: values joined by ',' in the order sent (botocore). */
TEST(repeated_header)
{
	struct httpmsg_request r = req("GET", "/", "");
	hdr(&r, "Host", "example.amazonaws.com");
	hdr(&r, "My-Header1", "value2");
	hdr(&r, "my-header1", "value1");
	hdr(&r, "X-Amz-Date", DATE);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature="
			   "bdec613c2a8207a05bafa9a654353e209c3710b086c46ced81798cdcf09f80c1"));
}

/* botocore: an encoded path is encoded again, the query sorted and encoded,
 * header values trimmed and collapsed. */
TEST(hearth_post_double_encoded)
{
	static const char body[] = "{\"x\":1}";
	struct httpmsg_request r =
		req("POST", "/2025-09-09/microvms/mvm-1%3Ax/suspend", "b=%2F&a=x%20y");
	hdr(&r, "Host", "127.0.0.1:7400");
	hdr(&r, "Content-Type", "application/json");
	hdr(&r, "My-Header", "  a   b\tc ");
	hdr(&r, "X-Amz-Date", DATE);
	r.body = (const uint8_t *)body;
	r.body_len = strlen(body);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=content-type;host;my-header;x-amz-date, "
			   "Signature=957060966da8b27a7be9f274929c6eda7eddd3cdca4635ef1e68cbb0af530c03"));
	struct sigv4_auth au;
	memset(&au, 0, sizeof au);
	strcpy(au.signed_headers, "content-type;host;my-header;x-amz-date");
	char creq[2048];
	CHECK(sigv4_canonical_request(&r, &au, creq, sizeof creq) > 0);
	CHECK_STR(creq, "POST\n/2025-09-09/microvms/mvm-1%253Ax/suspend\na=x%20y&b=%2F\n"
			"content-type:application/json\nhost:127.0.0.1:7400\nmy-header:a b c\n"
			"x-amz-date:20150830T123600Z\n\ncontent-type;host;my-header;x-amz-date\n"
			"5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22");
}

TEST(content_sha256_header)
{
	static const char body[] = "{\"x\":1}";
	struct httpmsg_request r = req("POST", "/2025-09-09/microvms", "");
	hdr(&r, "Host", "127.0.0.1:7400");
	hdr(&r, "X-Amz-Content-SHA256",
	    "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22");
	hdr(&r, "My-Header", "a");
	hdr(&r, "X-Amz-Date", DATE);
	r.body = (const uint8_t *)body;
	r.body_len = strlen(body);
	CHECK(signs_as(&r, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
			   "aws4_request, SignedHeaders=host;my-header;x-amz-content-sha256;"
			   "x-amz-date, Signature="
			   "c831a01e5089af690b203cd67241000f6a28c4a71c00d774922ced0fbcb5dee7"));
	/* A header that does not name the body's hash is refused. */
	char authz[1024], why[256];
	CHECK(sigv4_sign(&r, AKID, SECRET, "us-east-1", "service", DATE, authz, sizeof authz) == 0);
	hdr(&r, "Authorization", authz);
	r.body = (const uint8_t *)"{\"x\":2}";
	struct sigv4_auth au;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	CHECK(strstr(why, "x-amz-content-sha256") != NULL);
	r.headers[1].value = "UNSIGNED-PAYLOAD";
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
}

/* A streamed body (PROTOCOL.md 4.3) is signed UNSIGNED-PAYLOAD, and only it. */
TEST(unsigned_payload_streamed_only)
{
	struct httpmsg_request r = req("PUT", "/2025-09-09/microvms/mvm-1/files", "path=%2Ftmp");
	hdr(&r, "Host", "127.0.0.1:7400");
	hdr(&r, "X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD");
	hdr(&r, "X-Amz-Date", DATE);
	r.body_streamed = 1;
	char authz[1024], why[256];
	CHECK(sigv4_sign(&r, AKID, SECRET, "us-east-1", "lambda", DATE, authz, sizeof authz) == 0);
	hdr(&r, "Authorization", authz);
	struct sigv4_auth au;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_OK);
	/* the same request with a collected (empty) body: refused */
	r.body_streamed = 0;
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	/* streamed but signed with a hash: refused, naming UNSIGNED-PAYLOAD */
	r.body_streamed = 1;
	r.headers[1].value = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	CHECK(strstr(why, "UNSIGNED-PAYLOAD") != NULL);
}

TEST(presigned_query)
{
	struct httpmsg_request r = req(
		"GET", "/2025-09-09/microvms",
		"maxResults=5&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
		"20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&"
		"X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="
		"9fcbba6dc22298f58c1fd3d9f877804892b6a05594737300193a60d8000f962b");
	hdr(&r, "Host", "127.0.0.1:7400");
	struct sigv4_auth au;
	char why[256];
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK(au.presigned);
	CHECK_EQ(au.expires, 300);
	CHECK_STR(au.access_key, AKID);
	CHECK_EQ(sigv4_check_time(&au, T0 + 299, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_check_time(&au, T0 + 301, why, sizeof why), SIGV4_EXPIRED);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, "wrong", why, sizeof why), SIGV4_MISMATCH);
	r.raw_query = "maxResults=6&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
		      "20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&"
		      "X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="
		      "9fcbba6dc22298f58c1fd3d9f877804892b6a05594737300193a60d8000f962b";
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
}

TEST(tamper_and_wrong_secret)
{
	static const char body[] = "{\"imageIdentifier\":\"busybox\"}";
	struct httpmsg_request r = req("POST", "/2025-09-09/microvms", "");
	hdr(&r, "Host", "127.0.0.1:7400");
	hdr(&r, "X-Amz-Date", DATE);
	r.body = (const uint8_t *)body;
	r.body_len = strlen(body);
	char authz[1024], why[256];
	CHECK(sigv4_sign(&r, AKID, SECRET, "us-east-1", "lambda", DATE, authz, sizeof authz) == 0);
	hdr(&r, "Authorization", authz);
	struct sigv4_auth au;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_STR(au.service, "lambda");
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET "x", why, sizeof why), SIGV4_MISMATCH);
	CHECK(strstr(why, "does not match the signature you provided") != NULL);
	r.body_len--;
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	r.body_len++;
	r.method = "PUT";
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	r.method = "POST";
	r.raw_path = "/2025-09-09/microvmz";
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
	r.raw_path = "/2025-09-09/microvms";
	r.headers[0].value = "evil:7400";
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
}

TEST(skew_window)
{
	struct httpmsg_request r = req("GET", "/", "");
	hdr(&r, "Host", "h");
	hdr(&r, "X-Amz-Date", DATE);
	char authz[1024], why[256];
	CHECK(sigv4_sign(&r, AKID, SECRET, "us-east-1", "service", DATE, authz, sizeof authz) == 0);
	hdr(&r, "Authorization", authz);
	struct sigv4_auth au;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_EQ(au.time, T0);
	CHECK_EQ(sigv4_check_time(&au, T0 + 300, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_check_time(&au, T0 - 300, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_check_time(&au, T0 + 600, why, sizeof why), SIGV4_EXPIRED);
	CHECK_STR(why, "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z "
		       "(20150830T124600Z - 5 min.)");
	CHECK_EQ(sigv4_check_time(&au, T0 - 301, why, sizeof why), SIGV4_EXPIRED);
	CHECK(strncmp(why, "Signature not yet current", 25) == 0);
}

TEST(missing_and_malformed)
{
	struct httpmsg_request r = req("GET", "/", "");
	struct sigv4_auth au;
	char why[256];
	hdr(&r, "Host", "h");
	hdr(&r, "X-Amz-Date", DATE);
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_MISSING);
	static const char *const bad[] = {
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA1 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=host;x-amz-date, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, "
		"SignedHeaders=host;x-amz-date, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		/* host not signed */
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=x-amz-date, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		/* x-amz-date not signed: the skew window would mean nothing */
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=host, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		/* unsorted */
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=x-amz-date;host, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		/* short signature */
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=host;x-amz-date, Signature=5fa0",
		/* no signature */
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=host;x-amz-date",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hdr(&r, "Authorization", bad[i]);
		CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_MALFORMED);
		r.nheaders--;
	}
	/* No X-Amz-Date header. */
	r.nheaders = 1;
	hdr(&r, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature=" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_MALFORMED);
	/* Both a header and presigned parameters. */
	r.raw_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_MALFORMED);
	r.nheaders = 1;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_MALFORMED);
}

TEST(scope_date_must_match)
{
	struct httpmsg_request r = req("GET", "/", "");
	hdr(&r, "Host", "h");
	hdr(&r, "X-Amz-Date", DATE);
	char authz[1024], why[256];
	CHECK(sigv4_sign(&r, AKID, SECRET, "us-east-1", "service", DATE, authz, sizeof authz) == 0);
	char *d = strstr(authz, "/20150830/");
	CHECK(d != NULL);
	memcpy(d + 1, "20150831", 8);
	hdr(&r, "Authorization", authz);
	struct sigv4_auth au;
	CHECK_EQ(sigv4_parse(&r, &au, why, sizeof why), SIGV4_OK);
	CHECK_EQ(sigv4_verify(&r, &au, SECRET, why, sizeof why), SIGV4_MISMATCH);
}

TEST(time_roundtrip)
{
	int64_t t;
	char s[17];
	CHECK_EQ(sigv4_time_parse(DATE, &t), 0);
	CHECK_EQ(t, T0);
	sigv4_time_format(T0, s);
	CHECK_STR(s, DATE);
	for (int64_t x = 0; x < 4102444800; x += 86399 * 37) {
		sigv4_time_format(x, s);
		CHECK_EQ(sigv4_time_parse(s, &t), 0);
		CHECK_EQ(t, x);
	}
	CHECK_EQ(sigv4_time_parse("20150830T123600", &t), -1);
	CHECK_EQ(sigv4_time_parse("20151330T123600Z", &t), -1);
	CHECK_EQ(sigv4_time_parse("2015083OT123600Z", &t), -1);
}

TEST_MAIN(T(unsigned_payload_streamed_only), T(get_vanilla), T(get_vanilla_query_order_key_case), T(get_relative_and_utf8), T(repeated_header),
	  T(hearth_post_double_encoded), T(content_sha256_header), T(presigned_query),
	  T(tamper_and_wrong_secret), T(skew_window), T(missing_and_malformed),
	  T(scope_date_must_match), T(time_roundtrip))
