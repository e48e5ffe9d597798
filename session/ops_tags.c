/*
 * ops_tags.c - ListTags / TagResource / UntagResource on microVM ARNs and
 * image ARNs (managed and built). Tags of a resource that does not exist are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_ident.h"
#include "protocol/api_tags.h"
#include "session/catalog.h"
#include "session/ops.h"

/* Resolve the {Resource} label to a canonical ARN of an existing resource. */
static int resource_arn(struct route_call *c, char *arn, size_t n, struct api_err *e)
{
	struct api_ident id;
	if (api_ident_resource(c->params[0], &id, e) < 0)
		return -1;
	if (id.kind == API_RES_MICROVM) {
		struct store_vm *v = malloc(sizeof *v);
		if (!v)
			return api_fail(e, API_E_INTERNAL, "out of memory");
		int rc = store_vm_get(c->hd->store, id.name, v);
		free(v);
		if (rc < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
		if (rc == 0)
			return api_fail(e, API_E_NOTFOUND, "microVM %s not found", id.name);
		api_ident_microvm_arn(id.name, arn, n);
		return 0;
	}
	if (!id.managed) {
		/* A built image of this host. */
		struct store_image im;
		int rc = store_image_get(c->hd->store, id.name, &im);
		if (rc < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
		if (rc == 0)
			return api_fail(e, API_E_NOTFOUND, "image %s not found", id.name);
		api_ident_image_arn(id.name, 0, arn, n);
		return 0;
	}
	if (!catalog_known(id.name))
		return api_fail(e, API_E_NOTFOUND, "image %s not found", id.name);
	api_ident_image_arn(id.name, 1, arn, n);
	return 0;
}

static int add_tag(const char *k, const char *v, void *ctx)
{
	json_object_object_add(ctx, k, json_object_new_string(v));
	return 0;
}

int ops_tags_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	char arn[512];
	if (resource_arn(c, arn, sizeof arn, e) < 0)
		return -1;
	struct json_object *tags = json_object_new_object();
	if (store_tag_list(c->hd->store, arn, add_tag, tags) < 0) {
		json_object_put(tags);
		return api_fail(e, API_E_INTERNAL, "state store error");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "Tags", tags);
	return 200;
}

static int count_tag(const char *k, const char *v, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

int ops_tags_tag(struct route_call *c, struct json_object **out, struct api_err *e)
{
	char arn[512];
	struct api_tags_req r;
	int rc = -1, have = 0;
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	if (api_tags_parse(body, &r, e) < 0 || resource_arn(c, arn, sizeof arn, e) < 0)
		goto out;
	if (store_begin(c->hd->store) < 0) {
		api_fail(e, API_E_INTERNAL, "state store busy");
		goto out;
	}
	for (unsigned i = 0; i < r.n; i++)
		if (store_tag_set(c->hd->store, arn, r.tags[i].key, r.tags[i].value) < 0) {
			store_rollback(c->hd->store);
			api_fail(e, API_E_INTERNAL, "state store error");
			goto out;
		}
	/* At most API_MAX_TAGS per resource, counted after the merge. */
	if (store_tag_list(c->hd->store, arn, count_tag, &have) < 0 || have > API_MAX_TAGS) {
		store_rollback(c->hd->store);
		api_fail(e, API_E_VALIDATION, "a resource can have at most %d tags", API_MAX_TAGS);
		goto out;
	}
	if (store_commit(c->hd->store) < 0) {
		store_rollback(c->hd->store);
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	rc = 204;
out:
	json_object_put(body);
	return rc;
}

int ops_tags_untag(struct route_call *c, struct json_object **out, struct api_err *e)
{
	char arn[512];
	unsigned nkeys = 0;
	for (unsigned i = 0; i < c->nquery; i++)
		if (strcmp(c->query[i].name, "tagKeys") == 0) {
			if (api_tags_check_key(c->query[i].value, strlen(c->query[i].value), e) < 0)
				return -1;
			nkeys++;
		}
	if (nkeys == 0)
		return api_fail(e, API_E_VALIDATION, "tagKeys is required");
	if (resource_arn(c, arn, sizeof arn, e) < 0)
		return -1;
	for (unsigned i = 0; i < c->nquery; i++)
		if (strcmp(c->query[i].name, "tagKeys") == 0 &&
		    store_tag_del(c->hd->store, arn, c->query[i].value) < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
	return 204;
}
