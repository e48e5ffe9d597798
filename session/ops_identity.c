/* ops_identity.c - the identity keys' public documents (session/identity.h):
 * GET /.well-known/jwks.json and /.well-known/openid-configuration, served
 * without a signature (the auth hook lets exactly these two through). */
#include "session/identity.h"
#include "session/routes.h"

int ops_identity_jwks(struct route_call *c, struct json_object **out, struct api_err *e)
{
	if (!(*out = identity_jwks(c->hd)))
		return api_fail(e, API_E_INTERNAL, "no identity key");
	return 200;
}

int ops_identity_discovery(struct route_call *c, struct json_object **out, struct api_err *e)
{
	(void)e;
	*out = identity_discovery(c->hd);
	return 200;
}
