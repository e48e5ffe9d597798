/*
 * dnsmsg.c - bounded DNS message parsing for the DNS relay (see dnsmsg.h).
 */
#include "protocol/dnsmsg.h"

#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int dnsmsg_header(const uint8_t *m, size_t n, struct dnsmsg_hdr *h)
{
	if (n < DNSMSG_HDR_LEN)
		return DNSMSG_E_SHORT;
	h->id = get16(m);
	h->flags = get16(m + 2);
	h->qd = get16(m + 4);
	h->an = get16(m + 6);
	h->ns = get16(m + 8);
	h->ar = get16(m + 10);
	return 0;
}

int dnsmsg_name(const uint8_t *m, size_t n, size_t off, char *out, size_t cap, size_t *next)
{
	size_t pos = off, len = 0, wire = 1;
	unsigned jumps = 0;
	int jumped = 0;
	if (cap < DNSMSG_NAME_MAX + 1)
		return DNSMSG_E_SPACE;
	out[0] = 0;
	for (;;) {
		if (pos >= n)
			return DNSMSG_E_SHORT;
		uint8_t l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= n)
				return DNSMSG_E_SHORT;
			size_t to = ((size_t)(l & 0x3f) << 8) | m[pos + 1];
			/* Strictly backwards: every jump shortens the walk, so it ends. */
			if (to >= pos || ++jumps > DNSMSG_MAX_JUMPS)
				return DNSMSG_E_NAME;
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return DNSMSG_E_NAME; /* 0x40, 0x80: extended label types */
		if (l == 0) {
			if (!jumped)
				*next = pos + 1;
			out[len] = 0;
			return 0;
		}
		if (pos + 1 + l > n)
			return DNSMSG_E_SHORT;
		wire += 1u + l;
		if (wire > 255)
			return DNSMSG_E_NAME;
		if (len) {
			if (len + 1 > DNSMSG_NAME_MAX)
				return DNSMSG_E_NAME;
			out[len++] = '.';
		}
		for (unsigned i = 0; i < l; i++) {
			uint8_t c = m[pos + 1 + i];
			if (c <= 0x20 || c >= 0x7f || c == '.')
				return DNSMSG_E_NAME;
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c + ('a' - 'A'));
			if (len + 1 > DNSMSG_NAME_MAX)
				return DNSMSG_E_NAME;
			out[len++] = (char)c;
		}
		pos += 1u + l;
	}
}

static int question_at(const uint8_t *m, size_t n, size_t off, struct dnsmsg_question *q)
{
	size_t p;
	int rc = dnsmsg_name(m, n, off, q->name, sizeof q->name, &p);
	if (rc < 0)
		return rc;
	if (p + 4 > n)
		return DNSMSG_E_SHORT;
	q->qtype = get16(m + p);
	q->qclass = get16(m + p + 2);
	q->end = p + 4;
	return 0;
}

int dnsmsg_query(const uint8_t *m, size_t n, struct dnsmsg_hdr *h, struct dnsmsg_question *q)
{
	int rc = dnsmsg_header(m, n, h);
	if (rc < 0)
		return rc;
	if ((h->flags & (DNSMSG_F_QR | DNSMSG_F_OPCODE)) || h->qd != 1 || h->an || h->ns)
		return DNSMSG_E_FORM;
	return question_at(m, n, DNSMSG_HDR_LEN, q);
}

int dnsmsg_reply_matches(const uint8_t *m, size_t n, uint16_t id, const struct dnsmsg_question *q)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question r;
	int rc = dnsmsg_header(m, n, &h);
	if (rc < 0)
		return rc;
	if (!(h.flags & DNSMSG_F_QR) || h.id != id || h.qd != 1)
		return DNSMSG_E_FORM;
	rc = question_at(m, n, DNSMSG_HDR_LEN, &r);
	if (rc < 0)
		return rc;
	if (strcmp(r.name, q->name) || r.qtype != q->qtype || r.qclass != q->qclass)
		return DNSMSG_E_FORM;
	return 0;
}

/* Skip a name without decoding it (the walk is dnsmsg_name's). */
static int skip_name(const uint8_t *m, size_t n, size_t off, size_t *next)
{
	char tmp[DNSMSG_NAME_MAX + 1];
	return dnsmsg_name(m, n, off, tmp, sizeof tmp, next);
}

int dnsmsg_addrs(const uint8_t *m, size_t n, struct dnsmsg_addr *out, unsigned max,
		 unsigned *count)
{
	struct dnsmsg_hdr h;
	size_t p = DNSMSG_HDR_LEN;
	*count = 0;
	int rc = dnsmsg_header(m, n, &h);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < h.qd; i++) {
		if ((rc = skip_name(m, n, p, &p)) < 0)
			return rc;
		if (p + 4 > n)
			return DNSMSG_E_SHORT;
		p += 4;
	}
	for (unsigned i = 0; i < h.an; i++) {
		if ((rc = skip_name(m, n, p, &p)) < 0)
			return rc;
		if (p + 10 > n)
			return DNSMSG_E_SHORT;
		uint16_t type = get16(m + p), cls = get16(m + p + 2);
		uint32_t ttl = ((uint32_t)get16(m + p + 4) << 16) | get16(m + p + 6);
		uint16_t rdlen = get16(m + p + 8);
		p += 10;
		if (p + rdlen > n)
			return DNSMSG_E_SHORT;
		size_t alen = type == DNSMSG_T_A ? 4 : type == DNSMSG_T_AAAA ? 16 : 0;
		if (alen && cls == 1) {
			if (rdlen != alen)
				return DNSMSG_E_FORM;
			if (*count < max) {
				struct dnsmsg_addr *a = &out[(*count)++];
				memset(a, 0, sizeof *a);
				a->family = alen == 4 ? 4 : 6;
				memcpy(a->addr, m + p, alen);
				a->ttl = ttl;
			}
		}
		p += rdlen;
	}
	return 0;
}

/* Wire form of the parsed name (text labels never hold a dot), type, class. */
static size_t encode_question(const struct dnsmsg_question *q, uint8_t *out, size_t cap)
{
	size_t n = 0, tl = strlen(q->name);
	const char *s = q->name, *end = q->name + tl;
	while (s < end) {
		const char *dot = memchr(s, '.', (size_t)(end - s));
		size_t l = dot ? (size_t)(dot - s) : (size_t)(end - s);
		if (n + 1 + l > cap)
			return 0;
		out[n++] = (uint8_t)l;
		memcpy(out + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	if (n + 5 > cap)
		return 0;
	out[n++] = 0;
	put16(out + n, q->qtype);
	put16(out + n + 2, q->qclass);
	return n + 4;
}

size_t dnsmsg_error(const uint8_t *q, size_t qlen, uint8_t rcode, uint8_t *out, size_t cap)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question qq;
	if (dnsmsg_header(q, qlen, &h) < 0 || cap < DNSMSG_HDR_LEN)
		return 0;
	size_t len = DNSMSG_HDR_LEN;
	int withq = dnsmsg_query(q, qlen, &h, &qq) == 0;
	memset(out, 0, DNSMSG_HDR_LEN);
	put16(out, h.id);
	put16(out + 2, (uint16_t)(DNSMSG_F_QR | (h.flags & (DNSMSG_F_OPCODE | DNSMSG_F_RD)) |
				  DNSMSG_F_RA | (rcode & DNSMSG_F_RCODE)));
	if (withq) {
		size_t e = encode_question(&qq, out + DNSMSG_HDR_LEN, cap - DNSMSG_HDR_LEN);
		if (e) {
			put16(out + 4, 1);
			len += e;
		}
	}
	return len;
}

size_t dnsmsg_truncate(uint8_t *m, size_t n, size_t limit)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	if (n <= limit)
		return n;
	if (dnsmsg_header(m, n, &h) < 0)
		return 0;
	size_t end = DNSMSG_HDR_LEN;
	if (h.qd == 1) {
		if (question_at(m, n, DNSMSG_HDR_LEN, &q) < 0)
			return 0;
		end = q.end;
	}
	if (h.qd > 1 || end > limit)
		return 0;
	/* A pointer in the question can only point into the header: refuse it,
	 * the header is about to change. */
	if (h.qd == 1 && end - DNSMSG_HDR_LEN - 4 != (q.name[0] ? strlen(q.name) + 2 : 1))
		return 0;
	put16(m + 2, (uint16_t)(h.flags | DNSMSG_F_TC));
	put16(m + 6, 0);
	put16(m + 8, 0);
	put16(m + 10, 0);
	return end;
}

int dnsmsg_host_match(const char *pattern, const char *name)
{
	if (pattern[0] == '*' && pattern[1] == '.') {
		size_t pl = strlen(pattern + 1), nl = strlen(name); /* ".example.com" */
		return nl > pl && !strcmp(name + nl - pl, pattern + 1);
	}
	return !strcmp(pattern, name);
}
