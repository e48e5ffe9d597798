/*
 * tlssniff.c - a TLS server's answer to a cleartext request; see tlssniff.h.
 */
#include "protocol/tlssniff.h"

#include <string.h>

static int has(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(p + i, s, k))
			return 1;
	return 0;
}

int tlssniff_answer(const uint8_t *p, size_t n)
{
	if (!n)
		return TLSSNIFF_CLEAR;
	if (p[0] == 0x15 || p[0] == 0x16)
		return n < 2 || p[1] == 3 ? TLSSNIFF_TLS : TLSSNIFF_CLEAR;
	if (n > TLSSNIFF_SCAN_MAX)
		n = TLSSNIFF_SCAN_MAX;
	/* "HTTP/1.x 400 " */
	if (n < 13 || memcmp(p, "HTTP/1.", 7) || memcmp(p + 8, " 400 ", 5))
		return TLSSNIFF_CLEAR;
	return has(p, n, "HTTP request") && has(p, n, "HTTPS") ? TLSSNIFF_TLS : TLSSNIFF_CLEAR;
}
