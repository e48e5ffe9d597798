/* cmd_shell_token.c - `hearth shell-token ID --minutes M`: CreateMicrovmShellAuthToken. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/token_out.h"

#include <stdio.h>

enum { O_MIN = 1 };

struct shtok_opts {
	struct api *a;
	long minutes;
};

static int shtok_opt(void *ctx, int opt, const char *arg)
{
	struct shtok_opts *o = ctx;
	if (opt != O_MIN)
		return api_usage(o->a, "unexpected option");
	if ((o->minutes = api_number(arg, 1, 60)) < 0)
		return api_usage(o->a, "--minutes wants 1-60");
	return 0;
}

int cmd_shell_token(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "minutes", required_argument, NULL, O_MIN },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "shell-token", "shell-token ID --minutes M [--json]");
	struct shtok_opts o = { .a = &a, .minutes = -1 };
	int first, rc = api_parse(&a, argc, argv, longopts, shtok_opt, &o, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one microVM ID");
	if (o.minutes < 0)
		return api_usage(&a, "--minutes is required");
	char enc[512], path[700];
	if (api_escape(argv[first], enc, sizeof(enc)) != 0)
		return api_usage(&a, "ID too long");
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s/shell-auth-token", enc);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "expirationInMinutes", json_object_new_int64(o.minutes));
	return token_out_request(&a, path, req);
}
