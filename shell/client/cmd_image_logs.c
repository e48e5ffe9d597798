/* cmd_image_logs.c - `hearth image logs NAME [-f] [--version V]`: a build's
 * log (the newest version's unless --version), followed until the build
 * ends with -f (hearth's logs extension, PROTOCOL.md 9). */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/imglog.h"

#include <stdio.h>
#include <string.h>

enum { O_FOLLOW = 1, O_VERSION };

struct logs_opts {
	struct api *a;
	int follow;
	const char *version;
};

static int logs_opt(void *ctx, int opt, const char *arg)
{
	struct logs_opts *o = ctx;
	if (opt == O_FOLLOW)
		o->follow = 1;
	else if (opt == O_VERSION)
		o->version = arg;
	else
		return api_usage(o->a, "unexpected option");
	return 0;
}

int cmd_image_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, O_FOLLOW },
		{ "version", required_argument, NULL, O_VERSION },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	static char follow[] = "--follow";
	struct api a;
	/* The common parser takes long options only: -f is --follow. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-f"))
			argv[i] = follow;
	api_init(&a, "image logs", "image logs NAME [-f|--follow] [--version V]");
	struct logs_opts o = { &a, 0, NULL };
	int first, rc = api_parse(&a, argc, argv, longopts, logs_opt, &o, &first);
	char version[128], build[128];
	json_object *v = NULL;
	long long off = 0;
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one image NAME");
	if (o.version)
		snprintf(version, sizeof version, "%s", o.version);
	else if ((rc = imglog_latest(&a, argv[first], version, sizeof version)) != 0)
		return rc;
	if ((rc = imglog_version(&a, argv[first], version, &v)) == 0 &&
	    (rc = imglog_build_id(&a, argv[first], v, build, sizeof build)) == 0)
		rc = imglog_print(&a, argv[first], version, build, o.follow, &off, stdout);
	json_object_put(v);
	return rc;
}
