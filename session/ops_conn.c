/*
 * ops_conn.c - hearth's allowlist network connectors (an API extension,
 * man/hearthd.8 NETWORK): create, list, get, delete. A connector a live
 * microVM uses cannot be deleted (its policy is fixed for the VM's life).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_connector.h"
#include "session/connstore.h"
#include "session/ops.h"

static struct json_object *conn_json(const struct api_connector *c)
{
	char arn[256];
	struct json_object *o = json_object_new_object(), *h = json_object_new_array(),
			   *r = json_object_new_array();
	connstore_arn(c->name, arn, sizeof arn);
	json_object_object_add(o, "networkConnectorArn", json_object_new_string(arn));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "type", json_object_new_string("ALLOWLIST"));
	for (unsigned i = 0; i < c->n_hosts; i++)
		json_object_array_add(h, json_object_new_string(c->hosts[i]));
	for (unsigned i = 0; i < c->n_cidrs; i++) {
		char s[64];
		uint32_t a = c->cidrs[i].addr;
		int n = snprintf(s, sizeof s, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255, c->cidrs[i].prefix);
		if (c->cidrs[i].port)
			snprintf(s + n, sizeof s - (size_t)n, ":%u", c->cidrs[i].port);
		json_object_array_add(r, json_object_new_string(s));
	}
	json_object_object_add(o, "hosts", h);
	json_object_object_add(o, "cidrs", r);
	return o;
}

int ops_conn_create(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	struct api_connector *ac = malloc(sizeof *ac);
	int rc = -1;
	if (!ac)
		api_fail(e, API_E_INTERNAL, "out of memory");
	else if (api_connector_parse(body, ac, e) == 0) {
		if (connstore_create(c->hd->cfg.state_dir, ac) == 0) {
			*out = conn_json(ac);
			rc = 200;
		} else if (errno == EEXIST) {
			api_fail(e, API_E_CONFLICT, "network connector %s already exists", ac->name);
		} else {
			api_fail(e, API_E_INTERNAL, "cannot store the connector: %s", strerror(errno));
		}
	}
	free(ac);
	json_object_put(body);
	return rc;
}

static int add_one(const struct api_connector *ac, void *ctx)
{
	json_object_array_add(ctx, conn_json(ac));
	return 0;
}

int ops_conn_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct json_object *items = json_object_new_array();
	if (connstore_each(c->hd->cfg.state_dir, add_one, items) < 0) {
		json_object_put(items);
		return api_fail(e, API_E_INTERNAL, "cannot read the connectors");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "networkConnectors", items);
	return 200;
}

int ops_conn_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct api_connector *ac = malloc(sizeof *ac);
	if (!ac)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	int rc = connstore_load(c->hd->cfg.state_dir, c->params[0], ac);
	if (rc == 1)
		*out = conn_json(ac);
	free(ac);
	if (rc == 0)
		return api_fail(e, API_E_NOTFOUND, "network connector %s not found", c->params[0]);
	return rc < 0 ? api_fail(e, API_E_INTERNAL, "cannot read the connector") : 200;
}

struct in_use {
	const char *arn;
	char vm[STORE_ID];
};

static int uses(const struct store_vm *v, void *ctx)
{
	struct in_use *u = ctx;
	/* egress is a JSON array of ARNs: match the quoted ARN exactly. */
	char q[300];
	snprintf(q, sizeof q, "\"%s\"", u->arn);
	if (!u->vm[0] && strstr(v->egress, q))
		snprintf(u->vm, sizeof u->vm, "%s", v->id);
	return 0;
}

int ops_conn_delete(struct route_call *c, struct json_object **out, struct api_err *e)
{
	char arn[256];
	const char *name = c->params[0];
	if (!api_connector_name_ok(name))
		return api_fail(e, API_E_NOTFOUND, "network connector %s not found", name);
	connstore_arn(name, arn, sizeof arn);
	struct in_use u = { arn, "" };
	if (store_vm_live(c->hd->store, uses, &u) < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (u.vm[0])
		return api_fail(e, API_E_CONFLICT, "network connector %s is used by microVM %s", name,
				u.vm);
	if (connstore_delete(c->hd->cfg.state_dir, name) < 0)
		return errno == ENOENT
			       ? api_fail(e, API_E_NOTFOUND, "network connector %s not found", name)
			       : api_fail(e, API_E_INTERNAL, "cannot delete: %s", strerror(errno));
	*out = NULL;
	return 204;
}
