/*
 * ops.h - helpers shared by the API operation handlers.
 */
#ifndef HEARTH_OPS_H
#define HEARTH_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/api_page.h"
#include "session/routes.h"
#include "session/store.h"

/* Resolve an image identifier (name or ARN) to a managed image name. */
int ops_resolve_image(const char *ident, char *name, size_t n, struct api_err *e);
/* Resolve an image identifier to a managed image (*managed 1) or a built
 * image of this host (*managed 0, by name or this account's ARN). */
int ops_resolve_any(struct hearthd *hd, const char *ident, char *name, size_t n, int *managed,
		    struct api_err *e);
/* maxResults/nextToken of a listing with the given filter hash. */
int ops_paging(struct route_call *c, uint8_t list, uint64_t filter, int *max,
	       struct api_page *pg, struct api_err *e);
/* Add a nextToken resuming after `after` to o. */
int ops_next_token(struct hearthd *hd, struct json_object *o, uint8_t list, uint64_t filter,
		   uint64_t after);

/* ops_vm.c */
struct json_object *ops_vm_json(struct hearthd *hd, const struct store_vm *v);
int ops_vm_lookup(struct hearthd *hd, const char *ident, struct store_vm *v, struct api_err *e);
int ops_vm_ingress_flags(const struct store_vm *v);

#endif
