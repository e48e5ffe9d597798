/* utf8.c - RFC 3629 UTF-8 checks, pure; see utf8.h. */
#include "protocol/utf8.h"

void utf8_check_init(struct utf8_check *u)
{
	u->need = 0;
	u->lo = 0x80;
	u->hi = 0xbf;
	u->bad = 0;
}

/* One byte; 0 or -1. The lead byte decides how many continuation bytes
 * follow and narrows the first one's range (overlong forms, surrogates,
 * code points past U+10FFFF are refused there). */
static int step(struct utf8_check *u, uint8_t b)
{
	if (u->need) {
		if (b < u->lo || b > u->hi)
			return -1;
		u->lo = 0x80;
		u->hi = 0xbf;
		u->need--;
		return 0;
	}
	if (b < 0x80)
		return 0;
	if (b < 0xc2 || b > 0xf4)
		return -1; /* a continuation byte, an overlong lead (C0, C1) or past U+10FFFF */
	if (b < 0xe0)
		u->need = 1;
	else if (b < 0xf0) {
		u->need = 2;
		u->lo = b == 0xe0 ? 0xa0 : 0x80; /* E0: no overlong 3-byte form */
		u->hi = b == 0xed ? 0x9f : 0xbf; /* ED: no surrogates */
	} else {
		u->need = 3;
		u->lo = b == 0xf0 ? 0x90 : 0x80; /* F0: no overlong 4-byte form */
		u->hi = b == 0xf4 ? 0x8f : 0xbf; /* F4: nothing past U+10FFFF */
	}
	return 0;
}

int utf8_check_feed(struct utf8_check *u, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && !u->bad; i++)
		if (step(u, p[i]) < 0)
			u->bad = 1;
	return u->bad ? -1 : 0;
}

int utf8_check_done(const struct utf8_check *u)
{
	return !u->bad && !u->need;
}

int utf8_valid(const uint8_t *p, size_t n)
{
	struct utf8_check u;
	utf8_check_init(&u);
	return utf8_check_feed(&u, p, n) == 0 && utf8_check_done(&u);
}

size_t utf8_prefix(const uint8_t *p, size_t n, size_t max)
{
	struct utf8_check u;
	size_t good = 0;
	utf8_check_init(&u);
	for (size_t i = 0; i < n && i < max; i++) {
		if (step(&u, p[i]) < 0)
			break;
		if (!u.need)
			good = i + 1;
	}
	return good;
}
