/*
 * imglog.c - built image versions, builds and build logs for the `hearth
 * image` commands (see imglog.h).
 */
#include "shell/client/imglog.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 500

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int encode2(const struct api *a, const char *name, const char *version, char *n1,
		   char *n2, size_t cap)
{
	if (api_escape(name, n1, cap) != 0 || (version && api_escape(version, n2, cap) != 0)) {
		fprintf(stderr, "hearth %s: name too long\n", a->cmd);
		return API_EXIT_USAGE;
	}
	return 0;
}

int imglog_version(const struct api *a, const char *name, const char *version,
		   json_object **out)
{
	char n1[512], n2[256], path[1024];
	int rc = encode2(a, name, version, n1, n2, sizeof n2);
	if (rc)
		return rc;
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions/%s", n1, n2);
	return api_call(a, "GET", path, NULL, out);
}

int imglog_latest(const struct api *a, const char *name, char *out, size_t n)
{
	char n1[512], path[1024], *next = NULL;
	json_object *items = NULL;
	int rc = encode2(a, name, NULL, n1, NULL, sizeof n1);
	if (rc)
		return rc;
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions", n1);
	if ((rc = api_list(a, path, 1, &items, &next)) != 0)
		return rc;
	free(next);
	size_t len = json_object_array_length(items);
	if (len == 0) {
		fprintf(stderr, "hearth %s: image %s has no versions\n", a->cmd, name);
		rc = API_EXIT_FAIL;
	} else {
		snprintf(out, n, "%s", api_str(json_object_array_get_idx(items, len - 1),
					       "imageVersion"));
	}
	json_object_put(items);
	return rc;
}

int imglog_build_id(const struct api *a, const char *name, json_object *version, char *out,
		    size_t n)
{
	json_object *h, *items = NULL;
	char n1[512], n2[256], path[1024], *next = NULL;
	if (json_object_object_get_ex(version, "hearth", &h) && strcmp(api_str(h, "buildId"), "-")) {
		snprintf(out, n, "%s", api_str(h, "buildId"));
		return 0;
	}
	int rc = encode2(a, name, api_str(version, "imageVersion"), n1, n2, sizeof n2);
	if (rc)
		return rc;
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s/versions/%s/builds", n1,
		 n2);
	if ((rc = api_list(a, path, 1, &items, &next)) != 0)
		return rc;
	free(next);
	if (json_object_array_length(items) == 0) {
		fprintf(stderr, "hearth %s: no build of %s %s\n", a->cmd, name,
			api_str(version, "imageVersion"));
		rc = API_EXIT_FAIL;
	} else {
		snprintf(out, n, "%s", api_str(json_object_array_get_idx(items, 0), "buildId"));
	}
	json_object_put(items);
	return rc;
}

/* One read of the log: 0 with *complete and *got (bytes of text), or an exit code. */
static int read_once(const struct api *a, const char *path, long long *offset, int *complete,
		     size_t *got, FILE *f)
{
	char url[1400];
	json_object *doc = NULL, *v;
	snprintf(url, sizeof url, "%s?offset=%lld&maxBytes=65536", path, *offset);
	int rc = api_call(a, "GET", url, NULL, &doc);
	if (rc)
		return rc;
	*got = 0;
	if (json_object_object_get_ex(doc, "text", &v) && json_object_is_type(v, json_type_string)) {
		*got = (size_t)json_object_get_string_len(v);
		if (f) {
			fwrite(json_object_get_string(v), 1, *got, f);
			fflush(f);
		}
	}
	if (json_object_object_get_ex(doc, "nextOffset", &v))
		*offset = json_object_get_int64(v);
	*complete = json_object_object_get_ex(doc, "complete", &v) && json_object_get_boolean(v);
	json_object_put(doc);
	return 0;
}

static int logs_path(const struct api *a, const char *name, const char *version,
		     const char *build_id, char *path, size_t n)
{
	char n1[512], n2[256], n3[256];
	int rc = encode2(a, name, version, n1, n2, sizeof n2);
	if (rc)
		return rc;
	if (api_escape(build_id, n3, sizeof n3) != 0)
		return API_EXIT_FAIL;
	snprintf(path, n, API_VERSION_PREFIX "/microvm-images/%s/versions/%s/builds/%s/logs", n1,
		 n2, n3);
	return 0;
}

int imglog_print(const struct api *a, const char *name, const char *version,
		 const char *build_id, int follow, long long *offset, FILE *f)
{
	char path[1200];
	int rc = logs_path(a, name, version, build_id, path, sizeof path), complete = 0;
	size_t got;
	if (rc)
		return rc;
	for (;;) {
		if ((rc = read_once(a, path, offset, &complete, &got, f)) != 0)
			return rc;
		if (complete || (!follow && got == 0))
			return 0;
		if (got == 0)
			nap(POLL_MS);
	}
}

static int version_state(json_object *v, const char **state)
{
	*state = api_str(v, "state");
	return !strcmp(*state, "SUCCESSFUL") || !strcmp(*state, "FAILED");
}

int imglog_wait(const struct api *a, const char *name, const char *version, FILE *f)
{
	json_object *v = NULL;
	char build[128] = "", path[1200];
	long long off = 0;
	const char *state;
	int rc, complete = 0;
	size_t got;
	for (;;) {
		json_object_put(v);
		v = NULL;
		if ((rc = imglog_version(a, name, version, &v)) != 0)
			return rc;
		if (!build[0] && imglog_build_id(a, name, v, build, sizeof build) == 0 &&
		    logs_path(a, name, version, build, path, sizeof path) != 0)
			build[0] = '\0';
		int ended = version_state(v, &state);
		/* The log until it is complete, then the version's last word. */
		got = 0;
		if (build[0] && !complete &&
		    (rc = read_once(a, path, &off, &complete, &got, f)) != 0)
			break;
		if (ended && (complete || !build[0]))
			break;
		if (got == 0)
			nap(POLL_MS);
	}
	if (rc == 0 && strcmp(state, "SUCCESSFUL") != 0) {
		json_object *h;
		const char *msg = json_object_object_get_ex(v, "hearth", &h)
					  ? api_str(h, "stateReasonMessage")
					  : "-";
		fprintf(stderr, "hearth %s: build of %s %s failed: %s%s%s\n", a->cmd, name, version,
			api_str(v, "stateReason"), strcmp(msg, "-") ? ": " : "",
			strcmp(msg, "-") ? msg : "");
		rc = API_EXIT_FAIL;
	}
	json_object_put(v);
	return rc;
}
