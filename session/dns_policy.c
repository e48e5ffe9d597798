/*
 * dns_policy.c - egress connectors to DNS policy (see dns_policy.h).
 *
 * The allowlist itself belongs to the egress module (session/egress.h):
 * session/dns_egress.c answers dns_policy_name_allowed() and
 * dns_policy_admit() from it.
 */
#include "session/dns_policy.h"

#include <json-c/json.h>

#include "protocol/api_connector.h"
#include <string.h>


enum dns_policy dns_policy_of(const char *egress_json)
{
	struct json_object *a = json_tokener_parse(egress_json ? egress_json : "");
	enum dns_policy pol = DNS_POLICY_ALL;
	if (!a || !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		return DNS_POLICY_NONE;
	}
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		const char *arn = json_object_get_string(json_object_array_get_idx(a, i));
		const char *name = arn ? api_connector_arn_name(arn) : NULL;
		if (name && !strcmp(name, "INTERNET_EGRESS"))
			continue;
		/* The most restrictive connector wins. */
		if (name && !strcmp(name, "NO_EGRESS")) {
			pol = DNS_POLICY_NONE;
			break;
		}
		pol = DNS_POLICY_LIST;
	}
	json_object_put(a);
	return pol;
}
