/* test_idmsg.c - identity request/answer frames: whole, split at every byte,
 * several in one read, a length past the reader's buffer, and the audience rule. */
#include <string.h>

#include "protocol/idmsg.h"
#include "test.h"

TEST(roundtrip)
{
	struct buf b;
	uint8_t rb[IDMSG_HDR + 64];
	struct idmsg_reader r;
	struct idmsg m;
	size_t used;
	buf_init(&b, 4096);
	CHECK_EQ(idmsg_put(&b, 0x01020304u, 0, "foo", 3), 0);
	CHECK_EQ(idmsg_put(&b, 7, IDMSG_E_RATE, "slow down", 9), 0);
	CHECK_EQ(idmsg_put(&b, 8, 0, NULL, 0), 0);
	const uint8_t want[] = { 1, 2, 3, 4, 0, 0, 3, 'f', 'o', 'o' };
	CHECK_MEM(buf_ptr(&b), want, sizeof want);
	/* Every split point: the same three messages come out. */
	for (size_t cut = 0; cut <= buf_used(&b); cut++) {
		const uint8_t *p = buf_ptr(&b);
		size_t n = buf_used(&b), off = 0;
		int got = 0;
		idmsg_reader_init(&r, rb, sizeof rb);
		while (off < n || got < 3) {
			size_t lim = off < cut ? cut - off : n - off;
			int rc = idmsg_feed(&r, p + off, lim, &used, &m);
			CHECK(rc >= 0);
			CHECK(used <= lim);
			off += used;
			if (rc == 0 && off == n)
				break;
			if (rc != 1)
				continue;
			got++;
			if (got == 1)
				CHECK(m.id == 0x01020304u && m.status == 0 && m.len == 3 &&
				      !memcmp(m.body, "foo", 3));
			if (got == 2)
				CHECK(m.id == 7 && m.status == IDMSG_E_RATE && m.len == 9 &&
				      !memcmp(m.body, "slow down", 9));
			if (got == 3)
				CHECK(m.id == 8 && m.len == 0);
		}
		CHECK_EQ(got, 3);
	}
	buf_free(&b);
}

TEST(too_long)
{
	uint8_t rb[IDMSG_HDR + 4];
	struct idmsg_reader r;
	struct idmsg m;
	size_t used;
	const uint8_t fits[] = { 0, 0, 0, 1, 0, 0, 4, 'a', 'b', 'c', 'd' };
	const uint8_t over[] = { 0, 0, 0, 1, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	idmsg_reader_init(&r, rb, sizeof rb);
	CHECK_EQ(idmsg_feed(&r, fits, sizeof fits, &used, &m), 1);
	CHECK_EQ(used, sizeof fits);
	CHECK_EQ(idmsg_feed(&r, over, sizeof over, &used, &m), -1);
	CHECK_EQ(used, (size_t)IDMSG_HDR);
	/* The writer refuses a body past the u16 and a full buffer. */
	struct buf b;
	static uint8_t big[IDMSG_MAX_BODY + 1];
	buf_init(&b, 10);
	CHECK_EQ(idmsg_put(&b, 1, 0, "abc", 3), 0);
	CHECK_EQ(idmsg_put(&b, 1, 0, "a", 1), -1);
	CHECK_EQ(buf_used(&b), (size_t)IDMSG_HDR + 3);
	buf_free(&b);
	buf_init(&b, 1u << 20);
	CHECK_EQ(idmsg_put(&b, 1, 0, big, sizeof big), -1);
	CHECK_EQ(idmsg_put(&b, 1, 0, big, IDMSG_MAX_BODY), 0);
	buf_free(&b);
}

TEST(audience)
{
	char a[IDMSG_AUD_MAX + 1];
	memset(a, 'x', sizeof a);
	CHECK(idmsg_audience_ok("foo", 3));
	CHECK(idmsg_audience_ok("https://sts.example.com/x?y=1~", 30));
	CHECK(idmsg_audience_ok(a, IDMSG_AUD_MAX));
	CHECK(!idmsg_audience_ok(a, IDMSG_AUD_MAX + 1));
	CHECK(!idmsg_audience_ok("", 0));
	CHECK(!idmsg_audience_ok("a b", 3));
	CHECK(!idmsg_audience_ok("a\tb", 3));
	CHECK(!idmsg_audience_ok("a\x7f", 2));
	CHECK(!idmsg_audience_ok("caf\xc3\xa9", 5));
	CHECK(!idmsg_audience_ok("a\0b", 3));
}

TEST_MAIN(T(roundtrip), T(too_long), T(audience))
