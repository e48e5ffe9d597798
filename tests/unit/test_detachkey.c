/* test_detachkey.c - the Ctrl-] d detach sequence of `hearth attach` and `hearth shell`. */
#include "shell/client/detachkey.h"
#include "tests/unit/test.h"

static size_t filter(struct detachkey *k, const char *in, uint8_t *out, size_t cap)
{
	return detachkey_filter(k, (const uint8_t *)in, strlen(in), out, cap);
}

TEST(plain_keys_pass)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[16];
	CHECK_EQ(filter(&k, "ls -l\r", out, sizeof out), 6);
	CHECK_MEM(out, "ls -l\r", 6);
	CHECK_EQ(k.detached, 0);
}

TEST(detach_drops_the_rest)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[16];
	CHECK_EQ(filter(&k, "ab\x1d" "dcd", out, sizeof out), 2);
	CHECK_MEM(out, "ab", 2);
	CHECK_EQ(k.detached, 1);
	CHECK_EQ(filter(&k, "xy", out, sizeof out), 0); /* detached stays detached */
}

TEST(doubled_key_sends_one)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[16];
	CHECK_EQ(filter(&k, "a\x1d\x1d" "d", out, sizeof out), 3);
	CHECK_MEM(out, "a\x1d" "d", 3);
	CHECK_EQ(k.detached, 0);
}

TEST(other_key_sends_both)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[16];
	CHECK_EQ(filter(&k, "\x1dx", out, sizeof out), 2);
	CHECK_MEM(out, "\x1dx", 2);
}

TEST(prefix_spans_calls)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[16];
	CHECK_EQ(filter(&k, "a\x1d", out, sizeof out), 1);
	CHECK_EQ(k.prefix, 1);
	CHECK_EQ(filter(&k, "d", out, sizeof out), 0);
	CHECK_EQ(k.detached, 1);

	struct detachkey k2 = { 0, 0 };
	CHECK_EQ(filter(&k2, "\x1d", out, sizeof out), 0);
	/* a held-over Ctrl-] plus n keys needs n + 1 bytes */
	CHECK_EQ(filter(&k2, "abc", out, 4), 4);
	CHECK_MEM(out, "\x1d" "abc", 4);
}

TEST(out_bound)
{
	struct detachkey k = { 0, 0 };
	uint8_t out[8];
	memset(out, 'Z', sizeof out);
	CHECK_EQ(filter(&k, "abcdef", out, 3), 3);
	CHECK_EQ(out[3], 'Z');
	memset(out, 'Z', sizeof out);
	CHECK_EQ(filter(&k, "\x1dx", out, 1), 0); /* Ctrl-] x does not fit in one byte */
	CHECK_EQ(out[0], 'Z');
	CHECK_EQ(filter(&k, "", out, 0), 0);
}

TEST_MAIN(T(plain_keys_pass), T(detach_drops_the_rest), T(doubled_key_sends_one),
	  T(other_key_sends_both), T(prefix_spans_calls), T(out_bound))
