/* fuzz_awsini.c - AWS credentials/config files from arbitrary bytes: every
 * section is found and the walk always ends, moving forward; setting a
 * section makes it findable with the new values and keeps the others. */
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
	/* As text (up to a NUL): set [hearth], then find it with its new key. */
	char *text = strndup((const char *)data, size);
	if (!text)
		return 0;
	char *t = awsini_set_section(text, "hearth", "aws_access_key_id = AKIAFUZZ\n", 0);
	if (!t || awsini_find(t, strlen(t), "hearth", &p) != 1 || strcmp(p.key_id, "AKIAFUZZ"))
		abort();
	/* Every other section is still there. */
	pos = 0;
	while (awsini_next(text, strlen(text), &pos, &p))
		if (!p.too_long && strcmp(p.name, "hearth") &&
		    awsini_find(t, strlen(t), p.name, &q) != 1)
			abort();
	free(t);
	free(text);
	return 0;
}
