/*
 * api_connector.h - hearth's allowlist network connectors (an API extension,
 * man/hearthd.8 NETWORK): CreateNetworkConnector request validation (pure).
 *
 * Body: {"name": N, "hosts": ["example.com", "*.example.org", ...],
 *        "cidrs": ["203.0.113.0/24", "198.51.100.7:443", "192.0.2.0/28:8443", ...]}
 * name: 1-63 of [A-Za-z0-9_-]; at least one host or CIDR; hosts are DNS names
 * (letters, digits, '-', labels of 1-63, at most 253, lower-cased), with an
 * optional leading "*." (any name below, not the name itself); CIDRs are IPv4
 * with an optional /prefix (default 32) and :port (1-65535; none: any).
 */
#ifndef HEARTH_API_CONNECTOR_H
#define HEARTH_API_CONNECTOR_H

#include <stdint.h>

#include "protocol/api_json.h"

#define API_CONN_NAME_MAX 63
#define API_CONN_HOST_MAX 253
#define API_CONN_MAX_RULES 64

struct api_conn_cidr {
	uint32_t addr; /* host byte order, masked to the prefix */
	unsigned prefix;
	uint16_t port; /* 0: any */
};

struct api_connector {
	char name[API_CONN_NAME_MAX + 1];
	unsigned n_hosts, n_cidrs;
	char hosts[API_CONN_MAX_RULES][API_CONN_HOST_MAX + 1];
	struct api_conn_cidr cidrs[API_CONN_MAX_RULES];
};

/* 0, or -1 with *e (ValidationException). */
int api_connector_parse(struct json_object *body, struct api_connector *out, struct api_err *e);
/* A connector ARN's NAME: what follows its last ':' (INTERNET_EGRESS,
 * NO_EGRESS, HTTP_INGRESS, allowlist/<name>); NULL when arn has no ':'.
 * The one place ARNs are cut: egress, DNS policy and ingress agree. */
const char *api_connector_arn_name(const char *arn);
/* 1 when s is a valid connector name. */
int api_connector_name_ok(const char *s);
/* One CIDR entry as above; 0 or -1. */
int api_connector_cidr(const char *s, struct api_conn_cidr *out);
/* One host entry as above, lower-cased into out (API_CONN_HOST_MAX + 1); 0 or -1. */
int api_connector_host(const char *s, char *out);

#endif
