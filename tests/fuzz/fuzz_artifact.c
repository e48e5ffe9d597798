/*
 * fuzz_artifact.c - the code artifact's zip checks (session/artifact.c) on
 * arbitrary bytes: libarchive's zip reader under hearth's defences. Every
 * input must end in 0 or -1 with a build reason set, never crash or leak;
 * an accepted zip has a reason of BR_NONE left untouched.
 */
#include "session/artifact.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct artifact_limits l;
	enum build_reason r = BR_NONE;
	char msg[256];
	artifact_limits_default(&l);
	/* small caps so a bomb is stopped quickly */
	l.max_entries = 64;
	l.max_file = 4u << 20;
	l.max_total = 8u << 20;
	int rc = artifact_check_mem(data, size, &l, &r, msg, sizeof msg);
	if (rc == 0 && r != BR_NONE)
		abort();
	if (rc != 0 && r != BR_ARCHIVE_INVALID && r != BR_ARCHIVE_DOCKERFILE_NOT_FOUND &&
	    r != BR_INTERNAL_PLATFORM_ERROR)
		abort();
	if (rc != 0 && strlen(msg) >= sizeof msg)
		abort();
	return 0;
}
