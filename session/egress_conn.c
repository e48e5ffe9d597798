/*
 * egress_conn.c - connector ARNs to egress policies.
 *
 * Like the ingress names (session/ops_vm.c), a connector is known by its
 * name after the last ':' in any partition and region: the service's
 * arn:aws:lambda:<region>:aws:network-connector:aws-network-connector:
 * INTERNET_EGRESS, hearth's arn:hearth:lambda:local:aws:network-connector:
 * NO_EGRESS, and the like.
 */
#include "session/egress_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum egress_kind kind;
} names[] = {
	{ "INTERNET_EGRESS", EGRESS_INTERNET },
	{ "NO_EGRESS", EGRESS_NONE },
};

static int lookup(const char *arn, enum egress_kind *kind)
{
	const char *name = strrchr(arn, ':');
	if (strncmp(arn, "arn:", 4) || !strstr(arn, ":network-connector:") || !name)
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name + 1, names[i].name)) {
			*kind = names[i].kind;
			return 0;
		}
	return -1;
}

int egress_connector_known(const char *arn)
{
	enum egress_kind k;
	return lookup(arn, &k) == 0;
}

int egress_policy_from_connectors(const char *json, struct egress_policy *out, char *err,
				  size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->kind = EGRESS_INTERNET; /* none named: the service's default */
	struct json_object *a = json && json[0] ? json_tokener_parse(json) : NULL;
	if (!a)
		return 0;
	int rc = 0;
	if (json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a);
		if (n > 1) {
			snprintf(err, errlen, "at most one egress network connector");
			rc = -1;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(a, i));
			if (!s || lookup(s, &out->kind) < 0) {
				snprintf(err, errlen, "unknown egress network connector");
				rc = -1;
			}
		}
	}
	json_object_put(a);
	return rc;
}
