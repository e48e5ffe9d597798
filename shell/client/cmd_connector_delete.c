/* cmd_connector_delete.c - `hearth connector delete NAME` (refused while a
 * live microVM uses it). */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>

int cmd_connector_delete(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "connector delete", "connector delete NAME");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one NAME");
	char name[200], path[400];
	if (api_escape(argv[first], name, sizeof name) < 0)
		return api_usage(&a, "NAME too long");
	snprintf(path, sizeof path, API_VERSION_PREFIX "/network-connectors/%s", name);
	json_object *doc = NULL;
	rc = api_call(&a, "DELETE", path, NULL, &doc);
	json_object_put(doc);
	return rc;
}
