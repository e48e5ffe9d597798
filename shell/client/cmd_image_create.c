/* cmd_image_create.c - `hearth image create NAME PATH` (CreateMicrovmImage)
 * and `hearth image update NAME PATH` (UpdateMicrovmImage: the next major
 * version). PATH is a directory with a Dockerfile at its root (zipped into
 * the user's cache, imgzip.h) or a .zip. Unless --no-wait, waits for the
 * version's build, showing its log on stderr; exit 1 with the reason when it
 * fails. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/imglog.h"
#include "shell/client/imgzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	O_HOOKS_PORT = 1, O_HOOK, O_ENV, O_MEMORY, O_VCPUS, O_CAPS_ALL, O_NO_WAIT, O_BASE,
	O_DESC, O_TOKEN, O_QUIET
};

/* --ready, --validate, --run, --resume, --suspend, --terminate: the hook and its block. */
static const struct {
	const char *name, *block;
} hooks[] = {
	{ "ready", "microvmImageHooks" }, { "validate", "microvmImageHooks" },
	{ "run", "microvmHooks" },        { "resume", "microvmHooks" },
	{ "suspend", "microvmHooks" },    { "terminate", "microvmHooks" },
};

struct create_opts {
	struct api *a;
	json_object *req, *env, *hooks;
	long port;
	int wait, quiet;
	const char *base;
};

static int set_hook(struct create_opts *o, const char *name)
{
	for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
		if (strcmp(hooks[i].name, name) != 0)
			continue;
		json_object *blk;
		if (!json_object_object_get_ex(o->hooks, hooks[i].block, &blk)) {
			blk = json_object_new_object();
			json_object_object_add(o->hooks, hooks[i].block, blk);
		}
		json_object_object_add(blk, name, json_object_new_string("ENABLED"));
		return 0;
	}
	return api_usage(o->a, "unknown hook %s", name);
}

static int create_opt(void *ctx, int opt, const char *arg)
{
	struct create_opts *o = ctx;
	long n;
	const char *eq;
	switch (opt) {
	case O_HOOKS_PORT:
		if ((o->port = api_number(arg, 1, 65535)) < 0)
			return api_usage(o->a, "--hooks-port: 1..65535");
		return 0;
	case O_ENV:
		eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return api_usage(o->a, "--env wants NAME=VALUE");
		char key[257];
		snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
		json_object_object_add(o->env, key, json_object_new_string(eq + 1));
		return 0;
	case O_MEMORY:
		if ((n = api_number(arg, 128, 32768)) < 0)
			return api_usage(o->a, "--memory: MiB, 128..32768");
		json_object *res = json_object_new_array(), *r = json_object_new_object();
		json_object_object_add(r, "minimumMemoryInMiB", json_object_new_int64(n));
		json_object_array_add(res, r);
		json_object_object_add(o->req, "resources", res);
		return 0;
	case O_VCPUS:
		if ((n = api_number(arg, 1, 16)) < 0)
			return api_usage(o->a, "--vcpus: 1..16");
		json_object *cpus = json_object_new_array(), *c = json_object_new_object();
		json_object_object_add(c, "architecture", json_object_new_string("X86_64"));
		json_object_object_add(c, "vcpus", json_object_new_int64(n));
		json_object_array_add(cpus, c);
		json_object_object_add(o->req, "cpuConfigurations", cpus);
		return 0;
	case O_CAPS_ALL: {
		json_object *caps = json_object_new_array();
		json_object_array_add(caps, json_object_new_string("ALL"));
		json_object_object_add(o->req, "additionalOsCapabilities", caps);
		return 0;
	}
	case O_NO_WAIT:
		o->wait = 0;
		return 0;
	case O_QUIET:
		o->quiet = 1;
		return 0;
	case O_BASE:
		o->base = arg;
		return 0;
	case O_DESC:
		json_object_object_add(o->req, "description", json_object_new_string(arg));
		return 0;
	case O_TOKEN:
		json_object_object_add(o->req, "clientToken", json_object_new_string(arg));
		return 0;
	}
	/* The hook flags are O_HOOK + index. */
	if (opt >= O_HOOK * 100 && opt < O_HOOK * 100 + (int)(sizeof hooks / sizeof hooks[0]))
		return set_hook(o, hooks[opt - O_HOOK * 100].name);
	return api_usage(o->a, "unexpected option");
}

static int create_or_update(int argc, char **argv, int update)
{
	static const struct option longopts[] = {
		{ "hooks-port", required_argument, NULL, O_HOOKS_PORT },
		{ "ready", no_argument, NULL, O_HOOK * 100 + 0 },
		{ "validate", no_argument, NULL, O_HOOK * 100 + 1 },
		{ "run", no_argument, NULL, O_HOOK * 100 + 2 },
		{ "resume", no_argument, NULL, O_HOOK * 100 + 3 },
		{ "suspend", no_argument, NULL, O_HOOK * 100 + 4 },
		{ "terminate", no_argument, NULL, O_HOOK * 100 + 5 },
		{ "env", required_argument, NULL, O_ENV },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "caps-all", no_argument, NULL, O_CAPS_ALL },
		{ "no-wait", no_argument, NULL, O_NO_WAIT },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "base", required_argument, NULL, O_BASE },
		{ "description", required_argument, NULL, O_DESC },
		{ "client-token", required_argument, NULL, O_TOKEN },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, update ? "image update" : "image create",
		 update ? "image update NAME PATH [options of create]"
			: "image create NAME PATH [--hooks-port N] [--ready] [--validate] [--run] "
			  "[--resume] [--suspend] [--terminate] [--env K=V]... [--memory MIB] "
			  "[--vcpus N] [--caps-all] [--base IMAGE] [--description D] "
			  "[--client-token T] [--no-wait] [--quiet] [--json]");
	struct create_opts o = { &a, json_object_new_object(), json_object_new_object(),
				 json_object_new_object(), 0, 1, 0, "busybox" };
	json_object *doc = NULL;
	int first, rc = api_parse(&a, argc, argv, longopts, create_opt, &o, &first);
	char uri[4200], err[512] = "", base[256], enc[512], path[700];
	if (rc == 0 && argc - first != 2)
		rc = api_usage(&a, "want NAME and PATH (a directory with a Dockerfile, or a .zip)");
	if (rc == 0 && json_object_object_length(o.hooks) > 0 && !o.port)
		rc = api_usage(&a, "the hooks need --hooks-port");
	if (rc == 0 && imgzip_artifact(argv[first + 1], argv[first], uri, sizeof uri, err,
				       sizeof err) < 0) {
		fprintf(stderr, "hearth %s: %s\n", a.cmd, err);
		rc = API_EXIT_FAIL;
	}
	if (rc == 0 && api_escape(argv[first], enc, sizeof enc) != 0)
		rc = api_usage(&a, "NAME too long");
	if (rc == 0) {
		/* A managed image's name or any ARN, as RunMicrovm takes them. */
		if (strncmp(o.base, "arn:", 4) == 0)
			snprintf(base, sizeof base, "%s", o.base);
		else
			snprintf(base, sizeof base, "arn:hearth:lambda:local:aws:microvm-image:%s",
				 o.base);
		json_object *ca = json_object_new_object();
		json_object_object_add(ca, "uri", json_object_new_string(uri));
		json_object_object_add(o.req, "codeArtifact", ca);
		json_object_object_add(o.req, "baseImageArn", json_object_new_string(base));
		json_object_object_add(o.req, "buildRoleArn",
				       json_object_new_string("arn:aws:iam::000000000000:role/hearth-build"));
		if (json_object_object_length(o.env))
			json_object_object_add(o.req, "environmentVariables", json_object_get(o.env));
		if (o.port) {
			json_object_object_add(o.hooks, "port", json_object_new_int64(o.port));
			json_object_object_add(o.req, "hooks", json_object_get(o.hooks));
		}
		if (update) {
			snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s", enc);
			rc = api_call(&a, "PUT", path, o.req, &doc);
		} else {
			json_object_object_add(o.req, "name", json_object_new_string(argv[first]));
			rc = api_call(&a, "POST", API_VERSION_PREFIX "/microvm-images", o.req, &doc);
		}
	}
	if (rc == 0) {
		const char *ver = api_str(doc, "imageVersion");
		if (!a.json)
			fprintf(stderr, "%s %s: building (%s)\n", argv[first], ver, uri);
		if (o.wait)
			rc = imglog_wait(&a, argv[first], ver, o.quiet ? NULL : stderr);
		if (a.json) {
			json_object *v = NULL;
			if (o.wait && imglog_version(&a, argv[first], ver, &v) == 0) {
				api_print_json(v);
				json_object_put(v);
			} else {
				api_print_json(doc);
			}
		} else if (rc == 0) {
			printf("%s %s %s\n", argv[first], ver, o.wait ? "SUCCESSFUL" : "PENDING");
		}
	}
	json_object_put(o.req);
	json_object_put(o.env);
	json_object_put(o.hooks);
	json_object_put(doc);
	return rc;
}

int cmd_image_create(int argc, char **argv)
{
	return create_or_update(argc, argv, 0);
}

int cmd_image_update(int argc, char **argv)
{
	return create_or_update(argc, argv, 1);
}
