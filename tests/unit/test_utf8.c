/* test_utf8.c - RFC 3629 UTF-8 checks (protocol/utf8.c) */
#include "protocol/utf8.h"
#include "test.h"

#define U(s) (const uint8_t *)(s), sizeof(s) - 1

TEST(valid)
{
	CHECK(utf8_valid(U("")));
	CHECK(utf8_valid(U("plain ascii\x01\x7f")));
	CHECK(utf8_valid(U("\xc2\x80 \xdf\xbf")));                 /* U+0080, U+07FF */
	CHECK(utf8_valid(U("\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf"))); /* around the surrogates */
	CHECK(utf8_valid(U("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf")));  /* U+10000, U+10FFFF */
	CHECK(utf8_valid(U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"))); /* Autobahn 6.2 */
}

TEST(invalid)
{
	static const char *const bad[] = {
		"\x80",             /* a lone continuation byte */
		"\xc0\x80",         /* overlong NUL */
		"\xc1\xbf",         /* overlong */
		"\xe0\x9f\xbf",     /* overlong 3-byte */
		"\xed\xa0\x80",     /* surrogate U+D800 */
		"\xed\xbf\xbf",     /* surrogate U+DFFF */
		"\xf0\x8f\xbf\xbf", /* overlong 4-byte */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xf5\x80\x80\x80", /* past U+10FFFF */
		"\xff",
		"\xc2",             /* cut short */
		"\xe1\x80",
		"\xc2\x41",         /* continuation missing */
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

/* A message checked in pieces, split anywhere, says what the whole does. */
TEST(incremental)
{
	static const char s[] = "a\xe2\x82\xac\xf0\x9f\x98\x80z";
	for (size_t cut = 0; cut <= sizeof s - 1; cut++) {
		struct utf8_check u;
		utf8_check_init(&u);
		CHECK_EQ(utf8_check_feed(&u, (const uint8_t *)s, cut), 0);
		CHECK_EQ(utf8_check_done(&u), cut == 0 || cut == 1 || cut == 4 || cut == 8 || cut == 9);
		CHECK_EQ(utf8_check_feed(&u, (const uint8_t *)s + cut, sizeof s - 1 - cut), 0);
		CHECK(utf8_check_done(&u));
	}
	struct utf8_check u;
	utf8_check_init(&u);
	CHECK_EQ(utf8_check_feed(&u, U("\xf4")), 0);
	CHECK_EQ(utf8_check_feed(&u, U("\x90")), -1); /* fails at the first byte that cannot be */
	CHECK_EQ(utf8_check_feed(&u, U("a")), -1);    /* and stays failed */
	CHECK(!utf8_check_done(&u));
}

TEST(prefix)
{
	CHECK_EQ(utf8_prefix(U("abc"), 10), 3u);
	CHECK_EQ(utf8_prefix(U("abc"), 2), 2u);
	CHECK_EQ(utf8_prefix(U("a\xe2\x82\xac"), 3), 1u); /* never half a character */
	CHECK_EQ(utf8_prefix(U("a\xe2\x82\xac"), 4), 4u);
	CHECK_EQ(utf8_prefix(U("ab\xff" "cd"), 10), 2u); /* up to the first invalid byte */
	CHECK_EQ(utf8_prefix(U("ab\xe2\x82"), 10), 2u);
}

TEST_MAIN(T(valid), T(invalid), T(incremental), T(prefix))
