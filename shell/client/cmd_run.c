/* cmd_run.c - `hearth run IMAGE ...`: RunMicrovm, optionally waiting for RUNNING. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/vmwait.h"

#include <stdio.h>
#include <string.h>

#define RUN_USAGE "run IMAGE [--version V] [--max-duration S] [--idle S --suspended-for S " \
		  "--auto-resume|--no-auto-resume] [--payload TEXT] [--client-token T] " \
		  "[--wait [--wait-timeout S]] [--json]"

enum { O_VERSION = 1, O_MAXDUR, O_IDLE, O_SUSP, O_AUTO, O_NOAUTO, O_PAYLOAD, O_TOKEN, O_WAIT,
       O_WAITT };

struct run_opts {
	struct api *a;
	const char *version, *payload, *token;
	long maxdur, idle, susp;
	int autoresume; /* -1 unset */
	int wait, wait_s;
};

static int run_opt(void *ctx, int opt, const char *arg)
{
	struct run_opts *o = ctx;
	switch (opt) {
	case O_VERSION: o->version = arg; return 0;
	case O_PAYLOAD: o->payload = arg; return 0;
	case O_TOKEN: o->token = arg; return 0;
	case O_AUTO: o->autoresume = 1; return 0;
	case O_NOAUTO: o->autoresume = 0; return 0;
	case O_WAIT: o->wait = 1; return 0;
	case O_MAXDUR:
		if ((o->maxdur = api_number(arg, 1, 28800)) < 0)
			return api_usage(o->a, "--max-duration wants 1-28800 seconds");
		return 0;
	case O_IDLE:
		if ((o->idle = api_number(arg, 60, 999999999)) < 0)
			return api_usage(o->a, "--idle wants seconds (at least 60)");
		return 0;
	case O_SUSP:
		if ((o->susp = api_number(arg, 0, 999999999)) < 0)
			return api_usage(o->a, "--suspended-for wants seconds");
		return 0;
	case O_WAITT:
		if ((o->wait_s = (int)api_number(arg, 1, 86400)) < 0)
			return api_usage(o->a, "--wait-timeout wants 1-86400 seconds");
		return 0;
	}
	return api_usage(o->a, "unexpected option");
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", required_argument, NULL, O_VERSION },
		{ "max-duration", required_argument, NULL, O_MAXDUR },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "suspended-for", required_argument, NULL, O_SUSP },
		{ "auto-resume", no_argument, NULL, O_AUTO },
		{ "no-auto-resume", no_argument, NULL, O_NOAUTO },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "client-token", required_argument, NULL, O_TOKEN },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "wait-timeout", required_argument, NULL, O_WAITT },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "run", RUN_USAGE);
	struct run_opts o = { .a = &a, .maxdur = -1, .idle = -1, .susp = -1, .autoresume = -1,
			      .wait_s = 600 };
	int first, rc = api_parse(&a, argc, argv, longopts, run_opt, &o, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one IMAGE");
	int any_idle = o.idle >= 0 || o.susp >= 0 || o.autoresume >= 0;
	if (any_idle && (o.idle < 0 || o.susp < 0 || o.autoresume < 0))
		return api_usage(&a, "an idle policy needs --idle, --suspended-for and "
				     "--auto-resume or --no-auto-resume together");
	if (o.payload && strlen(o.payload) > 16384)
		return api_usage(&a, "--payload is at most 16384 bytes");

	json_object *req = json_object_new_object();
	json_object_object_add(req, "imageIdentifier", json_object_new_string(argv[first]));
	if (o.version)
		json_object_object_add(req, "imageVersion", json_object_new_string(o.version));
	if (o.maxdur >= 0)
		json_object_object_add(req, "maximumDurationInSeconds", json_object_new_int64(o.maxdur));
	if (any_idle) {
		json_object *ip = json_object_new_object();
		json_object_object_add(ip, "maxIdleDurationSeconds", json_object_new_int64(o.idle));
		json_object_object_add(ip, "suspendedDurationSeconds", json_object_new_int64(o.susp));
		json_object_object_add(ip, "autoResumeEnabled", json_object_new_boolean(o.autoresume));
		json_object_object_add(req, "idlePolicy", ip);
	}
	if (o.payload)
		json_object_object_add(req, "runHookPayload", json_object_new_string(o.payload));
	if (o.token)
		json_object_object_add(req, "clientToken", json_object_new_string(o.token));

	json_object *vm = NULL;
	rc = api_call(&a, "POST", API_VERSION_PREFIX "/microvms", req, &vm);
	json_object_put(req);
	if (rc)
		return rc;
	if (o.wait) {
		char id[256];
		snprintf(id, sizeof(id), "%s", api_str(vm, "microvmId"));
		json_object *last = NULL;
		rc = vmwait(&a, id, "RUNNING", o.wait_s, &last);
		if (rc) {
			json_object_put(vm);
			return rc;
		}
		json_object_put(vm);
		vm = last;
	}
	if (a.json)
		api_print_json(vm);
	else
		api_print_microvm(vm);
	if (o.wait && strcmp(api_str(vm, "state"), "RUNNING") != 0) {
		fprintf(stderr, "hearth: %s ended %s: %s\n", api_str(vm, "microvmId"),
			api_str(vm, "state"), api_str(vm, "stateReason"));
		rc = API_EXIT_FAIL;
	}
	json_object_put(vm);
	return rc;
}
