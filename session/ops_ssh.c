/*
 * ops_ssh.c - GET /hearth/ssh (a hearth extension, signed like every API
 * call): where the SSH ingress listens and its host key, for `hearth
 * ssh-config` and `hearth ssh-keyscan`.
 */
#include <json-c/json.h>

#include "protocol/api_json.h"
#include "session/routes.h"
#include "session/sshd.h"

int ops_ssh_info(struct route_call *c, struct json_object **out, struct api_err *e)
{
	const char *pub = sshd_public_key();
	if (!pub[0])
		return api_fail(e, API_E_NOTFOUND, "the SSH ingress is not running (--ssh-listen)");
	*out = json_object_new_object();
	json_object_object_add(*out, "listen", json_object_new_string(c->hd->cfg.ssh_listen));
	json_object_object_add(*out, "hostKey", json_object_new_string(pub));
	json_object_object_add(*out, "fingerprint", json_object_new_string(sshd_fingerprint()));
	return 200;
}
