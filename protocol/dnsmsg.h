/*
 * dnsmsg.h - the few parts of DNS messages (RFC 1035) hearthd's DNS relay
 * needs: a query's one question (name, type) for the egress policy, the
 * A/AAAA records of an answer (addresses an allowlist admits), a check that
 * an answer belongs to its query, error replies and truncation for UDP.
 * Pure and bounded: every length is checked before it is read; names are
 * at most 255 wire bytes; compression pointers must point strictly
 * backwards (so a name's walk always ends) and at most DNSMSG_MAX_JUMPS.
 */
#ifndef HEARTH_DNSMSG_H
#define HEARTH_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define DNSMSG_HDR_LEN 12
#define DNSMSG_MAX_LEN 65535u    /* a DNS message over TCP */
#define DNSMSG_UDP_LEN 512u      /* an answer over UDP without EDNS */
#define DNSMSG_NAME_MAX 253      /* dotted text, without the root's dot */
#define DNSMSG_MAX_JUMPS 64
#define DNSMSG_MAX_ADDRS 64      /* addresses taken from one answer */

enum dnsmsg_rcode {
	DNSMSG_NOERROR = 0,
	DNSMSG_FORMERR = 1,
	DNSMSG_SERVFAIL = 2,
	DNSMSG_NXDOMAIN = 3,
	DNSMSG_NOTIMP = 4,
	DNSMSG_REFUSED = 5,
};

enum dnsmsg_type { DNSMSG_T_A = 1, DNSMSG_T_CNAME = 5, DNSMSG_T_AAAA = 28, DNSMSG_T_OPT = 41 };

/* Header flag bits (second 16-bit word). */
#define DNSMSG_F_QR 0x8000u
#define DNSMSG_F_OPCODE 0x7800u
#define DNSMSG_F_TC 0x0200u
#define DNSMSG_F_RD 0x0100u
#define DNSMSG_F_RA 0x0080u
#define DNSMSG_F_RCODE 0x000fu

/* Errors (negative). */
enum { DNSMSG_E_SHORT = -1, DNSMSG_E_NAME = -2, DNSMSG_E_FORM = -3, DNSMSG_E_SPACE = -4 };

struct dnsmsg_hdr {
	uint16_t id, flags, qd, an, ns, ar;
};

struct dnsmsg_question {
	char name[DNSMSG_NAME_MAX + 1]; /* lower case, dotted, "" for the root */
	uint16_t qtype, qclass;
	size_t end; /* offset just after the question */
};

struct dnsmsg_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
	uint32_t ttl;
};

int dnsmsg_header(const uint8_t *m, size_t n, struct dnsmsg_hdr *h);
/*
 * A name at off: dotted lower-case text into out (cap >= DNSMSG_NAME_MAX+1),
 * *next the offset after the name's bytes at off (not after a pointer's
 * target). Labels must be 1..63 bytes of printable ASCII other than '.'
 * (hostnames and the like: other bytes are refused, so the text is
 * unambiguous). 0 or a negative DNSMSG_E_*.
 */
int dnsmsg_name(const uint8_t *m, size_t n, size_t off, char *out, size_t cap, size_t *next);
/*
 * A standard query: QR 0, opcode 0 (QUERY), exactly one question, no answer
 * or authority records (additional records, e.g. EDNS OPT, are allowed and
 * not looked at). 0 or a negative DNSMSG_E_*.
 */
int dnsmsg_query(const uint8_t *m, size_t n, struct dnsmsg_hdr *h, struct dnsmsg_question *q);
/*
 * An answer to query (id, question): QR 1, same id, one question equal to
 * q's (name compared without case). 0, or a negative DNSMSG_E_*.
 */
int dnsmsg_reply_matches(const uint8_t *m, size_t n, uint16_t id, const struct dnsmsg_question *q);
/*
 * The A and AAAA records (class IN) of an answer's answer section, at most
 * max; *count how many. 0, or a negative DNSMSG_E_* when a record is malformed.
 */
int dnsmsg_addrs(const uint8_t *m, size_t n, struct dnsmsg_addr *out, unsigned max,
		 unsigned *count);
/*
 * Build a reply with rcode to the query in q (qlen bytes) into out: the
 * query's id, opcode and RD, QR and RA set, and its question when the query
 * parses (else no question). Returns the length, or 0 when the query is
 * shorter than a header (nothing to answer) or cap is too small.
 */
size_t dnsmsg_error(const uint8_t *q, size_t qlen, uint8_t rcode, uint8_t *out, size_t cap);
/*
 * Fit an answer into limit bytes: unchanged when n <= limit, else cut to the
 * header and question with TC set and the record counts zero (RFC 1035
 * 4.2.1, RFC 2181 9). Returns the new length; 0 when even that does not fit
 * or the message does not parse.
 */
size_t dnsmsg_truncate(uint8_t *m, size_t n, size_t limit);

/*
 * Does an allowlist host pattern cover name (both lower case, dotted, no
 * trailing dot)? "example.com" covers only itself; "*.example.com" covers
 * every name below example.com but not example.com itself.
 */
int dnsmsg_host_match(const char *pattern, const char *name);

#endif
