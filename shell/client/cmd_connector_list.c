/* cmd_connector_list.c - `hearth connector list`: the allowlist connectors. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"

#include <stdio.h>
#include <string.h>

/* "a, b, c" of a string array (truncated to fit). */
static void joined(json_object *o, const char *key, char *out, size_t n)
{
	json_object *arr;
	size_t at = 0;
	out[0] = '\0';
	if (!json_object_object_get_ex(o, key, &arr) || !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr) && at < n; i++) {
		int w = snprintf(out + at, n - at, "%s%s", i ? ", " : "",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

int cmd_connector_list(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "connector list", "connector list [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc != first)
		return api_usage(&a, "no arguments expected");
	json_object *doc = NULL, *items;
	if ((rc = api_call(&a, "GET", API_VERSION_PREFIX "/network-connectors", NULL, &doc)) != 0)
		return rc;
	if (a.json) {
		api_print_json(doc);
	} else {
		struct table t;
		table_init(&t, 4, 1);
		const char *head[] = { "NAME", "HOSTS", "CIDRS", "ARN" };
		table_row(&t, head);
		if (json_object_object_get_ex(doc, "networkConnectors", &items) &&
		    json_object_is_type(items, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(items); i++) {
				json_object *c = json_object_array_get_idx(items, i);
				char hosts[512], cidrs[512];
				joined(c, "hosts", hosts, sizeof hosts);
				joined(c, "cidrs", cidrs, sizeof cidrs);
				const char *row[] = { api_str(c, "name"), hosts[0] ? hosts : "-",
						      cidrs[0] ? cidrs : "-",
						      api_str(c, "networkConnectorArn") };
				table_row(&t, row);
			}
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	json_object_put(doc);
	return 0;
}
