/*
 * ops.c - helpers shared by the operation handlers: image resolution and
 * paging.
 */
#include "session/ops.h"

#include <stdio.h>
#include <string.h>

#include "protocol/api_ident.h"
#include "session/catalog.h"

/* Resolve an image identifier to a managed image name (see api_ident.h). */
int ops_resolve_image(const char *ident, char *name, size_t n, struct api_err *e)
{
	struct api_ident id;
	if (api_ident_image(ident, &id, e) < 0)
		return -1;
	if (catalog_known(id.name)) {
		if (id.is_arn && !id.managed)
			return api_fail(e, API_E_NOTFOUND, "image %s not found", ident);
		snprintf(name, n, "%s", id.name);
		return 0;
	}
	/* Another provider's managed image (e.g. an AWS al2023 ARN) maps to ours. */
	if (id.is_arn && id.managed) {
		snprintf(name, n, "%s", CATALOG_DEFAULT);
		return 0;
	}
	return api_fail(e, API_E_NOTFOUND, "image %s not found", ident);
}

int ops_resolve_any(struct hearthd *hd, const char *ident, char *name, size_t n, int *managed,
		    struct api_err *e)
{
	struct api_ident id;
	struct store_image im;
	if (api_ident_image(ident, &id, e) < 0)
		return -1;
	if (!id.managed) {
		int rc = catalog_known(id.name) ? 0 : store_image_get(hd->store, id.name, &im);
		if (rc < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
		if (rc == 1) {
			snprintf(name, n, "%s", im.name);
			*managed = 0;
			return 0;
		}
	}
	*managed = 1;
	return ops_resolve_image(ident, name, n, e);
}

int ops_paging(struct route_call *c, uint8_t list, uint64_t filter, int *max,
	       struct api_page *pg, struct api_err *e)
{
	const char *mr = routes_query(c, "maxResults"), *nt = routes_query(c, "nextToken");
	*max = API_PAGE_DEFAULT;
	memset(pg, 0, sizeof *pg);
	if (mr && api_page_max_results(mr, API_PAGE_MAX, max, e) < 0)
		return -1;
	if (nt && api_page_decode(c->hd->key, sizeof c->hd->key, nt, list, filter, pg, e) < 0)
		return -1;
	return 0;
}

int ops_next_token(struct hearthd *hd, struct json_object *o, uint8_t list, uint64_t filter,
		   uint64_t after)
{
	char tok[API_PAGE_TOKEN_MAX + 1];
	struct api_page pg = { .list = list, .after = after, .filter = filter };
	if (api_page_encode(hd->key, sizeof hd->key, &pg, tok, sizeof tok) < 0)
		return -1;
	json_object_object_add(o, "nextToken", json_object_new_string(tok));
	return 0;
}
