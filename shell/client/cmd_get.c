/* cmd_get.c - `hearth get ID`: GetMicrovm. */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>

int cmd_get(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "get", "get ID [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one microVM ID");
	char enc[512], path[640];
	if (api_escape(argv[first], enc, sizeof(enc)) != 0)
		return api_usage(&a, "ID too long");
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s", enc);
	json_object *vm = NULL;
	if ((rc = api_call(&a, "GET", path, NULL, &vm)) != 0)
		return rc;
	if (a.json)
		api_print_json(vm);
	else
		api_print_microvm(vm);
	json_object_put(vm);
	return 0;
}
