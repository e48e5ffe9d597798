/* cmd_untag.c - `hearth untag ARN KEY...`: UntagResource (?tagKeys=K&tagKeys=...). */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/tagpath.h"

#include <stdio.h>
#include <string.h>

int cmd_untag(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "untag", "untag ARN KEY... [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc - first < 2)
		return api_usage(&a, "want an ARN and at least one KEY");
	char path[8192];
	if (tagpath_build(argv[first], path, sizeof(path)) != 0)
		return api_usage(&a, "ARN too long");
	size_t n = strlen(path);
	for (int i = first + 1; i < argc; i++) {
		char enc[1024];
		if (!argv[i][0])
			return api_usage(&a, "empty tag key");
		if (api_escape(argv[i], enc, sizeof(enc)) != 0)
			return api_usage(&a, "tag key too long");
		int w = snprintf(path + n, sizeof(path) - n, "%stagKeys=%s", i == first + 1 ? "?" : "&", enc);
		if (w < 0 || (size_t)w >= sizeof(path) - n)
			return api_usage(&a, "too many tag keys");
		n += (size_t)w;
	}
	json_object *doc = NULL;
	rc = api_call(&a, "DELETE", path, NULL, &doc);
	if (rc == 0 && a.json)
		api_print_json(doc);
	json_object_put(doc);
	return rc;
}
