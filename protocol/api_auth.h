/*
 * api_auth.h - CreateMicrovmAuthToken / CreateMicrovmShellAuthToken request
 * models (pure). Port specifications become token ranges.
 */
#ifndef HEARTH_API_AUTH_H
#define HEARTH_API_AUTH_H

#include "api_json.h"
#include "token.h"

#define API_MAX_TOKEN_MINUTES 60

struct api_auth_req {
	int64_t minutes; /* expirationInMinutes, 1..60 */
	unsigned nranges;
	struct token_range ranges[TOKEN_MAX_RANGES];
};

/* Proxy token: expirationInMinutes 1-60, allowedPorts 1..TOKEN_MAX_RANGES specs. */
int api_auth_parse_proxy(struct json_object *body, struct api_auth_req *out, struct api_err *e);
/* Shell token: expirationInMinutes >= 1, capped at 60; no ports. */
int api_auth_parse_shell(struct json_object *body, struct api_auth_req *out, struct api_err *e);

#endif
