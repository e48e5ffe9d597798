/* fuzz_api_ingress.c - api_ingress_flags on arbitrary connector strings: the
 * flags are within API_INGRESS_*, and an accepted name stays accepted in its
 * canonical (stored) form with the same flags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_ingress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[2200], canon[2400];
	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int f = api_ingress_flags(s);
	if (f < -1 || f > (API_INGRESS_HTTP | API_INGRESS_SHELL))
		abort();
	if (f >= 0 && (api_ingress_canonical(s, canon, sizeof canon) != 0 ||
		       api_ingress_flags(canon) != f))
		abort();
	return 0;
}
