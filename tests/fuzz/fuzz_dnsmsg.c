/* fuzz_dnsmsg.c - DNS messages from arbitrary bytes: parsing never reads out
 * of bounds; a parsed query's error reply parses and matches it; truncation
 * keeps a parseable header within its limit; host patterns match sanely. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	struct dnsmsg_addr a[DNSMSG_MAX_ADDRS];
	unsigned n;
	uint8_t out[600];
	if (size > DNSMSG_MAX_LEN)
		return 0;
	if (dnsmsg_addrs(data, size, a, DNSMSG_MAX_ADDRS, &n) == 0 && n > DNSMSG_MAX_ADDRS)
		abort();
	int isq = dnsmsg_query(data, size, &h, &q) == 0;
	if (isq && (strlen(q.name) > DNSMSG_NAME_MAX || q.end > size))
		abort();
	size_t e = dnsmsg_error(data, size, DNSMSG_REFUSED, out, sizeof out);
	if (size >= DNSMSG_HDR_LEN && e < DNSMSG_HDR_LEN)
		abort();
	if (isq && dnsmsg_reply_matches(out, e, h.id, &q) != 0)
		abort();
	uint8_t *m = malloc(size ? size : 1);
	if (!m)
		return 0;
	memcpy(m, data, size);
	size_t t = dnsmsg_truncate(m, size, DNSMSG_UDP_LEN);
	if (t > DNSMSG_UDP_LEN && t != size)
		abort();
	if (t && t < size && (dnsmsg_header(m, t, &h) != 0 || !(h.flags & DNSMSG_F_TC)))
		abort();
	free(m);
	/* A parsed name covers itself, and its wildcard covers only names below. */
	if (isq && q.name[0]) {
		char pat[DNSMSG_NAME_MAX + 3] = "*.";
		memcpy(pat + 2, q.name, strlen(q.name) + 1);
		if (!dnsmsg_host_match(q.name, q.name) || dnsmsg_host_match(pat, q.name))
			abort();
	}
	return 0;
}
