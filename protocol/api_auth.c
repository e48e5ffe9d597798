/*
 * api_auth.c - validation of the two token-minting requests.
 */
#include "api_auth.h"

#include <string.h>

static int parse_port_spec(struct json_object *spec, struct token_range *out, struct api_err *e)
{
	static const char *const members[] = { "port", "range", "allPorts", NULL };
	const char *which;
	if (api_json_union(spec, "allowedPorts entry", members, &which, e) < 0)
		return -1;
	if (strcmp(which, "port") == 0) {
		int64_t p;
		if (api_json_int(spec, "port", 1, 65535, &p, e) != 1)
			return -1;
		out->lo = out->hi = (uint16_t)p;
	} else if (strcmp(which, "range") == 0) {
		struct json_object *r;
		int64_t lo, hi;
		if (api_json_obj(spec, "range", &r, e) != 1)
			return -1;
		int a = api_json_int(r, "startPort", 1, 65535, &lo, e);
		if (a < 0)
			return -1;
		int b = api_json_int(r, "endPort", 1, 65535, &hi, e);
		if (b < 0)
			return -1;
		if (!a || !b)
			return api_fail(e, API_E_VALIDATION, "range requires startPort and endPort");
		if (lo > hi)
			return api_fail(e, API_E_VALIDATION, "range startPort must not exceed endPort");
		out->lo = (uint16_t)lo;
		out->hi = (uint16_t)hi;
	} else {
		struct json_object *u;
		if (api_json_obj(spec, "allPorts", &u, e) != 1)
			return -1;
		out->lo = 1;
		out->hi = 65535;
	}
	return 0;
}

int api_auth_parse_proxy(struct json_object *body, struct api_auth_req *out, struct api_err *e)
{
	memset(out, 0, sizeof *out);
	int rc = api_json_int(body, "expirationInMinutes", 1, API_MAX_TOKEN_MINUTES, &out->minutes,
			      e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "expirationInMinutes is required");
	struct json_object *arr;
	rc = api_json_arr(body, "allowedPorts", 1, TOKEN_MAX_RANGES, &arr, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "allowedPorts is required");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *spec = json_object_array_get_idx(arr, i);
		if (!spec)
			return api_fail(e, API_E_VALIDATION, "allowedPorts entries must be objects");
		if (parse_port_spec(spec, &out->ranges[out->nranges], e) < 0)
			return -1;
		out->nranges++;
	}
	return 0;
}

int api_auth_parse_shell(struct json_object *body, struct api_auth_req *out, struct api_err *e)
{
	memset(out, 0, sizeof *out);
	int rc = api_json_int(body, "expirationInMinutes", 1, INT32_MAX, &out->minutes, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "expirationInMinutes is required");
	/* The service accepts longer values; hearth caps every token at 60 minutes. */
	if (out->minutes > API_MAX_TOKEN_MINUTES)
		out->minutes = API_MAX_TOKEN_MINUTES;
	return 0;
}
