/*
 * ops_image.c - image operations: the managed images (busybox, debian-12)
 * with their versions; lookups, JSON shapes and file removal shared by the
 * built-image files (ops_image.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/api_ident.h"
#include "session/catalog.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/lifecycle.h"
#include "session/snapcache.h"
#include "session/ops_image.h"

#define PAGE_LIST_MANAGED 2
#define PAGE_LIST_MANAGED_VERSIONS 3

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
	if (!catalog_known(name))
		return api_fail(e, API_E_NOTFOUND, "managed image %s not found", c->params[0]);
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

/* ---- shared by ops_image_*.c ---- */

int ops_image_find(struct hearthd *hd, const char *ident, struct store_image *im,
		   struct api_err *e)
{
	struct api_ident id;
	if (api_ident_image(ident, &id, e) < 0)
		return -1;
	if (id.managed || (!id.is_arn && catalog_known(id.name)))
		return api_fail(e, API_E_NOTFOUND,
				"image %s is a managed image (ListManagedMicrovmImages lists them)",
				id.name);
	int rc = store_image_get(hd->store, id.name, im);
	if (rc < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (rc == 0)
		return api_fail(e, API_E_NOTFOUND, "image %s not found", id.name);
	return 1;
}

int ops_image_find_version(struct hearthd *hd, const char *name, const char *version,
			   struct store_version *v, struct api_err *e)
{
	if (api_ident_version(version, e) < 0)
		return -1;
	int rc = store_version_get(hd->store, name, version, v);
	if (rc < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (rc == 0)
		return api_fail(e, API_E_NOTFOUND, "image %s has no version %s", name, version);
	return 1;
}

const char *ops_image_build_state(struct hearthd *hd, const char *build_id, const char *state)
{
	if (strcmp(state, "PENDING") == 0 && hd->builder &&
	    builder_phase(hd->builder, build_id) == BUILD_IN_PROGRESS)
		return "IN_PROGRESS";
	return state;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static int tag_cb(const char *k, const char *v, void *ctx)
{
	add_str(ctx, k, v);
	return 0;
}

static void add_tags(struct hearthd *hd, struct json_object *o, const char *arn)
{
	struct json_object *t = json_object_new_object();
	store_tag_list(hd->store, arn, tag_cb, t);
	json_object_object_add(o, "tags", t);
}

struct json_object *ops_image_json(struct hearthd *hd, const struct store_image *im)
{
	struct json_object *o = json_object_new_object();
	struct store_version *v = malloc(sizeof *v);
	char arn[512];
	api_ident_image_arn(im->name, 0, arn, sizeof arn);
	add_str(o, "imageArn", arn);
	add_str(o, "name", im->name);
	add_str(o, "state", im->state);
	if (v && store_version_latest(hd->store, im->name, "SUCCESSFUL", 1, v) == 1)
		add_str(o, "latestActiveImageVersion", v->version);
	if (v && store_version_latest(hd->store, im->name, "FAILED", 0, v) == 1)
		add_str(o, "latestFailedImageVersion", v->version);
	free(v);
	if (im->description[0])
		add_str(o, "description", im->description);
	json_object_object_add(o, "createdAt", json_object_new_int64(im->created_at));
	json_object_object_add(o, "updatedAt", json_object_new_int64(im->updated_at));
	add_tags(hd, o, arn);
	return o;
}

/* The version's stored request fields (api_imgreq echo) merged into o. */
static void add_request(struct json_object *o, const struct store_version *v)
{
	struct json_object *req = json_tokener_parse(v->request);
	if (req && json_object_is_type(req, json_type_object)) {
		json_object_object_foreach(req, k, val)
			json_object_object_add(o, k, json_object_get(val));
	}
	json_object_put(req);
}

struct json_object *ops_image_json_with(struct hearthd *hd, const struct store_image *im,
					const struct store_version *v)
{
	struct json_object *o = ops_image_json(hd, im);
	add_request(o, v);
	add_str(o, "imageVersion", v->version);
	return o;
}

struct json_object *ops_image_version_json(struct hearthd *hd, const struct store_version *v)
{
	struct json_object *o = json_object_new_object();
	char arn[512];
	add_request(o, v);
	api_ident_image_arn(v->image, 0, arn, sizeof arn);
	add_str(o, "imageArn", arn);
	add_str(o, "imageVersion", v->version);
	add_str(o, "state", ops_image_build_state(hd, v->build_id, v->state));
	add_str(o, "status", v->active ? "ACTIVE" : "INACTIVE");
	json_object_object_add(o, "createdAt", json_object_new_int64(v->created_at));
	json_object_object_add(o, "updatedAt", json_object_new_int64(v->updated_at));
	if (v->reason[0])
		add_str(o, "stateReason", v->reason);
	/* hearth's own: the reason's words and the build (SDKs ignore it). */
	struct json_object *h = json_object_new_object();
	if (v->message[0])
		add_str(h, "stateReasonMessage", v->message);
	add_str(h, "buildId", v->build_id);
	json_object_object_add(o, "hearth", h);
	add_tags(hd, o, arn);
	return o;
}

struct json_object *ops_image_build_json(struct hearthd *hd, const struct store_build *b,
					 int full)
{
	struct json_object *o = json_object_new_object();
	char arn[512];
	api_ident_image_arn(b->image, 0, arn, sizeof arn);
	add_str(o, "imageArn", arn);
	add_str(o, "imageVersion", b->version);
	add_str(o, "buildId", b->build_id);
	add_str(o, "buildState", ops_image_build_state(hd, b->build_id, b->state));
	add_str(o, "architecture", b->architecture);
	add_str(o, "chipset", "GENERIC");
	add_str(o, "chipsetGeneration", "1");
	if (b->reason[0])
		add_str(o, "stateReason", b->reason);
	json_object_object_add(o, "createdAt", json_object_new_int64(b->created_at));
	if (full && strcmp(b->state, "SUCCESSFUL") == 0) {
		struct json_object *sb = json_object_new_object();
		if (b->mem_bytes >= 0)
			json_object_object_add(sb, "memorySnapshotSizeInBytes",
					       json_object_new_int64(b->mem_bytes));
		if (b->disk_bytes >= 0)
			json_object_object_add(sb, "diskSnapshotSizeInBytes",
					       json_object_new_int64(b->disk_bytes));
		if (b->code_bytes >= 0)
			json_object_object_add(sb, "codeInstallSizeInBytes",
					       json_object_new_int64(b->code_bytes));
		json_object_object_add(o, "snapshotBuild", sb);
	}
	struct json_object *h = json_object_new_object();
	if (b->message[0])
		add_str(h, "stateReasonMessage", b->message);
	if (b->started_at)
		json_object_object_add(h, "startedAt", json_object_new_int64(b->started_at));
	if (b->ended_at)
		json_object_object_add(h, "endedAt", json_object_new_int64(b->ended_at));
	json_object_object_add(o, "hearth", h);
	return o;
}

/* Snapshot directories of name@version: the snapcache's key is
 * "<name>@<version>" plus an optional "+..." suffix; ".build-" ones are its
 * work directories. */
static void remove_snapshots(struct hearthd *hd, const char *name, const char *version)
{
	char dir[PATH_MAX], key[300], path[PATH_MAX];
	fsutil_pathf(dir, sizeof dir, "%s/snapshots", hd->cfg.state_dir);
	fsutil_pathf(key, sizeof key, "%s@%s", name, version ? version : "");
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	size_t kl = strlen(key);
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strncmp(n, ".build-", 7) == 0)
			n += 7;
		if (strncmp(n, key, kl) != 0)
			continue;
		/* Without a version every version goes; with one, only exact keys. */
		if (version && n[kl] != '\0' && n[kl] != '+')
			continue;
		fsutil_pathf(path, sizeof path, "%s/%s", dir, de->d_name);
		fsutil_rm_rf(path);
	}
	closedir(d);
	/* Their sealed memory copies go too (running VMs keep their own). */
	if (hd->lc)
		snapcache_prune(lifecycle_snapcache(hd->lc));
}

void ops_image_remove_files(struct hearthd *hd, const char *name, const char *version)
{
	char path[PATH_MAX];
	if (version) {
		builder_image_dir(hd, name, version, path, sizeof path);
	} else {
		builder_image_dir(hd, name, "x", path, sizeof path);
		char *slash = strrchr(path, '/');
		if (slash)
			*slash = '\0';
	}
	fsutil_rm_rf(path);
	remove_snapshots(hd, name, version);
}

static int unlink_log_cb(const struct store_build *b, void *ctx)
{
	char path[PATH_MAX];
	builder_log_path(ctx, b->build_id, path, sizeof path);
	unlink(path);
	return 0;
}

void ops_image_remove_logs(struct hearthd *hd, const char *name, const char *version)
{
	store_build_list(hd->store, name, version, unlink_log_cb, hd);
}

static int version_logs_cb(const struct store_version *v, void *ctx)
{
	ops_image_remove_logs(ctx, v->image, v->version);
	return 0;
}

int ops_image_purge(struct hearthd *hd, const char *name)
{
	char arn[512];
	int more;
	/* Build logs outlive their build, not their image. */
	store_version_list(hd->store, name, 0, 100000, version_logs_cb, hd, &more);
	api_ident_image_arn(name, 0, arn, sizeof arn);
	if (store_image_delete(hd->store, name) < 0)
		return -1;
	/* Tags live by ARN; a new image of the same name starts without them. */
	struct json_object *t = json_object_new_object();
	store_tag_list(hd->store, arn, tag_cb, t);
	json_object_object_foreach(t, k, v)
	{
		(void)v;
		store_tag_del(hd->store, arn, k);
	}
	json_object_put(t);
	ops_image_remove_files(hd, name, NULL);
	return 0;
}
