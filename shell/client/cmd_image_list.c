/* cmd_image_list.c - `hearth image list`: the built images (ListMicrovmImages). */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_image_list(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "image list", "image list [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	json_object *items;
	char *next;
	if (rc)
		return rc;
	if (first != argc)
		return api_usage(&a, "unexpected argument '%s'", argv[first]);
	if ((rc = api_list(&a, API_VERSION_PREFIX "/microvm-images", 1, &items, &next)) != 0)
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
	table_init(&t, 5, 1);
	const char *head[] = { "NAME", "STATE", "ACTIVE", "FAILED", "CREATED" };
	table_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *im = json_object_array_get_idx(items, i);
		char when[64];
		const char *row[] = { api_str(im, "name"), api_str(im, "state"),
				      api_str(im, "latestActiveImageVersion"),
				      api_str(im, "latestFailedImageVersion"),
				      api_time(im, "createdAt", when, sizeof when) };
		table_row(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(items);
	return 0;
}
