/*
 * api_imgreq.c - CreateMicrovmImage / UpdateMicrovmImage validation, with
 * the spec's ranges; the validated fields echoed as the API returns them.
 */
#include "api_imgreq.h"

#include <stdio.h>
#include <string.h>

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int api_imgreq_name(const char *s, struct api_err *e)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128 || !name_char(s[0]))
		return api_fail(e, API_E_VALIDATION,
				"name must be 1 to 128 characters [A-Za-z0-9._-] starting with a "
				"letter or digit");
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return api_fail(e, API_E_VALIDATION,
					"name must be 1 to 128 characters [A-Za-z0-9._-] starting "
					"with a letter or digit");
	return 0;
}

/* file:///abs, /abs or s3://bucket/key; no NUL, no "..", no control bytes. */
static int uri_ok(const char *s, size_t n, struct api_err *e)
{
	const char *path;
	if (memchr(s, '\0', n))
		return api_fail(e, API_E_VALIDATION, "codeArtifact.uri holds a NUL byte");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return api_fail(e, API_E_VALIDATION, "codeArtifact.uri holds a control byte");
	if (strncmp(s, "s3://", 5) == 0) {
		const char *slash = strchr(s + 5, '/');
		if (!slash || slash == s + 5 || !slash[1])
			return api_fail(e, API_E_VALIDATION,
					"codeArtifact.uri: s3://BUCKET/KEY needs a bucket and a key");
		path = slash;
	} else if (strncmp(s, "file://", 7) == 0) {
		path = s + 7;
	} else {
		path = s;
	}
	if (path[0] != '/')
		return api_fail(e, API_E_VALIDATION,
				"codeArtifact.uri must be s3://BUCKET/KEY, file:///ABSOLUTE/PATH or "
				"an absolute path");
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return api_fail(e, API_E_VALIDATION, "codeArtifact.uri may not hold '..'");
	return 0;
}

static int parse_artifact(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	static const char *const members[] = { "uri", NULL };
	struct json_object *ca;
	const char *which;
	size_t len;
	int rc = api_json_obj(body, "codeArtifact", &ca, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "codeArtifact is required");
	if (api_json_union(ca, "codeArtifact", members, &which, e) < 0)
		return -1;
	if (api_json_str(ca, "uri", 1, API_IMGREQ_MAX_URI, &r->uri, &len, e) != 1)
		return api_fail(e, API_E_VALIDATION,
				"codeArtifact.uri is required: a string of 1 to %d characters",
				API_IMGREQ_MAX_URI);
	return uri_ok(r->uri, len, e);
}

static int parse_env(struct json_object *body, struct api_err *e)
{
	struct json_object *env;
	int rc = api_json_obj(body, "environmentVariables", &env, e);
	if (rc <= 0)
		return rc;
	if (json_object_object_length(env) > API_IMGREQ_MAX_ENV)
		return api_fail(e, API_E_VALIDATION, "at most %d environmentVariables",
				API_IMGREQ_MAX_ENV);
	size_t total = 0;
	json_object_object_foreach(env, k, v)
	{
		size_t kl = strlen(k);
		if (kl < 1 || kl > 256 || !(name_char(k[0]) || k[0] == '_') ||
		    (k[0] >= '0' && k[0] <= '9'))
			return api_fail(e, API_E_VALIDATION,
					"environment variable names are [A-Za-z_][A-Za-z0-9_]*");
		for (size_t i = 0; i < kl; i++)
			if (!name_char(k[i]) && k[i] != '_')
				return api_fail(e, API_E_VALIDATION,
						"environment variable names are [A-Za-z_][A-Za-z0-9_]*");
		if (!json_object_is_type(v, json_type_string))
			return api_fail(e, API_E_VALIDATION,
					"environmentVariables.%.64s must be a string", k);
		size_t vl = (size_t)json_object_get_string_len(v);
		if (memchr(json_object_get_string(v), '\0', vl))
			return api_fail(e, API_E_VALIDATION,
					"environmentVariables.%.64s holds a NUL byte", k);
		total += kl + vl + 8;
	}
	/* The JSON text (escapes included) must fit the builder's buffer. */
	if (total > API_IMGREQ_MAX_ENV_TEXT / 2)
		return api_fail(e, API_E_VALIDATION, "environmentVariables are too large");
	return 1;
}

static int parse_resources(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	struct json_object *arr;
	int64_t mem;
	int rc = api_json_arr(body, "resources", 0, 1, &arr, e);
	if (rc <= 0)
		return rc;
	if (json_object_array_length(arr) == 0)
		return 0;
	struct json_object *it = json_object_array_get_idx(arr, 0);
	if (!json_object_is_type(it, json_type_object))
		return api_fail(e, API_E_VALIDATION, "resources members must be objects");
	rc = api_json_int(it, "minimumMemoryInMiB", API_IMGREQ_MIN_MEM, API_IMGREQ_MAX_MEM, &mem,
			  e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "resources[0].minimumMemoryInMiB is required");
	r->mem_mib = (unsigned)mem;
	return 1;
}

static int parse_cpu(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	struct json_object *arr;
	int rc = api_json_arr(body, "cpuConfigurations", 0, 2, &arr, e);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *it = json_object_array_get_idx(arr, i);
		const char *arch;
		int64_t n;
		if (!json_object_is_type(it, json_type_object))
			return api_fail(e, API_E_VALIDATION, "cpuConfigurations members must be objects");
		rc = api_json_str(it, "architecture", 1, 16, &arch, NULL, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return api_fail(e, API_E_VALIDATION,
					"cpuConfigurations[].architecture is required");
		if (strcmp(arch, "ARM_64") != 0 && strcmp(arch, "X86_64") != 0)
			return api_fail(e, API_E_VALIDATION,
					"cpuConfigurations[].architecture must be ARM_64 or X86_64");
		rc = api_json_int(it, "vcpus", 1, API_IMGREQ_MAX_VCPUS, &n, e);
		if (rc < 0)
			return -1;
		if (rc == 1)
			r->vcpus = (unsigned)n;
	}
	return 1;
}

static int parse_egress(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	struct json_object *arr;
	int rc = api_json_arr(body, "egressNetworkConnectors", 0, 1, &arr, e);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *s;
		size_t len;
		if (api_json_arr_str(arr, i, "egressNetworkConnectors", &s, &len, e) < 0)
			return -1;
		if (len < 1 || len > API_MAX_ARN || memchr(s, '\0', len))
			return api_fail(e, API_E_VALIDATION,
					"egressNetworkConnectors has an invalid connector ARN");
		r->egress[r->n_egress++] = s;
	}
	return 1;
}

static int parse_logging(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	static const char *const members[] = { "disabled", "cloudWatch", NULL };
	struct json_object *lg;
	int rc = api_json_obj(body, "logging", &lg, e);
	if (rc <= 0)
		return rc;
	return api_json_union(lg, "logging", members, &r->logging_kind, e);
}

static int parse_tags(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	struct json_object *t;
	int rc = api_json_obj(body, "tags", &t, e);
	if (rc <= 0)
		return rc;
	if (json_object_object_length(t) > API_IMGREQ_MAX_TAGS)
		return api_fail(e, API_E_VALIDATION, "at most %d tags", API_IMGREQ_MAX_TAGS);
	json_object_object_foreach(t, k, v)
	{
		size_t kl = strlen(k);
		if (kl < 1 || kl > 128 || !json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > 256 ||
		    memchr(json_object_get_string(v), '\0', (size_t)json_object_get_string_len(v)))
			return api_fail(e, API_E_VALIDATION,
					"tags are string keys (1-128) to string values (0-256)");
	}
	r->tags = t;
	return 1;
}

/* Copy the members that were validated into the echo, in the model's order. */
static int build_echo(struct json_object *body, struct api_imgreq *r, struct api_err *e)
{
	static const char *const keep[] = { "baseImageArn", "baseImageVersion", "buildRoleArn",
					    "description", "codeArtifact", "logging",
					    "egressNetworkConnectors", "cpuConfigurations",
					    "resources", "additionalOsCapabilities", "hooks",
					    "environmentVariables", NULL };
	r->echo = json_object_new_object();
	if (!r->echo)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	for (int i = 0; keep[i]; i++) {
		struct json_object *v, *copy = NULL;
		if (!json_object_object_get_ex(body, keep[i], &v) || !v)
			continue;
		if (strcmp(keep[i], "codeArtifact") == 0) {
			/* Only the member that was read (unknown ones are ignored). */
			copy = json_object_new_object();
			json_object_object_add(copy, "uri", json_object_new_string(r->uri));
			json_object_object_add(r->echo, keep[i], copy);
			continue;
		}
		if (json_object_deep_copy(v, &copy, NULL) != 0)
			return api_fail(e, API_E_INTERNAL, "out of memory");
		json_object_object_add(r->echo, keep[i], copy);
	}
	const char *s = json_object_to_json_string_ext(r->echo, JSON_C_TO_STRING_PLAIN);
	if (strlen(s) >= API_IMGREQ_MAX_ECHO)
		return api_fail(e, API_E_VALIDATION, "the request is too large");
	return 0;
}

int api_imgreq_parse(struct json_object *body, int update, struct api_imgreq *r,
		     struct api_err *e)
{
	struct json_object *hooks;
	memset(r, 0, sizeof *r);
	e->type = NULL;
	if (!update) {
		int rc = api_json_str(body, "name", 1, 128, &r->name, NULL, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return api_fail(e, API_E_VALIDATION, "name is required");
		if (api_imgreq_name(r->name, e) < 0)
			return -1;
	}
	int rc = api_json_str(body, "baseImageArn", 1, API_MAX_ARN, &r->base_image_arn, NULL, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "baseImageArn is required");
	rc = api_json_str(body, "buildRoleArn", 1, API_MAX_ARN, &r->build_role_arn, NULL, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "buildRoleArn is required");
	if (api_json_str(body, "baseImageVersion", 1, 64, &r->base_image_version, NULL, e) < 0 ||
	    api_json_str(body, "description", 0, API_IMGREQ_MAX_DESC, &r->description, NULL, e) <
		    0 ||
	    parse_artifact(body, r, e) < 0 || parse_env(body, e) < 0 ||
	    parse_resources(body, r, e) < 0 || parse_cpu(body, r, e) < 0 ||
	    parse_egress(body, r, e) < 0 || parse_logging(body, r, e) < 0 ||
	    parse_tags(body, r, e) < 0 ||
	    api_image_parse_os_caps(body, &r->os_caps_all, e) < 0 ||
	    api_json_str(body, "clientToken", 1, API_MAX_CLIENT_TOKEN, &r->client_token, NULL, e) <
		    0)
		return -1;
	rc = api_json_obj(body, "hooks", &hooks, e);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (api_image_parse_hooks(hooks, &r->hooks, e) < 0)
			return -1;
		r->has_hooks = 1;
		int runtime = r->hooks.enabled[API_HOOK_RUN] || r->hooks.enabled[API_HOOK_RESUME] ||
			      r->hooks.enabled[API_HOOK_SUSPEND] ||
			      r->hooks.enabled[API_HOOK_TERMINATE];
		if (runtime && !r->hooks.enabled[API_HOOK_READY])
			return api_fail(e, API_E_VALIDATION,
					"an image that enables a runtime hook (run, resume, suspend, "
					"terminate) must enable the ready hook");
	}
	if (build_echo(body, r, e) < 0) {
		api_imgreq_free(r);
		return -1;
	}
	return 0;
}

void api_imgreq_free(struct api_imgreq *r)
{
	json_object_put(r->echo);
	r->echo = NULL;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	unsigned char tag = s ? 1 : 0;
	h = (h ^ tag) * 1099511628211ull;
	for (const unsigned char *c = (const unsigned char *)s; c && *c; c++)
		h = (h ^ *c) * 1099511628211ull;
	return s ? (h ^ 0xff) * 1099511628211ull : h;
}

uint64_t api_imgreq_fingerprint(const struct api_imgreq *r)
{
	uint64_t h = 14695981039346656037ull;
	h = fnv_str(h, r->name);
	h = fnv_str(h, r->echo ? json_object_to_json_string_ext(r->echo, JSON_C_TO_STRING_PLAIN)
			       : NULL);
	h = fnv_str(h, r->tags ? json_object_to_json_string_ext(r->tags, JSON_C_TO_STRING_PLAIN)
			       : NULL);
	return h;
}

int api_imgreq_env_text(const struct api_imgreq *r, char *out, size_t n)
{
	struct json_object *env;
	out[0] = '\0';
	if (!r->echo || !json_object_object_get_ex(r->echo, "environmentVariables", &env))
		return 0;
	const char *s = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(s) >= n)
		return -1;
	snprintf(out, n, "%s", s);
	return 0;
}

int api_imgreq_version_status(struct json_object *body, int *active, struct api_err *e)
{
	const char *s;
	int rc = api_json_str(body, "status", 1, 16, &s, NULL, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "status is required");
	if (strcmp(s, "ACTIVE") == 0)
		*active = 1;
	else if (strcmp(s, "INACTIVE") == 0)
		*active = 0;
	else
		return api_fail(e, API_E_VALIDATION, "status must be ACTIVE or INACTIVE");
	return 0;
}

/* Decimal digits only (no sign, space or 0x), at most 18 of them. */
static int query_num(const char *name, const char *s, int64_t min, int64_t max, int64_t *out,
		     struct api_err *e)
{
	int64_t n = 0;
	size_t len = strlen(s);
	if (len < 1 || len > 18)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		n = n * 10 + (s[i] - '0');
	}
	if (n < min || n > max)
		goto bad;
	*out = n;
	return 0;
bad:
	return api_fail(e, API_E_VALIDATION, "%s must be an integer %lld..%lld", name,
			(long long)min, (long long)max);
}

int api_imgreq_logs_query(const char *offset, const char *max_bytes, int64_t *off,
			  int64_t *max, struct api_err *e)
{
	*off = 0;
	*max = API_IMGREQ_LOG_DEFAULT;
	if (offset && query_num("offset", offset, 0, API_IMGREQ_MAX_OFFSET, off, e) < 0)
		return -1;
	if (max_bytes && query_num("maxBytes", max_bytes, 1, API_IMGREQ_LOG_MAX, max, e) < 0)
		return -1;
	return 0;
}
