/* test_argsplit.c - the prompt's tokenizer: quoting, escapes and every bound. */
#include "protocol/argsplit.h"
#include "tests/unit/test.h"

#define MAXW 8

static int split(const char *line, char *store, size_t cap, char **w, size_t *n)
{
	return argsplit(line, strlen(line), store, cap, w, MAXW, n);
}

TEST(plain_words)
{
	char store[64], *w[MAXW + 1];
	size_t n;
	CHECK_EQ(split("  list   --all\t", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 2);
	CHECK_STR(w[0], "list");
	CHECK_STR(w[1], "--all");
	CHECK(w[2] == NULL);
}

TEST(empty_and_blank_lines)
{
	char store[8], *w[MAXW + 1];
	size_t n = 7;
	CHECK_EQ(split("", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 0);
	CHECK(w[0] == NULL);
	CHECK_EQ(split(" \t \n", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 0);
}

TEST(quotes)
{
	char store[128], *w[MAXW + 1];
	size_t n;
	CHECK_EQ(split("tag arn 'k=a b' \"x=\\\"q\\\" \\n\" a'b'\"c\" '' \"\"", store, sizeof store,
		       w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 7);
	CHECK_STR(w[2], "k=a b");
	CHECK_STR(w[3], "x=\"q\" \\n"); /* \n is not an escape inside "..." */
	CHECK_STR(w[4], "abc");
	CHECK_STR(w[5], "");
	CHECK_STR(w[6], "");
}

TEST(backslash_outside_quotes)
{
	char store[64], *w[MAXW + 1];
	size_t n;
	CHECK_EQ(split("a\\ b \\'c", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 2);
	CHECK_STR(w[0], "a b");
	CHECK_STR(w[1], "'c");
	CHECK_STR(w[1], "'c");
	CHECK_EQ(split("single '\\' kept", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_STR(w[1], "\\");
}

TEST(unterminated)
{
	char store[64], *w[MAXW + 1];
	size_t n = 3;
	CHECK_EQ(split("get 'abc", store, sizeof store, w, &n), ARGSPLIT_E_QUOTE);
	CHECK_EQ(n, 0);
	CHECK_EQ(split("get \"abc", store, sizeof store, w, &n), ARGSPLIT_E_QUOTE);
	CHECK_EQ(split("get abc\\", store, sizeof store, w, &n), ARGSPLIT_E_QUOTE);
}

TEST(too_many_words)
{
	char store[64], *w[MAXW + 1];
	size_t n;
	CHECK_EQ(split("1 2 3 4 5 6 7 8", store, sizeof store, w, &n), ARGSPLIT_OK);
	CHECK_EQ(n, 8);
	CHECK(w[8] == NULL);
	CHECK_EQ(split("1 2 3 4 5 6 7 8 9", store, sizeof store, w, &n), ARGSPLIT_E_WORDS);
	CHECK_EQ(n, 0);
}

TEST(store_bound)
{
	/* "abc de": needs 3+1 + 2+1 = 7 bytes plus the one spare the contract asks */
	char store[16], *w[MAXW + 1];
	size_t n;
	memset(store, 'Z', sizeof store);
	CHECK_EQ(split("abc de", store, 8, w, &n), ARGSPLIT_OK);
	CHECK_STR(w[1], "de");
	CHECK_EQ(store[8], 'Z');
	for (size_t cap = 0; cap < 7; cap++) {
		memset(store, 'Z', sizeof store);
		CHECK_EQ(split("abc de", store, cap, w, &n), ARGSPLIT_E_SPACE);
		for (size_t i = cap; i < sizeof store; i++)
			CHECK_EQ(store[i], 'Z');
	}
	/* the documented sufficient size: len + maxwords + 1 */
	const char *line = "\"\" a b c d e f g";
	CHECK_EQ(argsplit(line, strlen(line), store, strlen(line) + MAXW + 1, w, MAXW, &n),
		 ARGSPLIT_OK);
}

TEST(nul_byte)
{
	char store[64], *w[MAXW + 1];
	size_t n;
	CHECK_EQ(argsplit("ab\0cd", 5, store, sizeof store, w, MAXW, &n), ARGSPLIT_E_NUL);
	CHECK_EQ(argsplit("ab\\\0", 4, store, sizeof store, w, MAXW, &n), ARGSPLIT_E_NUL);
	CHECK_STR(argsplit_strerror(ARGSPLIT_E_NUL), "NUL byte in line");
}

TEST_MAIN(T(plain_words), T(empty_and_blank_lines), T(quotes), T(backslash_outside_quotes),
	  T(unterminated), T(too_many_words), T(store_bound), T(nul_byte))
