/* fuzz_tlshello.c - ClientHello peeking from arbitrary bytes: every prefix of an input
 * that parses is "more" (never a different answer), the server name is a printable
 * string inside its bound, and ALPN names kept are as long as they say. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/tlshello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tlshello h, g;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > TLSHELLO_PEEK_MAX)
		size = TLSHELLO_PEEK_MAX;
	int rc = tlshello_parse(data, size, &h);
	if (rc < TLSHELLO_E_TOOBIG || rc > TLSHELLO_OK)
		abort();
	if (rc != TLSHELLO_OK)
		return 0;
	size_t sl = strlen(h.sni);
	if (sl > TLSHELLO_SNI_MAX)
		abort();
	for (size_t i = 0; i < sl; i++)
		if (h.sni[i] <= 0x20 || h.sni[i] >= 0x7f)
			abort();
	unsigned n = h.nalpn < TLSHELLO_ALPN_MAX ? h.nalpn : TLSHELLO_ALPN_MAX;
	for (unsigned i = 0; i < n; i++)
		if (!h.alpn[i].len || strlen(h.alpn[i].name) > h.alpn[i].len)
			abort();
	/* The bytes before the message's end can only ask for more. */
	size_t cut = size / 2;
	int r2 = tlshello_parse(data, cut, &g);
	if (r2 == TLSHELLO_OK && cut < size && g.msglen != h.msglen)
		abort(); /* a shorter input parsed to a different message */
	return 0;
}
