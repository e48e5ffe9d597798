/* cmd_tags.c - `hearth tags ARN`: ListTags. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"
#include "shell/client/tagpath.h"

#include <stdio.h>

int cmd_tags(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "tags", "tags ARN [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one ARN");
	char path[2048];
	if (tagpath_build(argv[first], path, sizeof(path)) != 0)
		return api_usage(&a, "ARN too long");
	json_object *doc = NULL, *tags;
	if ((rc = api_call(&a, "GET", path, NULL, &doc)) != 0)
		return rc;
	if (a.json) {
		api_print_json(doc);
	} else {
		struct table t;
		table_init(&t, 2, 1);
		const char *head[] = { "KEY", "VALUE" };
		table_row(&t, head);
		if (json_object_object_get_ex(doc, "Tags", &tags) && json_object_is_type(tags, json_type_object)) {
			json_object_object_foreach(tags, key, val) {
				const char *row[] = { key, json_object_get_string(val) };
				table_row(&t, row);
			}
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	json_object_put(doc);
	return 0;
}
