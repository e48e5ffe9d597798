/*
 * ops_image_create.c - CreateMicrovmImage and UpdateMicrovmImage: validate,
 * record the image, its new version (1.0, then the next major) and its
 * build (PENDING), then hand the build to the builder. The build's end comes
 * back through ops_image_build_done (ops_image_done.c).
 *
 * clientToken: the same token with the same request answers what the first
 * call made; with a different request it is a ConflictException (as
 * RunMicrovm does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "protocol/api_ident.h"
#include "protocol/api_imgreq.h"
#include "session/catalog.h"
#include "session/egress_int.h"
#include "session/ops_image.h"

static int new_build_id(char *out, size_t n)
{
	uint8_t b[16];
	if (n < 2 * sizeof b + 1 || getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		return -1;
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* What every request must name and this host must have. */
static int check_request(struct hearthd *hd, const struct api_imgreq *r, struct api_err *e)
{
	char base[129];
	if (ops_resolve_image(r->base_image_arn, base, sizeof base, e) < 0 ||
	    !catalog_known(base))
		return api_fail(e, API_E_VALIDATION,
				"baseImageArn must name a managed image (busybox, debian-12, or "
				"their ARNs; the service's al2023 ARNs map to busybox)");
	for (unsigned i = 0; i < r->n_egress; i++)
		if (!egress_connector_known(hd->cfg.state_dir, r->egress[i]))
			return api_fail(e, API_E_VALIDATION,
					"unknown egress network connector (hearth knows "
					"*:INTERNET_EGRESS, *:NO_EGRESS and its allowlists)");
	return 0;
}

/* A token seen before: 1 with the earlier answer, -1 on a mismatch or an
 * error, 0 when new. */
static int replay(struct hearthd *hd, const struct api_imgreq *r, const char *fp,
		  struct json_object **out, struct api_err *e)
{
	char image[129], version[65], oldfp[17];
	struct store_image im;
	if (!r->client_token)
		return 0;
	int rc = store_imgtoken_get(hd->store, r->client_token, image, sizeof image, version,
				    sizeof version, oldfp, sizeof oldfp);
	if (rc < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (rc == 0)
		return 0;
	if (strcmp(fp, oldfp) != 0)
		return api_fail(e, API_E_CONFLICT,
				"clientToken was already used with different parameters");
	struct store_version *v = malloc(sizeof *v);
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (store_image_get(hd->store, image, &im) != 1 ||
	    store_version_get(hd->store, image, version, v) != 1) {
		free(v);
		return api_fail(e, API_E_CONFLICT,
				"clientToken was used for an image version that was deleted since");
	}
	*out = ops_image_json_with(hd, &im, v);
	free(v);
	return 1;
}

static void fill_spec(struct build_spec *s, const struct store_version *v,
		      const struct api_imgreq *r)
{
	memset(s, 0, sizeof *s);
	snprintf(s->build_id, sizeof s->build_id, "%s", v->build_id);
	snprintf(s->image, sizeof s->image, "%s", v->image);
	snprintf(s->version, sizeof s->version, "%s", v->version);
	snprintf(s->artifact_uri, sizeof s->artifact_uri, "%s", r->uri);
	api_imgreq_env_text(r, s->env_json, sizeof s->env_json);
	if (r->has_hooks)
		s->hooks = r->hooks;
	s->os_caps_all = r->os_caps_all;
	s->mem_mib = r->mem_mib;
	s->vcpus = r->vcpus;
	if (r->n_egress) {
		struct json_object *a = json_object_new_array();
		for (unsigned i = 0; i < r->n_egress; i++)
			json_object_array_add(a, json_object_new_string(r->egress[i]));
		snprintf(s->egress, sizeof s->egress, "%s",
			 json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(a);
	}
}

/* Record the version and its build (in the caller's transaction). */
static int record(struct hearthd *hd, const struct api_imgreq *r, const char *fp,
		  struct store_version *v, struct store_build *b, struct api_err *e)
{
	const char *req = json_object_to_json_string_ext(r->echo, JSON_C_TO_STRING_PLAIN |
									JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(v->state, sizeof v->state, "PENDING");
	v->active = 1;
	v->created_at = v->updated_at = hd_now();
	snprintf(v->request, sizeof v->request, "%s", req);
	if (new_build_id(v->build_id, sizeof v->build_id) < 0)
		return api_fail(e, API_E_INTERNAL, "no randomness for a build id");
	memset(b, 0, sizeof *b);
	snprintf(b->build_id, sizeof b->build_id, "%s", v->build_id);
	snprintf(b->image, sizeof b->image, "%s", v->image);
	snprintf(b->version, sizeof b->version, "%s", v->version);
	snprintf(b->architecture, sizeof b->architecture, "X86_64");
	snprintf(b->state, sizeof b->state, "PENDING");
	b->mem_bytes = b->disk_bytes = b->code_bytes = -1;
	b->created_at = v->created_at;
	if (store_version_insert(hd->store, v) < 0 || store_build_insert(hd->store, b) < 0 ||
	    (r->client_token &&
	     store_imgtoken_put(hd->store, r->client_token, v->image, v->version, fp) < 0))
		return api_fail(e, API_E_INTERNAL, "state store error: %s", store_errmsg(hd->store));
	return 0;
}

/* Tags given at creation apply to the image's ARN. */
static int record_tags(struct hearthd *hd, const struct api_imgreq *r, const char *name)
{
	char arn[512];
	if (!r->tags)
		return 0;
	api_ident_image_arn(name, 0, arn, sizeof arn);
	json_object_object_foreach(r->tags, k, v)
		if (store_tag_set(hd->store, arn, k, json_object_get_string(v)) < 0)
			return -1;
	return 0;
}

/* Queue the build; a refusal ends it FAILED at once, as a build would. */
static void submit(struct hearthd *hd, const struct store_version *v, const struct api_imgreq *r)
{
	struct build_spec *s = malloc(sizeof *s);
	char err[256] = "no image builder in this hearthd";
	if (s) {
		fill_spec(s, v, r);
		if (hd->builder && builder_submit(hd->builder, s, err, sizeof err) == 0) {
			free(s);
			return;
		}
	}
	struct build_result res = { .reason = BR_INTERNAL_PLATFORM_ERROR,
				    .memory_snapshot_bytes = -1,
				    .disk_snapshot_bytes = -1,
				    .code_install_bytes = -1 };
	snprintf(res.message, sizeof res.message, "%s", s ? err : "out of memory");
	if (s)
		ops_image_build_done(hd, s, &res);
	free(s);
}

static int create_body(struct route_call *c, struct json_object *body, struct json_object **out,
		       struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct api_imgreq r;
	struct store_image im;
	struct store_build b;
	char fp[17];
	if (api_imgreq_parse(body, 0, &r, e) < 0)
		return -1;
	struct store_version *v = calloc(1, sizeof *v);
	int rc = -1;
	if (!v) {
		api_fail(e, API_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)api_imgreq_fingerprint(&r));
	if (catalog_known(r.name)) {
		api_fail(e, API_E_CONFLICT, "%s is the name of a managed image", r.name);
		goto out;
	}
	if (check_request(hd, &r, e) < 0)
		goto out;
	int rp = replay(hd, &r, fp, out, e);
	if (rp != 0) {
		rc = rp < 0 ? -1 : 201;
		goto out;
	}
	int found = store_image_get(hd->store, r.name, &im);
	if (found < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	if (found) {
		api_fail(e, API_E_CONFLICT,
			 "image %s already exists (UpdateMicrovmImage builds a new version)", r.name);
		goto out;
	}
	memset(&im, 0, sizeof im);
	snprintf(im.name, sizeof im.name, "%s", r.name);
	snprintf(im.state, sizeof im.state, "CREATING");
	if (r.description)
		snprintf(im.description, sizeof im.description, "%s", r.description);
	im.next_major = 2;
	im.created_at = im.updated_at = hd_now();
	snprintf(v->image, sizeof v->image, "%s", r.name);
	snprintf(v->version, sizeof v->version, "1.0");
	v->major = 1;
	if (store_begin(hd->store) < 0) {
		api_fail(e, API_E_INTERNAL, "state store busy");
		goto out;
	}
	if (store_image_insert(hd->store, &im) < 0 || record(hd, &r, fp, v, &b, e) < 0 ||
	    record_tags(hd, &r, r.name) < 0) {
		if (!e->type)
			api_fail(e, API_E_INTERNAL, "state store error");
		store_rollback(hd->store);
		goto out;
	}
	if (store_commit(hd->store) < 0) {
		store_rollback(hd->store);
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	hd_log("image %s: version %s, build %s queued", v->image, v->version, v->build_id);
	submit(hd, v, &r);
	store_image_get(hd->store, r.name, &im);
	*out = ops_image_json_with(hd, &im, v);
	rc = 201;
out:
	free(v);
	api_imgreq_free(&r);
	return rc;
}

static int no_build_cb(const struct store_build *b, void *ctx)
{
	(void)b;
	(void)ctx;
	return -1; /* one is enough */
}

static int update_body(struct route_call *c, struct json_object *body, struct json_object **out,
		       struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct api_imgreq r;
	struct store_image im;
	struct store_build b;
	char fp[17];
	if (ops_image_find(hd, c->params[0], &im, e) < 0)
		return -1;
	if (api_imgreq_parse(body, 1, &r, e) < 0)
		return -1;
	r.name = im.name; /* the fingerprint covers which image a token updated */
	struct store_version *v = calloc(1, sizeof *v);
	int rc = -1;
	if (!v) {
		api_fail(e, API_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)api_imgreq_fingerprint(&r));
	if (check_request(hd, &r, e) < 0)
		goto out;
	int rp = replay(hd, &r, fp, out, e);
	if (rp != 0) {
		rc = rp < 0 ? -1 : 200;
		goto out;
	}
	if (strcmp(im.state, "DELETING") == 0) {
		api_fail(e, API_E_CONFLICT, "image %s is being deleted", im.name);
		goto out;
	}
	int busy = store_build_unfinished(hd->store, im.name, no_build_cb, NULL);
	if (busy < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	if (busy > 0) {
		api_fail(e, API_E_CONFLICT,
			 "image %s has a build in progress; wait for it (or DeleteMicrovmImage)",
			 im.name);
		goto out;
	}
	snprintf(v->image, sizeof v->image, "%s", im.name);
	snprintf(v->version, sizeof v->version, "%lld.0", (long long)im.next_major);
	v->major = im.next_major;
	im.next_major++;
	snprintf(im.state, sizeof im.state, "UPDATING");
	if (r.description)
		snprintf(im.description, sizeof im.description, "%s", r.description);
	im.updated_at = hd_now();
	if (store_begin(hd->store) < 0) {
		api_fail(e, API_E_INTERNAL, "state store busy");
		goto out;
	}
	if (store_image_update(hd->store, &im) < 0 || record(hd, &r, fp, v, &b, e) < 0) {
		if (!e->type)
			api_fail(e, API_E_INTERNAL, "state store error");
		store_rollback(hd->store);
		goto out;
	}
	if (store_commit(hd->store) < 0) {
		store_rollback(hd->store);
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	hd_log("image %s: version %s, build %s queued", v->image, v->version, v->build_id);
	submit(hd, v, &r);
	store_image_get(hd->store, im.name, &im);
	*out = ops_image_json_with(hd, &im, v);
	rc = 200;
out:
	free(v);
	api_imgreq_free(&r);
	return rc;
}

int ops_image_create(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	int rc = create_body(c, body, out, e);
	json_object_put(body);
	return rc;
}

int ops_image_update(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	int rc = update_body(c, body, out, e);
	json_object_put(body);
	return rc;
}
