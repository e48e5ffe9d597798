/*
 * api_connector.c - allowlist connector validation (api_connector.h).
 */
#include "protocol/api_connector.h"

#include <string.h>

int api_connector_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > API_CONN_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* A decimal number of at most max, whole [s, end). */
static int num(const char *s, const char *end, unsigned max, unsigned *out)
{
	unsigned v = 0;
	if (s >= end || end - s > 5)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int api_connector_cidr(const char *s, struct api_conn_cidr *out)
{
	const char *end = s + strlen(s), *colon = strchr(s, ':'), *slash = strchr(s, '/');
	const char *aend = slash ? slash : colon ? colon : end;
	unsigned prefix = 32, port = 0;
	if (colon && (num(colon + 1, end, 65535, &port) < 0 || port == 0))
		return -1;
	if (slash && (slash > (colon ? colon : end) ||
		      num(slash + 1, colon ? colon : end, 32, &prefix) < 0))
		return -1;
	uint32_t addr = 0;
	const char *p = s;
	for (int i = 0; i < 4; i++) {
		const char *dot = i < 3 ? memchr(p, '.', (size_t)(aend - p)) : aend;
		unsigned o;
		if (!dot || num(p, dot, 255, &o) < 0 || (dot - p > 1 && *p == '0'))
			return -1;
		addr = addr << 8 | o;
		p = dot + 1;
	}
	out->addr = prefix ? addr & (0xffffffffu << (32 - prefix)) : 0;
	out->prefix = prefix;
	out->port = (uint16_t)port;
	return 0;
}

int api_connector_host(const char *s, char *out)
{
	size_t n = strlen(s), o = 0;
	if (n > 2 && s[0] == '*' && s[1] == '.') {
		out[o++] = '*';
		out[o++] = '.';
		s += 2;
		n -= 2;
	}
	if (n < 1 || n > API_CONN_HOST_MAX - o)
		return -1;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if ((label == 0 && c == '-') || ++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[o++] = c;
	}
	if (label == 0 || s[n - 1] == '-')
		return -1;
	out[o] = '\0';
	return 0;
}

static int list(struct json_object *body, const char *key, unsigned *n, struct api_connector *c,
		struct api_err *e)
{
	struct json_object *arr;
	int rc = api_json_arr(body, key, 0, API_CONN_MAX_RULES, &arr, e);
	*n = 0;
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *s;
		size_t len;
		if (api_json_arr_str(arr, i, key, &s, &len, e) < 0)
			return -1;
		if (len != strlen(s))
			return api_fail(e, API_E_VALIDATION, "%s[%zu] is invalid", key, i);
		int bad = key[0] == 'h' ? api_connector_host(s, c->hosts[*n])
					: api_connector_cidr(s, &c->cidrs[*n]);
		if (bad)
			return api_fail(e, API_E_VALIDATION, "%s[%zu] is not a valid %s", key, i,
					key[0] == 'h' ? "host name" : "IPv4 CIDR[:port]");
		(*n)++;
	}
	return 1;
}

int api_connector_parse(struct json_object *body, struct api_connector *out, struct api_err *e)
{
	const char *name;
	size_t len;
	memset(out, 0, sizeof *out);
	int rc = api_json_str(body, "name", 1, API_CONN_NAME_MAX, &name, &len, e);
	if (rc <= 0)
		return rc < 0 ? -1 : api_fail(e, API_E_VALIDATION, "name is required");
	if (strlen(name) != len || !api_connector_name_ok(name))
		return api_fail(e, API_E_VALIDATION, "name: 1-63 of A-Z a-z 0-9 _ -");
	memcpy(out->name, name, len + 1);
	if (list(body, "hosts", &out->n_hosts, out, e) < 0 ||
	    list(body, "cidrs", &out->n_cidrs, out, e) < 0)
		return -1;
	if (out->n_hosts + out->n_cidrs == 0)
		return api_fail(e, API_E_VALIDATION, "an allowlist needs at least one host or CIDR");
	return 0;
}

const char *api_connector_arn_name(const char *arn)
{
	const char *p = arn ? strrchr(arn, ':') : NULL;
	return p ? p + 1 : NULL;
}
