/* fuzz_awsini.c - AWS credentials/config files from arbitrary bytes: every
 * section is found and the walk always ends, moving forward. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/awsini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct awsini_profile p, q;
	size_t pos = 0, last = 0;
	while (awsini_next((const char *)data, size, &pos, &p)) {
		if (pos <= last || pos > size)
			abort();
		last = pos;
		if (strlen(p.name) >= sizeof p.name || strlen(p.secret) >= sizeof p.secret)
			abort();
		/* A name without NULs is found again by name (the first of its kind). */
		if (!p.too_long && awsini_find((const char *)data, size, p.name, &q) != 1)
			abort();
	}
	if (pos > size)
		abort();
	return 0;
}
