/*
 * api_run.c - RunMicrovm request validation, with the spec's ranges.
 */
#include "api_run.h"

#include "api_ingress.h"

#include <string.h>

static int parse_connectors(struct json_object *body, const char *key, const char **out,
			    unsigned *n, struct api_err *e)
{
	struct json_object *arr;
	int rc = api_json_arr(body, key, 0, API_MAX_CONNECTORS, &arr, e);
	*n = 0;
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *s;
		size_t len;
		if (api_json_arr_str(arr, i, key, &s, &len, e) < 0)
			return -1;
		if (len < 1 || len > API_MAX_ARN || memchr(s, '\0', len))
			return api_fail(e, API_E_VALIDATION, "%s has an invalid connector ARN", key);
		out[(*n)++] = s;
	}
	return 1;
}

static int parse_idle(struct json_object *body, int64_t min_idle, struct api_run_req *r,
		      struct api_err *e)
{
	struct json_object *ip;
	int rc = api_json_obj(body, "idlePolicy", &ip, e);
	if (rc <= 0)
		return rc;
	/* When the block is present all three members are required. */
	if (api_json_int(ip, "maxIdleDurationSeconds", min_idle, API_MAX_IDLE, &r->max_idle, e) !=
		    1 ||
	    api_json_int(ip, "suspendedDurationSeconds", 0, API_MAX_SUSPENDED, &r->suspended, e) !=
		    1 ||
	    api_json_bool(ip, "autoResumeEnabled", &r->auto_resume, e) != 1) {
		if (!e->type)
			api_fail(e, API_E_VALIDATION,
				 "idlePolicy requires maxIdleDurationSeconds, "
				 "suspendedDurationSeconds and autoResumeEnabled");
		return -1;
	}
	r->has_idle = 1;
	return 1;
}

static int parse_logging(struct json_object *body, struct api_run_req *r, struct api_err *e)
{
	static const char *const members[] = { "disabled", "cloudWatch", NULL };
	struct json_object *lg, *inner;
	int rc = api_json_obj(body, "logging", &lg, e);
	if (rc <= 0)
		return rc;
	if (api_json_union(lg, "logging", members, &r->logging_kind, e) < 0)
		return -1;
	if (api_json_obj(lg, r->logging_kind, &inner, e) != 1)
		return -1;
	const char *s;
	if (strcmp(r->logging_kind, "cloudWatch") == 0 &&
	    (api_json_str(inner, "logGroup", 1, 512, &s, NULL, e) < 0 ||
	     api_json_str(inner, "logStream", 1, 512, &s, NULL, e) < 0))
		return -1;
	return 1;
}

int api_run_parse(struct json_object *body, int64_t min_idle, struct api_run_req *r,
		  struct api_err *e)
{
	memset(r, 0, sizeof *r);
	e->type = NULL;
	int rc = api_json_str(body, "imageIdentifier", 1, API_MAX_ARN, &r->image, NULL, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "imageIdentifier is required");
	if (api_json_str(body, "imageVersion", 1, 64, &r->image_version, NULL, e) < 0 ||
	    api_json_str(body, "executionRoleArn", 1, API_MAX_ARN, &r->execution_role, NULL, e) <
		    0 ||
	    parse_idle(body, min_idle, r, e) < 0 || parse_logging(body, r, e) < 0 ||
	    api_json_str(body, "runHookPayload", 0, API_MAX_HOOK_PAYLOAD, &r->hook_payload,
			 &r->hook_payload_len, e) < 0 ||
	    parse_connectors(body, "ingressNetworkConnectors", r->ingress, &r->n_ingress, e) < 0 ||
	    parse_connectors(body, "egressNetworkConnectors", r->egress, &r->n_egress, e) < 0 ||
	    api_json_str(body, "clientToken", 1, API_MAX_CLIENT_TOKEN, &r->client_token, NULL, e) <
		    0)
		return -1;
	for (unsigned i = 0; i < r->n_ingress; i++)
		if (api_ingress_flags(r->ingress[i]) < 0)
			return api_fail(e, API_E_VALIDATION,
					"unknown ingress network connector (hearth knows HTTP_INGRESS, "
					"SHELL_INGRESS, ALL_INGRESS and NO_INGRESS, bare or as "
					"arn:<partition>:lambda:<region>:aws:network-connector:"
					"aws-network-connector:<NAME>)");
	rc = api_json_int(body, "maximumDurationInSeconds", 1, API_MAX_DURATION, &r->max_duration,
			  e);
	if (rc < 0)
		return -1;
	r->has_max_duration = rc;
	if (!rc)
		r->max_duration = API_MAX_DURATION;
	return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* A present empty string and an absent one must differ. */
	unsigned char tag = s ? 1 : 0;
	h = fnv(h, &tag, 1);
	return s ? fnv(h, s, strlen(s) + 1) : h;
}

uint64_t api_run_fingerprint(const struct api_run_req *r)
{
	uint64_t h = 14695981039346656037ull;
	h = fnv_str(h, r->image);
	h = fnv_str(h, r->image_version);
	h = fnv_str(h, r->execution_role);
	int64_t nums[] = { r->has_idle, r->max_idle, r->suspended, r->auto_resume,
			   r->max_duration, r->n_ingress, r->n_egress };
	h = fnv(h, nums, sizeof nums);
	unsigned char tag = r->hook_payload ? 1 : 0;
	h = fnv(h, &tag, 1);
	if (r->hook_payload)
		h = fnv(h, r->hook_payload, r->hook_payload_len);
	for (unsigned i = 0; i < r->n_ingress; i++)
		h = fnv_str(h, r->ingress[i]);
	for (unsigned i = 0; i < r->n_egress; i++)
		h = fnv_str(h, r->egress[i]);
	h = fnv_str(h, r->logging_kind);
	return h;
}
