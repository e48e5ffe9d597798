/*
 * fuzz_dockerignore.c - .dockerignore text and COPY globs
 * (protocol/dockerignore.c) from arbitrary bytes: the input parsed as a
 * .dockerignore and matched against paths taken from its own lines, and
 * split at the first NUL into a glob and a path for dfignore_glob. Nothing
 * may crash, leak, or take more than linear work per match.
 */
#include "protocol/dockerignore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const paths[] = { "a", "a/b", "a/b/c.go", "Dockerfile", ".dockerignore",
				     "node_modules/x/y", "README.md", "temp1", "x/temp" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct dfignore *ig = dfignore_parse((const char *)data, size, err, sizeof err);
	if (ig) {
		for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
			int m = dfignore_match(ig, paths[i]);
			if (m != 0 && m != 1)
				abort();
			dfignore_may_reinclude(ig, paths[i]);
		}
		/* every line of the input, as a path */
		char *t = strndup((const char *)data, size);
		for (char *save = NULL, *l = t ? strtok_r(t, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save))
			if (dfignore_match(ig, l) < 0)
				abort();
		free(t);
		dfignore_free(ig);
	}
	/* glob NUL path */
	const uint8_t *z = memchr(data, 0, size);
	if (z) {
		char *pat = strndup((const char *)data, (size_t)(z - data));
		char *path = strndup((const char *)z + 1, size - (size_t)(z - data) - 1);
		if (pat && path) {
			int m = dfignore_glob(pat, path);
			if (m < -1 || m > 1)
				abort();
			/* a literal pattern (no metacharacters) matches itself */
			if (!strpbrk(pat, "*?[\\") && dfignore_glob(pat, pat) != 1)
				abort();
		}
		free(pat);
		free(path);
	}
	return 0;
}
