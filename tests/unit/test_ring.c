/* test_ring.c - the shell replay ring and its offsets (session/ring.c) */
#include "session/ring.h"
#include "test.h"

/* The held bytes from `from`, joined. */
static size_t collect(const struct ring *r, uint64_t from, uint8_t *out)
{
	const uint8_t *p[2];
	size_t len[2], n = 0;
	int k = ring_span(r, from, p, len);
	for (int i = 0; i < k; i++) {
		memcpy(out + n, p[i], len[i]);
		n += len[i];
	}
	return n;
}

TEST(offsets_and_wrap)
{
	struct ring r;
	uint8_t out[64];
	CHECK_EQ(ring_init(&r, 8), 0);
	CHECK_EQ(ring_start(&r), 0);
	CHECK_EQ(collect(&r, 0, out), 0);
	ring_put(&r, "abcde", 5);
	CHECK_EQ(ring_end(&r), 5);
	CHECK_EQ(collect(&r, 0, out), 5);
	CHECK_MEM(out, "abcde", 5);
	CHECK_EQ(collect(&r, 3, out), 2);
	CHECK_MEM(out, "de", 2);
	ring_put(&r, "fghij", 5); /* wraps: holds cdefghij */
	CHECK_EQ(ring_end(&r), 10);
	CHECK_EQ(ring_start(&r), 2);
	CHECK_EQ(collect(&r, 2, out), 8);
	CHECK_MEM(out, "cdefghij", 8);
	CHECK_EQ(collect(&r, 7, out), 3);
	CHECK_MEM(out, "hij", 3);
	CHECK_EQ(collect(&r, 1, out), 0); /* no longer held */
	CHECK_EQ(collect(&r, 10, out), 0);
	ring_put(&r, "0123456789AB", 12); /* longer than the ring */
	CHECK_EQ(ring_end(&r), 22);
	CHECK_EQ(collect(&r, ring_start(&r), out), 8);
	CHECK_MEM(out, "456789AB", 8);
	ring_free(&r);
}

TEST(attach)
{
	struct ring r;
	uint64_t from, lost;
	CHECK_EQ(ring_init(&r, 4), 0);
	ring_attach(&r, 0, 0, &from, &lost);
	CHECK(from == 0 && lost == 0);
	ring_put(&r, "abcdefg", 7); /* holds defg: 3..7 */
	ring_attach(&r, 0, 0, &from, &lost); /* whole ring */
	CHECK(from == 3 && lost == 0);
	ring_attach(&r, 1, 5, &from, &lost); /* seen through 4 */
	CHECK(from == 5 && lost == 0);
	ring_attach(&r, 1, 1, &from, &lost); /* 1, 2 are gone */
	CHECK(from == 3 && lost == 2);
	ring_attach(&r, 1, 7, &from, &lost); /* up to date */
	CHECK(from == 7 && lost == 0);
	ring_attach(&r, 1, 99, &from, &lost); /* past the end */
	CHECK(from == 7 && lost == 0);
	ring_free(&r);
}

/* Many uneven writes against a plain copy of the stream. */
TEST(against_model)
{
	static uint8_t model[100000], out[1000];
	struct ring r;
	size_t total = 0;
	unsigned seed = 7;
	CHECK_EQ(ring_init(&r, 997), 0);
	while (total + 3000 < sizeof model) {
		seed = seed * 1103515245u + 12345u;
		size_t n = (seed >> 16) % 2500;
		for (size_t i = 0; i < n; i++)
			model[total + i] = (uint8_t)(seed >> (i % 24));
		ring_put(&r, model + total, n);
		total += n;
		CHECK_EQ(ring_end(&r), total);
		uint64_t start = ring_start(&r);
		CHECK_EQ(start, total > 997 ? total - 997 : 0);
		uint64_t from = start + (seed % 50 < total - start ? seed % 50 : 0);
		size_t got = collect(&r, from, out);
		CHECK_EQ(got, total - from);
		CHECK_MEM(out, model + from, got);
	}
	ring_free(&r);
}

TEST_MAIN(T(offsets_and_wrap), T(attach), T(against_model))
