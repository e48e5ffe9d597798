/*
 * ops_image.c - image operations. Managed images (busybox, debian-12) are
 * listed with their versions. Building images (CreateMicrovmImage and the
 * routes that change or inspect built images) comes in a later issue: until
 * then those answer NotImplementedException, and since no user image can
 * exist, reads of user images answer ResourceNotFoundException and the list
 * is empty.
 */
#include <stdio.h>
#include <string.h>

#include "protocol/api_ident.h"
#include "session/catalog.h"
#include "session/ops.h"

#define PAGE_LIST_MANAGED 2
#define PAGE_LIST_MANAGED_VERSIONS 3
#define PAGE_LIST_IMAGES 4

int ops_image_managed_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	int max;
	struct api_page pg;
	struct catalog_entry ce;
	struct api_err le;
	if (ops_paging(c, PAGE_LIST_MANAGED, 0, &max, &pg, e) < 0)
		return -1;
	struct json_object *items = json_object_new_array();
	uint64_t i = pg.after;
	int n = 0;
	for (; catalog_names[i] && n < max; i++, n++) {
		char arn[512];
		struct json_object *o = json_object_new_object();
		api_ident_image_arn(catalog_names[i], 1, arn, sizeof arn);
		json_object_object_add(o, "imageArn", json_object_new_string(arn));
		int64_t created = 0;
		if (catalog_load(c->hd->cfg.image_dir, catalog_names[i], &ce, &le) == 1)
			created = ce.created;
		json_object_object_add(o, "createdAt", json_object_new_int64(created));
		json_object_array_add(items, o);
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", items);
	if (catalog_names[i])
		ops_next_token(c->hd, *out, PAGE_LIST_MANAGED, 0, i);
	return 200;
}

int ops_image_managed_versions(struct route_call *c, struct json_object **out,
			       struct api_err *e)
{
	char name[129], arn[512];
	int max;
	struct api_page pg;
	struct catalog_entry ce;
	if (ops_resolve_image(c->params[0], name, sizeof name, e) < 0)
		return -1;
	const char *filters[] = { name };
	uint64_t fh = api_page_filter_hash(filters, 1);
	if (ops_paging(c, PAGE_LIST_MANAGED_VERSIONS, fh, &max, &pg, e) < 0)
		return -1;
	int lr = catalog_load(c->hd->cfg.image_dir, name, &ce, e);
	if (lr < 0)
		return -1;
	struct json_object *items = json_object_new_array();
	/* One version per managed image: the one built on this host. */
	if (lr == 1 && pg.after == 0) {
		struct json_object *o = json_object_new_object();
		api_ident_image_arn(name, 1, arn, sizeof arn);
		json_object_object_add(o, "imageArn", json_object_new_string(arn));
		json_object_object_add(o, "imageVersion", json_object_new_string(ce.img.version));
		json_object_object_add(o, "status", json_object_new_string("AVAILABLE"));
		json_object_object_add(o, "createdAt", json_object_new_int64(ce.created));
		json_object_array_add(items, o);
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", items);
	return 200;
}

int ops_image_unsupported(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return api_fail(e, "NotImplementedException",
			"building and managing custom microVM images is not supported by this "
			"hearthd yet; run a managed image (busybox, debian-12)");
}

int ops_image_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct api_ident id;
	if (api_ident_image(c->params[0], &id, e) < 0)
		return -1;
	return api_fail(e, API_E_NOTFOUND,
			"image %s not found (custom images are not supported yet; managed images "
			"are listed by ListManagedMicrovmImages)",
			id.name);
}

int ops_image_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	int max;
	struct api_page pg;
	const char *nf = routes_query(c, "nameFilter");
	const char *filters[] = { nf };
	if (ops_paging(c, PAGE_LIST_IMAGES, api_page_filter_hash(filters, 1), &max, &pg, e) < 0)
		return -1;
	*out = json_object_new_object();
	json_object_object_add(*out, "items", json_object_new_array());
	return 200;
}
