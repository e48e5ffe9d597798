/* tagpath.c - path of a resource's tags. */
#include "shell/client/tagpath.h"
#include "shell/client/api.h"

#include <stdio.h>

int tagpath_build(const char *arn, char *dst, size_t cap)
{
	char enc[1536];
	if (api_escape(arn, enc, sizeof(enc)) != 0)
		return -1;
	int n = snprintf(dst, cap, API_TAGS_PREFIX "/tags/%s", enc);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
