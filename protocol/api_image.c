/*
 * api_image.c - image.json and Hooks validation.
 */
#include "api_image.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *block; /* microvmImageHooks or microvmHooks */
	int min, max, def;
} hook_spec[API_HOOK_COUNT] = {
	[API_HOOK_READY] = { "ready", "microvmImageHooks", 1, 3600, 30 },
	[API_HOOK_VALIDATE] = { "validate", "microvmImageHooks", 1, 3600, 30 },
	[API_HOOK_RUN] = { "run", "microvmHooks", 1, 60, 1 },
	[API_HOOK_RESUME] = { "resume", "microvmHooks", 1, 60, 1 },
	[API_HOOK_SUSPEND] = { "suspend", "microvmHooks", 1, 60, 1 },
	[API_HOOK_TERMINATE] = { "terminate", "microvmHooks", 1, 60, 1 },
};

const char *api_image_hook_name(enum api_hook h)
{
	return (unsigned)h < API_HOOK_COUNT ? hook_spec[h].name : "?";
}

int api_image_parse_hooks(struct json_object *o, struct api_hooks *out, struct api_err *e)
{
	memset(out, 0, sizeof *out);
	int64_t port = 0;
	if (api_json_int(o, "port", 1, 65535, &port, e) < 0)
		return -1;
	out->port = (int)port;
	for (int h = 0; h < API_HOOK_COUNT; h++) {
		struct json_object *blk;
		char key[64];
		const char *state;
		int64_t t;
		out->timeout[h] = hook_spec[h].def;
		int rc = api_json_obj(o, hook_spec[h].block, &blk, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		rc = api_json_str(blk, hook_spec[h].name, 1, 16, &state, NULL, e);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			if (strcmp(state, "ENABLED") == 0)
				out->enabled[h] = 1;
			else if (strcmp(state, "DISABLED") != 0)
				return api_fail(e, API_E_VALIDATION,
						"%s must be ENABLED or DISABLED", hook_spec[h].name);
		}
		snprintf(key, sizeof key, "%sTimeoutInSeconds", hook_spec[h].name);
		rc = api_json_int(blk, key, hook_spec[h].min, hook_spec[h].max, &t, e);
		if (rc < 0)
			return -1;
		if (rc == 1)
			out->timeout[h] = (int)t;
	}
	for (int h = 0; h < API_HOOK_COUNT; h++)
		if (out->enabled[h] && !out->port)
			return api_fail(e, API_E_VALIDATION, "enabled hooks require a port");
	return 0;
}

static int copy_str(struct json_object *o, const char *key, int required, char *out, size_t n,
		    struct api_err *e)
{
	const char *s;
	int rc = api_json_str(o, key, required ? 1 : 0, n - 1, &s, NULL, e);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (required)
			return api_fail(e, API_E_VALIDATION, "image.json: %s is required", key);
		out[0] = '\0';
		return 0;
	}
	snprintf(out, n, "%s", s);
	return 0;
}

int api_image_parse_os_caps(struct json_object *o, int *all, struct api_err *e)
{
	static const char key[] = "additionalOsCapabilities";
	struct json_object *arr;
	int rc = api_json_arr(o, key, 0, 1, &arr, e);

	*all = 0;
	if (rc <= 0)
		return rc;
	if (json_object_array_length(arr) == 0)
		return 0;
	struct json_object *v = json_object_array_get_idx(arr, 0);
	if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "ALL") != 0)
		return api_fail(e, API_E_VALIDATION, "%s: the only value is \"ALL\"", key);
	*all = 1;
	return 0;
}

/* Copy s (n bytes, no NUL) into the app's text; its offset in *off. */
static int app_put(struct api_image_app *a, const char *what, const char *s, size_t n,
		   uint32_t *off, struct api_err *e)
{
	if (memchr(s, '\0', n))
		return api_fail(e, API_E_VALIDATION, "image.json: app.%s holds a NUL", what);
	if (n >= sizeof a->text - a->used)
		return api_fail(e, API_E_VALIDATION, "image.json: app is larger than %d bytes",
				API_IMAGE_APP_TEXT);
	memcpy(a->text + a->used, s, n);
	a->text[a->used + n] = '\0';
	*off = a->used;
	a->used += (uint32_t)n + 1;
	return 0;
}

/* A list of strings into offs (at most max); *count set. */
static int app_list(struct json_object *app, const char *key, size_t max, int kv,
		    struct api_image_app *a, uint32_t *offs, unsigned *count, struct api_err *e)
{
	struct json_object *arr;
	char what[32];
	snprintf(what, sizeof what, "app.%s", key);
	*count = 0;
	int rc = api_json_arr(app, key, 0, max, &arr, e);
	if (rc <= 0)
		return rc;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		const char *s;
		size_t len;
		if (api_json_arr_str(arr, i, what, &s, &len, e) < 0)
			return -1;
		if (kv) {
			const char *eq = memchr(s, '=', len);
			if (!eq || eq == s)
				return api_fail(e, API_E_VALIDATION,
						"image.json: app.env entries are NAME=value");
		}
		if (app_put(a, key, s, len, &offs[i], e) < 0)
			return -1;
		*count = (unsigned)i + 1;
	}
	return 0;
}

static int app_str(struct json_object *app, const char *key, size_t max,
		   struct api_image_app *a, uint32_t *off, struct api_err *e)
{
	const char *s = "";
	size_t len = 0;
	int rc = api_json_str(app, key, 0, max, &s, &len, e);
	if (rc < 0)
		return -1;
	return app_put(a, key, s, len, off, e);
}

static int parse_app(struct json_object *o, struct api_image_app *a, struct api_err *e)
{
	struct json_object *app;
	int rc = api_json_obj(o, "app", &app, e);
	if (rc <= 0)
		return rc;
	if (app_list(app, "argv", API_IMAGE_APP_ARGV, 0, a, a->argv, &a->argc, e) < 0 ||
	    app_list(app, "env", API_IMAGE_APP_ENV, 1, a, a->env, &a->envc, e) < 0 ||
	    app_str(app, "workdir", API_IMAGE_APP_TEXT, a, &a->workdir, e) < 0 ||
	    app_str(app, "user", API_IMAGE_APP_USER, a, &a->user, e) < 0)
		return -1;
	if (a->argc && api_image_app_arg(a, 0)[0] == '\0')
		return api_fail(e, API_E_VALIDATION, "image.json: app.argv[0] is empty");
	const char *wd = api_image_app_workdir(a);
	if (wd[0] && wd[0] != '/')
		return api_fail(e, API_E_VALIDATION, "image.json: app.workdir must be absolute");
	return 0;
}

static int parse_ports(struct json_object *o, struct api_image *out, struct api_err *e)
{
	struct json_object *arr;
	int rc = api_json_arr(o, "ports", 0, API_IMAGE_PORTS, &arr, e);
	if (rc <= 0)
		return rc;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		int64_t p = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
		if (p < 1 || p > 65535)
			return api_fail(e, API_E_VALIDATION,
					"image.json: ports must be tcp port numbers (1-65535)");
		out->ports[out->nports++] = (uint16_t)p;
	}
	return 0;
}

int api_image_parse(const char *text, size_t len, struct api_image *out, struct api_err *e)
{
	memset(out, 0, sizeof *out);
	if (len > API_IMAGE_MAX_JSON)
		return api_fail(e, API_E_VALIDATION, "image.json is too large");
	struct json_object *o = api_json_parse(text, len, e);
	if (!o)
		return -1;
	int64_t mem = 0;
	struct json_object *hooks;
	int rc = -1;
	if (copy_str(o, "name", 1, out->name, sizeof out->name, e) < 0 ||
	    copy_str(o, "version", 1, out->version, sizeof out->version, e) < 0 ||
	    copy_str(o, "kernel", 1, out->kernel, sizeof out->kernel, e) < 0 ||
	    copy_str(o, "initrd", 0, out->initrd, sizeof out->initrd, e) < 0 ||
	    copy_str(o, "disk", 0, out->disk, sizeof out->disk, e) < 0 ||
	    copy_str(o, "cmdline", 0, out->cmdline, sizeof out->cmdline, e) < 0 ||
	    copy_str(o, "command", 0, out->command, sizeof out->command, e) < 0 ||
	    api_json_int(o, "memoryMiB", 16, 65536, &mem, e) < 0)
		goto out;
	out->mem_mib = mem ? (unsigned)mem : 128;
	if (api_image_parse_os_caps(o, &out->os_caps_all, e) < 0)
		goto out;
	int hr = api_json_obj(o, "hooks", &hooks, e);
	if (hr < 0 || (hr == 1 && api_image_parse_hooks(hooks, &out->hooks, e) < 0))
		goto out;
	if (hr == 0)
		api_image_parse_hooks(NULL, &out->hooks, e);
	if (parse_app(o, &out->app, e) < 0 || parse_ports(o, out, e) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}
