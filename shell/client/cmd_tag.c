/* cmd_tag.c - `hearth tag ARN K=V...`: TagResource. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/tagpath.h"

#include <stdio.h>
#include <string.h>

int cmd_tag(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "tag", "tag ARN KEY=VALUE... [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc - first < 2)
		return api_usage(&a, "want an ARN and at least one KEY=VALUE");
	char path[2048];
	if (tagpath_build(argv[first], path, sizeof(path)) != 0)
		return api_usage(&a, "ARN too long");
	json_object *tags = json_object_new_object();
	for (int i = first + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			json_object_put(tags);
			return api_usage(&a, "'%s' is not KEY=VALUE", argv[i]);
		}
		char key[256];
		if ((size_t)(eq - argv[i]) >= sizeof(key)) {
			json_object_put(tags);
			return api_usage(&a, "tag key too long");
		}
		memcpy(key, argv[i], (size_t)(eq - argv[i]));
		key[eq - argv[i]] = 0;
		json_object_object_add(tags, key, json_object_new_string(eq + 1));
	}
	json_object *req = json_object_new_object(), *doc = NULL;
	json_object_object_add(req, "Tags", tags);
	rc = api_call(&a, "POST", path, req, &doc);
	json_object_put(req);
	if (rc == 0 && a.json)
		api_print_json(doc);
	json_object_put(doc);
	return rc;
}
