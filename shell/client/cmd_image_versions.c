/* cmd_image_versions.c - `hearth image versions NAME`: ListMicrovmImageVersions
 * with each version's build state and reason. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_image_versions(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "image versions", "image versions NAME [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	char enc[512], path[640], *next;
	json_object *items;
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one image NAME");
	if (api_escape(argv[first], enc, sizeof enc) != 0)
		return api_usage(&a, "NAME too long");
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions", enc);
	if ((rc = api_list(&a, path, 1, &items, &next)) != 0)
		return rc;
	free(next);
	if (a.json) {
		json_object *doc = json_object_new_object();
		json_object_object_add(doc, "items", items);
		api_print_json(doc);
		json_object_put(doc);
		return 0;
	}
	struct table t;
	table_init(&t, 6, 1);
	const char *head[] = { "VERSION", "STATE", "STATUS", "REASON", "CREATED", "MESSAGE" };
	table_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *v = json_object_array_get_idx(items, i), *h = NULL;
		char when[64];
		json_object_object_get_ex(v, "hearth", &h);
		const char *row[] = { api_str(v, "imageVersion"), api_str(v, "state"),
				      api_str(v, "status"), api_str(v, "stateReason"),
				      api_time(v, "createdAt", when, sizeof when),
				      h ? api_str(h, "stateReasonMessage") : "-" };
		table_row(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(items);
	return 0;
}
