/* Unit tests for protocol/buf.c: bounds, growth, compaction, readers. */
#include "protocol/buf.h"
#include "tests/unit/test.h"

#include <stdlib.h>

TEST(put_get_roundtrip)
{
	struct buf b;
	struct rd r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	buf_init(&b, 64);
	CHECK_EQ(buf_put_u8(&b, 0xab), BUF_OK);
	CHECK_EQ(buf_put_u16(&b, 0x1234), BUF_OK);
	CHECK_EQ(buf_put_u32(&b, 0xdeadbeef), BUF_OK);
	CHECK_EQ(buf_put_u64(&b, 0x0102030405060708ull), BUF_OK);
	CHECK_EQ(buf_used(&b), 15u);
	CHECK_EQ(buf_ptr(&b)[1], 0x12); /* big-endian */
	r = rd_make(buf_ptr(&b), buf_used(&b));
	CHECK(!rd_u8(&r, &u8) && u8 == 0xab);
	CHECK(!rd_u16(&r, &u16) && u16 == 0x1234);
	CHECK(!rd_u32(&r, &u32) && u32 == 0xdeadbeef);
	CHECK(!rd_u64(&r, &u64) && u64 == 0x0102030405060708ull);
	CHECK_EQ(rd_u8(&r, &u8), BUF_E_SHORT);
	buf_free(&b);
}

TEST(max_is_hard)
{
	struct buf b;
	uint8_t x[100] = { 0 };

	buf_init(&b, 100);
	CHECK_EQ(buf_put(&b, x, 100), BUF_OK);
	CHECK_EQ(buf_put_u8(&b, 1), BUF_E_FULL);
	CHECK_EQ(buf_used(&b), 100u); /* a failed put writes nothing */
	buf_consume(&b, 60);
	CHECK_EQ(buf_room(&b), 60u);
	CHECK_EQ(buf_put(&b, x, 60), BUF_OK); /* compaction reuses consumed space */
	CHECK(b.cap <= 100);
	CHECK_EQ(buf_put_u8(&b, 1), BUF_E_FULL);
	buf_free(&b);
}

TEST(consume_keeps_order)
{
	struct buf b;
	char out[8];

	buf_init(&b, 1 << 20);
	CHECK_EQ(buf_put(&b, "abcdef", 6), BUF_OK);
	buf_consume(&b, 2);
	CHECK_EQ(buf_put(&b, "gh", 2), BUF_OK);
	CHECK_EQ(buf_used(&b), 6u);
	memcpy(out, buf_ptr(&b), 6);
	CHECK_MEM(out, "cdefgh", 6);
	buf_consume(&b, 100); /* clamped */
	CHECK_EQ(buf_used(&b), 0u);
	buf_free(&b);
}

TEST(short_reads_do_not_move)
{
	const uint8_t d[3] = { 1, 2, 3 };
	struct rd r = rd_make(d, 3);
	uint32_t v;
	const uint8_t *p;

	CHECK_EQ(rd_u32(&r, &v), BUF_E_SHORT);
	CHECK_EQ(r.len, 3u);
	CHECK_EQ(rd_bytes(&r, 4, &p), BUF_E_SHORT);
	CHECK_EQ(rd_bytes(&r, 3, &p), BUF_OK);
	CHECK_EQ(r.len, 0u);
}

TEST(str16_limits)
{
	struct buf b;
	char *big = malloc(70000);

	CHECK(big != NULL);
	memset(big, 'x', 70000);
	buf_init(&b, 1 << 20);
	CHECK_EQ(buf_put_str16(&b, big, 70000), BUF_E_FULL);
	CHECK_EQ(buf_used(&b), 0u);
	CHECK_EQ(buf_put_str16(&b, "hi", 2), BUF_OK);
	CHECK_EQ(buf_used(&b), 4u);
	buf_free(&b);
	free(big);
}

TEST(reserve_commit)
{
	struct buf b;
	uint8_t *p;

	buf_init(&b, 1000);
	p = buf_reserve(&b, 500);
	CHECK(p != NULL);
	memset(p, 7, 10);
	buf_commit(&b, 10);
	CHECK_EQ(buf_used(&b), 10u);
	CHECK(buf_reserve(&b, 991) == NULL);
	CHECK(buf_reserve(&b, 990) != NULL);
	buf_free(&b);
}

TEST_MAIN(T(put_get_roundtrip), T(max_is_hard), T(consume_keeps_order), T(short_reads_do_not_move),
	  T(str16_limits), T(reserve_commit))
