/* fuzz_tlssniff.c - the TLS sniff of an app's first answer from arbitrary bytes: one of
 * the two answers, a TLS record header always TLS, and bytes past TLSSNIFF_SCAN_MAX never
 * change an HTTP answer's verdict. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/tlssniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc = tlssniff_answer(data, size);
	if (rc != TLSSNIFF_CLEAR && rc != TLSSNIFF_TLS)
		abort();
	if (size >= 2 && (data[0] == 0x15 || data[0] == 0x16) && data[1] == 3 &&
	    rc != TLSSNIFF_TLS)
		abort();
	if (size > TLSSNIFF_SCAN_MAX && tlssniff_answer(data, TLSSNIFF_SCAN_MAX) != rc)
		abort();
	return 0;
}
