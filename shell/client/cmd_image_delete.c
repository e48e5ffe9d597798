/* cmd_image_delete.c - `hearth image delete NAME [--version V]`:
 * DeleteMicrovmImage, or DeleteMicrovmImageVersion of one version. */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>

enum { O_VERSION = 1 };

struct delete_opts {
	struct api *a;
	const char *version;
};

static int delete_opt(void *ctx, int opt, const char *arg)
{
	struct delete_opts *o = ctx;
	if (opt != O_VERSION)
		return api_usage(o->a, "unexpected option");
	o->version = arg;
	return 0;
}

int cmd_image_delete(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", required_argument, NULL, O_VERSION },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "image delete", "image delete NAME [--version V] [--json]");
	struct delete_opts o = { &a, NULL };
	int first, rc = api_parse(&a, argc, argv, longopts, delete_opt, &o, &first);
	char enc[512], venc[256], path[900];
	json_object *doc = NULL;
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one image NAME");
	if (api_escape(argv[first], enc, sizeof enc) != 0 ||
	    (o.version && api_escape(o.version, venc, sizeof venc) != 0))
		return api_usage(&a, "NAME or VERSION too long");
	if (o.version)
		snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions/%s", enc,
			 venc);
	else
		snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s", enc);
	if ((rc = api_call(&a, "DELETE", path, NULL, &doc)) != 0)
		return rc;
	if (a.json)
		api_print_json(doc);
	else if (o.version)
		printf("%s %s %s\n", argv[first], o.version, api_str(doc, "state"));
	else
		printf("%s %s\n", argv[first], api_str(doc, "state"));
	json_object_put(doc);
	return 0;
}
