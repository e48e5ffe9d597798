/* test_dnsmsg.c - DNS message parsing for the relay: queries, names and
 * their compression bounds, answers' addresses, error replies, truncation. */
#include <string.h>

#include "protocol/dnsmsg.h"
#include "test.h"

/* id 0x1234, RD, one question example.COM A IN */
static const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
				 0, 1, 0, 1 };

/* The answer: two A records (one owner a pointer to the question), a CNAME, an AAAA. */
static const uint8_t answer[] = {
	0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
	0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1,
	0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,
	0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 61, 0, 4, 10, 0, 0, 2,
	0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 62, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 1,
};

TEST(parse_query)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	CHECK_EQ(dnsmsg_query(query, sizeof query, &h, &q), 0);
	CHECK_EQ(h.id, 0x1234);
	CHECK_STR(q.name, "example.com");
	CHECK_EQ(q.qtype, 1);
	CHECK_EQ(q.qclass, 1);
	CHECK_EQ(q.end, sizeof query);
	/* Every cut is refused, never read past. */
	for (size_t n = 0; n < sizeof query; n++)
		CHECK(dnsmsg_query(query, n, &h, &q) < 0);
}

TEST(query_shape)
{
	uint8_t m[sizeof query];
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	memcpy(m, query, sizeof m);
	m[2] |= 0x80; /* a response */
	CHECK_EQ(dnsmsg_query(m, sizeof m, &h, &q), DNSMSG_E_FORM);
	memcpy(m, query, sizeof m);
	m[5] = 2; /* two questions */
	CHECK_EQ(dnsmsg_query(m, sizeof m, &h, &q), DNSMSG_E_FORM);
	memcpy(m, query, sizeof m);
	m[2] |= 0x28; /* opcode 5 (UPDATE) */
	CHECK_EQ(dnsmsg_query(m, sizeof m, &h, &q), DNSMSG_E_FORM);
	memcpy(m, query, sizeof m);
	m[14] = '.'; /* a dot inside a label would make the text ambiguous */
	CHECK_EQ(dnsmsg_query(m, sizeof m, &h, &q), DNSMSG_E_NAME);
}

TEST(name_bounds)
{
	uint8_t m[600];
	char out[DNSMSG_NAME_MAX + 1];
	size_t next;
	memset(m, 0, sizeof m);
	/* A pointer to itself, and one forwards: refused (walks must shorten). */
	m[12] = 0xc0;
	m[13] = 12;
	CHECK_EQ(dnsmsg_name(m, 14, 12, out, sizeof out, &next), DNSMSG_E_NAME);
	m[13] = 20;
	CHECK_EQ(dnsmsg_name(m, 30, 12, out, sizeof out, &next), DNSMSG_E_NAME);
	/* 128 labels of one byte: 256 wire bytes, over the 255 limit. */
	size_t p = 12;
	for (int i = 0; i < 128; i++) {
		m[p++] = 1;
		m[p++] = 'a';
	}
	m[p++] = 0;
	CHECK_EQ(dnsmsg_name(m, p, 12, out, sizeof out, &next), DNSMSG_E_NAME);
	/* 127 of them fit: 253 characters of text. */
	CHECK_EQ(dnsmsg_name(m, p, 14, out, sizeof out, &next), 0);
	CHECK_EQ(strlen(out), 253);
	CHECK_EQ(next, p);
	/* A label over 63 (0x40 is an extended type) is refused. */
	m[12] = 64;
	CHECK_EQ(dnsmsg_name(m, p, 12, out, sizeof out, &next), DNSMSG_E_NAME);
	/* The output buffer must hold the longest name. */
	CHECK_EQ(dnsmsg_name(m, p, 14, out, 10, &next), DNSMSG_E_SPACE);
}

TEST(pointer_chain_bounded)
{
	/* A chain of backward pointers longer than DNSMSG_MAX_JUMPS. */
	uint8_t m[12 + 1 + 2 * 100];
	char out[DNSMSG_NAME_MAX + 1];
	size_t next;
	memset(m, 0, sizeof m);
	m[12] = 0;
	for (int i = 0; i < 100; i++) {
		size_t at = 13 + 2 * (size_t)i, to = i ? at - 2 : 12;
		m[at] = (uint8_t)(0xc0 | (to >> 8));
		m[at + 1] = (uint8_t)to;
	}
	CHECK_EQ(dnsmsg_name(m, sizeof m, 13 + 2 * 10, out, sizeof out, &next), 0);
	CHECK_STR(out, "");
	CHECK_EQ(next, 13 + 2 * 10 + 2);
	CHECK_EQ(dnsmsg_name(m, sizeof m, 13 + 2 * 99, out, sizeof out, &next), DNSMSG_E_NAME);
}

TEST(answer_addrs)
{
	struct dnsmsg_addr a[DNSMSG_MAX_ADDRS];
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	unsigned n;
	CHECK_EQ(dnsmsg_query(query, sizeof query, &h, &q), 0);
	CHECK_EQ(dnsmsg_reply_matches(answer, sizeof answer, 0x1234, &q), 0);
	CHECK_EQ(dnsmsg_reply_matches(answer, sizeof answer, 0x1235, &q), DNSMSG_E_FORM);
	CHECK_EQ(dnsmsg_addrs(answer, sizeof answer, a, DNSMSG_MAX_ADDRS, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(a[0].family, 4);
	CHECK_EQ(a[0].addr[3], 1);
	CHECK_EQ(a[1].addr[3], 2);
	CHECK_EQ(a[1].ttl, 61);
	CHECK_EQ(a[2].family, 6);
	CHECK_EQ(a[2].addr[1], 0x01);
	CHECK_EQ(a[2].addr[15], 1);
	/* At most max are taken; the rest still has to parse. */
	CHECK_EQ(dnsmsg_addrs(answer, sizeof answer, a, 1, &n), 0);
	CHECK_EQ(n, 1);
	for (size_t cut = 0; cut < sizeof answer; cut++)
		CHECK(dnsmsg_addrs(answer, cut, a, DNSMSG_MAX_ADDRS, &n) < 0);
	/* An A record whose data is not 4 bytes is malformed. */
	uint8_t bad[sizeof answer];
	memcpy(bad, answer, sizeof bad);
	bad[29 + 10 + 1] = 5;
	CHECK(dnsmsg_addrs(bad, sizeof bad, a, DNSMSG_MAX_ADDRS, &n) < 0);
}

TEST(error_reply)
{
	uint8_t out[600];
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	size_t n = dnsmsg_error(query, sizeof query, DNSMSG_REFUSED, out, sizeof out);
	CHECK_EQ(n, sizeof query);
	CHECK_EQ(dnsmsg_header(out, n, &h), 0);
	CHECK_EQ(h.id, 0x1234);
	CHECK_EQ(h.flags & DNSMSG_F_RCODE, DNSMSG_REFUSED);
	CHECK(h.flags & DNSMSG_F_QR);
	CHECK(h.flags & DNSMSG_F_RD);
	CHECK_EQ(h.qd, 1);
	CHECK_EQ(dnsmsg_query(query, sizeof query, &h, &q), 0);
	CHECK_EQ(dnsmsg_reply_matches(out, n, 0x1234, &q), 0);
	/* A query that does not parse: FORMERR with the header only. */
	n = dnsmsg_error(query, 20, DNSMSG_FORMERR, out, sizeof out);
	CHECK_EQ(n, DNSMSG_HDR_LEN);
	CHECK_EQ(out[5], 0);
	CHECK_EQ(out[3] & 0xf, DNSMSG_FORMERR);
	/* Nothing to answer below a header. */
	CHECK_EQ(dnsmsg_error(query, 11, DNSMSG_FORMERR, out, sizeof out), 0);
}

TEST(truncate)
{
	uint8_t m[sizeof answer];
	struct dnsmsg_hdr h;
	memcpy(m, answer, sizeof m);
	CHECK_EQ(dnsmsg_truncate(m, sizeof m, 512), sizeof m);
	size_t n = dnsmsg_truncate(m, sizeof m, 40);
	CHECK_EQ(n, 29);
	CHECK_EQ(dnsmsg_header(m, n, &h), 0);
	CHECK(h.flags & DNSMSG_F_TC);
	CHECK_EQ(h.an, 0);
	CHECK_EQ(h.qd, 1);
	memcpy(m, answer, sizeof m);
	CHECK_EQ(dnsmsg_truncate(m, sizeof m, 20), 0);
}

TEST(host_match)
{
	CHECK(dnsmsg_host_match("example.com", "example.com"));
	CHECK(!dnsmsg_host_match("example.com", "www.example.com"));
	CHECK(!dnsmsg_host_match("example.com", "xexample.com"));
	CHECK(dnsmsg_host_match("*.example.com", "www.example.com"));
	CHECK(dnsmsg_host_match("*.example.com", "a.b.example.com"));
	CHECK(!dnsmsg_host_match("*.example.com", "example.com"));
	CHECK(!dnsmsg_host_match("*.example.com", "badexample.com"));
	CHECK(!dnsmsg_host_match("*.example.com", "example.org"));
}

TEST_MAIN(T(parse_query), T(query_shape), T(name_bounds), T(pointer_chain_bounded),
	  T(answer_addrs), T(error_reply), T(truncate), T(host_match))
