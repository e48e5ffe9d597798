/*
 * vmop.c - one action on one microVM (Suspend/Resume/TerminateMicrovm). The
 * API answers {}; the table output reads the VM back so the user sees the
 * state it moved to, and --wait polls until the settled state or a failure
 * (vmwait.h).
 */
#include "shell/client/vmop.h"
#include "shell/client/api.h"
#include "shell/client/vmwait.h"

#include <stdio.h>
#include <string.h>

enum { O_WAIT = 1, O_WAITT };

struct vmop_opts {
	struct api *a;
	int wait, wait_s;
};

static int vmop_opt(void *ctx, int opt, const char *arg)
{
	struct vmop_opts *o = ctx;
	if (opt == O_WAIT) {
		o->wait = 1;
		return 0;
	}
	if (opt == O_WAITT) {
		if ((o->wait_s = (int)api_number(arg, 1, 86400)) < 0)
			return api_usage(o->a, "--wait-timeout wants 1-86400 seconds");
		return 0;
	}
	return api_usage(o->a, "unexpected option");
}

int vmop_run(const struct vmop *op, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, O_WAIT },
		{ "wait-timeout", required_argument, NULL, O_WAITT },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	char usage[128];
	snprintf(usage, sizeof(usage), "%s ID [--wait [--wait-timeout S]] [--json]", op->cmd);
	struct api a;
	api_init(&a, op->cmd, usage);
	struct vmop_opts o = { .a = &a, .wait_s = 600 };
	int first, rc = api_parse(&a, argc, argv, longopts, vmop_opt, &o, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one microVM ID");
	const char *id = argv[first];
	char enc[512], path[700];
	if (api_escape(id, enc, sizeof(enc)) != 0)
		return api_usage(&a, "ID too long");
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s%s", enc, op->suffix);
	json_object *doc = NULL;
	if ((rc = api_call(&a, op->method, path, NULL, &doc)) != 0)
		return rc;
	if (a.json && !o.wait) {
		api_print_json(doc);
		json_object_put(doc);
		return 0;
	}
	json_object_put(doc);
	doc = NULL;
	if (o.wait) {
		rc = vmwait(&a, id, op->done, o.wait_s, &doc);
	} else {
		snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s", enc);
		rc = api_call(&a, "GET", path, NULL, &doc); /* read the new state back */
	}
	if (!doc)
		return rc;
	if (a.json)
		api_print_json(doc);
	else
		printf("%s  %s\n", api_str(doc, "microvmId"), api_str(doc, "state"));
	if (o.wait && strcmp(api_str(doc, "state"), op->done) != 0) {
		fprintf(stderr, "hearth: %s ended %s: %s\n", id, api_str(doc, "state"),
			api_str(doc, "stateReason"));
		rc = API_EXIT_FAIL;
	}
	json_object_put(doc);
	return rc;
}
