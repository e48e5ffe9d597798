/* cmd_image_status.c - `hearth image activate|deactivate NAME VERSION`:
 * UpdateMicrovmImageVersion (status ACTIVE or INACTIVE; RunMicrovm without
 * imageVersion takes the newest ACTIVE version that built). */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>

static int set_status(int argc, char **argv, int active)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, active ? "image activate" : "image deactivate",
		 active ? "image activate NAME VERSION [--json]"
			: "image deactivate NAME VERSION [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	char enc[512], venc[256], path[900];
	json_object *doc = NULL, *req;
	if (rc)
		return rc;
	if (argc - first != 2)
		return api_usage(&a, "want NAME and VERSION");
	if (api_escape(argv[first], enc, sizeof enc) != 0 ||
	    api_escape(argv[first + 1], venc, sizeof venc) != 0)
		return api_usage(&a, "NAME or VERSION too long");
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions/%s", enc, venc);
	req = json_object_new_object();
	json_object_object_add(req, "status", json_object_new_string(active ? "ACTIVE" : "INACTIVE"));
	rc = api_call(&a, "PATCH", path, req, &doc);
	json_object_put(req);
	if (rc)
		return rc;
	if (a.json)
		api_print_json(doc);
	else
		printf("%s %s %s\n", argv[first], api_str(doc, "imageVersion"), api_str(doc, "status"));
	json_object_put(doc);
	return 0;
}

int cmd_image_activate(int argc, char **argv)
{
	return set_status(argc, argv, 1);
}

int cmd_image_deactivate(int argc, char **argv)
{
	return set_status(argc, argv, 0);
}
