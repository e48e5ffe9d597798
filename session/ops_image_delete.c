/*
 * ops_image_delete.c - DeleteMicrovmImage, DeleteMicrovmImageVersion and
 * UpdateMicrovmImageVersion (status ACTIVE <-> INACTIVE). See ops_image.h
 * for what is refused while VMs run an image and how a build is cancelled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_ident.h"
#include "protocol/api_imgreq.h"
#include "session/ops_image.h"

static int cancel_cb(const struct store_build *b, void *ctx)
{
	struct hearthd *hd = ctx;
	/* The builder reports the end (done callback) even for a cancelled build. */
	if (hd->builder && builder_cancel(hd->builder, b->build_id) == 0)
		return 0;
	/* Unknown to the builder (none, or a row left by a crash): end it here. */
	struct store_build row = *b;
	snprintf(row.state, sizeof row.state, "FAILED");
	snprintf(row.reason, sizeof row.reason, "INTERNAL_PLATFORM_ERROR");
	snprintf(row.message, sizeof row.message, "cancelled: the image was deleted");
	row.ended_at = hd_now();
	store_build_update(hd->store, &row);
	return 0;
}

static int running_cb(const struct store_build *b, void *ctx)
{
	(void)b;
	(*(int *)ctx)++;
	return 0;
}

int ops_image_delete(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct store_image im;
	if (ops_image_find(hd, c->params[0], &im, e) < 0)
		return -1;
	int vms = store_image_vms(hd->store, im.name, NULL);
	if (vms < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (vms > 0)
		return api_fail(e, API_E_CONFLICT,
				"image %s is run by %d microVM(s) not terminated; terminate them "
				"first",
				im.name, vms);
	if (store_build_unfinished(hd->store, im.name, cancel_cb, hd) < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	int running = 0;
	if (store_build_unfinished(hd->store, im.name, running_cb, &running) < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	snprintf(im.state, sizeof im.state, "DELETING");
	im.updated_at = hd_now();
	if (running) {
		/* The rows and files go when the builder reports the cancelled build. */
		if (store_image_update(hd->store, &im) < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
		hd_log("image %s: deleting once its build has stopped", im.name);
	} else {
		if (ops_image_purge(hd, im.name) < 0)
			return api_fail(e, API_E_INTERNAL, "state store error");
		hd_log("image %s deleted", im.name);
	}
	char arn[512];
	api_ident_image_arn(im.name, 0, arn, sizeof arn);
	*out = json_object_new_object();
	json_object_object_add(*out, "imageIdentifier", json_object_new_string(arn));
	json_object_object_add(*out, "state", json_object_new_string("DELETING"));
	return 200;
}

int ops_image_version_delete(struct route_call *c, struct json_object **out,
			     struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct store_image im;
	struct store_version *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_image_find(hd, c->params[0], &im, e) < 0 ||
	    ops_image_find_version(hd, im.name, c->params[1], v, e) < 0)
		goto out;
	if (strcmp(v->state, "PENDING") == 0) {
		api_fail(e, API_E_CONFLICT,
			 "version %s of %s is still building (DeleteMicrovmImage cancels a build)",
			 v->version, im.name);
		goto out;
	}
	int vms = store_image_vms(hd->store, im.name, v->version);
	if (vms < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	if (vms > 0) {
		api_fail(e, API_E_CONFLICT,
			 "version %s of %s is run by %d microVM(s) not terminated; terminate them "
			 "first",
			 v->version, im.name, vms);
		goto out;
	}
	ops_image_remove_logs(hd, im.name, v->version);
	if (store_version_delete(hd->store, im.name, v->version) < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	ops_image_remove_files(hd, im.name, v->version);
	hd_log("image %s: version %s deleted", im.name, v->version);
	char arn[512];
	api_ident_image_arn(im.name, 0, arn, sizeof arn);
	*out = json_object_new_object();
	json_object_object_add(*out, "imageIdentifier", json_object_new_string(arn));
	json_object_object_add(*out, "imageVersion", json_object_new_string(v->version));
	json_object_object_add(*out, "state", json_object_new_string("DELETED"));
	rc = 200;
out:
	free(v);
	return rc;
}

static int status_body(struct route_call *c, struct json_object *body, struct json_object **out,
		       struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct store_image im;
	int active;
	struct store_version *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_image_find(hd, c->params[0], &im, e) < 0 ||
	    ops_image_find_version(hd, im.name, c->params[1], v, e) < 0 ||
	    api_imgreq_version_status(body, &active, e) < 0)
		goto out;
	if (v->active != active) {
		v->active = active;
		v->updated_at = hd_now();
		if (store_version_update(hd->store, v) < 0) {
			api_fail(e, API_E_INTERNAL, "state store error");
			goto out;
		}
	}
	*out = ops_image_version_json(hd, v);
	rc = 200;
out:
	free(v);
	return rc;
}

int ops_image_version_update(struct route_call *c, struct json_object **out,
			     struct api_err *e)
{
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	int rc = status_body(c, body, out, e);
	json_object_put(body);
	return rc;
}
