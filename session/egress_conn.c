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

#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "protocol/api_connector.h"
#include "session/connstore.h"

static const struct {
	const char *name;
	enum egress_kind kind;
} names[] = {
	{ "INTERNET_EGRESS", EGRESS_INTERNET },
	{ "NO_EGRESS", EGRESS_NONE },
};

static int allowlist(const char *state_dir, const char *name, struct egress_policy *out)
{
	struct api_connector *c = malloc(sizeof *c);
	int rc = c ? connstore_load(state_dir, name, c) : -1;
	if (rc == 1) {
		out->kind = EGRESS_ALLOWLIST;
		snprintf(out->name, sizeof out->name, "%s", c->name);
		out->n_hosts = c->n_hosts < EGRESS_MAX_RULES ? c->n_hosts : EGRESS_MAX_RULES;
		for (unsigned i = 0; i < out->n_hosts; i++)
			snprintf(out->hosts[i].name, sizeof out->hosts[i].name, "%s", c->hosts[i]);
		out->n_cidrs = c->n_cidrs < EGRESS_MAX_RULES ? c->n_cidrs : EGRESS_MAX_RULES;
		for (unsigned i = 0; i < out->n_cidrs; i++) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&out->cidrs[i].addr;
			memset(&out->cidrs[i], 0, sizeof out->cidrs[i]);
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(c->cidrs[i].addr);
			out->cidrs[i].prefix = c->cidrs[i].prefix;
			out->cidrs[i].port = c->cidrs[i].port;
		}
	}
	free(c);
	return rc == 1 ? 0 : -1;
}

/* out may be NULL (only whether it is known). */
static int lookup(const char *state_dir, const char *arn, struct egress_policy *out)
{
	const char *name = api_connector_arn_name(arn);
	if (strncmp(arn, "arn:", 4) || !strstr(arn, ":network-connector:") || !name)
		return -1;
	size_t kl = strlen(CONNSTORE_ARN_KIND);
	if (!strncmp(name, CONNSTORE_ARN_KIND, kl)) {
		struct egress_policy *p = out ? out : malloc(sizeof *p);
		int rc = p ? allowlist(state_dir, name + kl, p) : -1;
		if (!out)
			free(p);
		return rc;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i].name)) {
			if (out)
				out->kind = names[i].kind;
			return 0;
		}
	return -1;
}

int egress_connector_known(const char *state_dir, const char *arn)
{
	return lookup(state_dir, arn, NULL) == 0;
}

int egress_policy_from_connectors(const char *state_dir, const char *json,
				  struct egress_policy *out, char *err, size_t errlen)
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
			if (!s || lookup(state_dir, s, out) < 0) {
				snprintf(err, errlen, "unknown egress network connector %s", s ? s : "");
				rc = -1;
			}
		}
	}
	json_object_put(a);
	return rc;
}
