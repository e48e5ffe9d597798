/*
 * ops_image_done.c - a build's end as the builder reports it (the version,
 * build and image rows), and restart recovery: builds a crash left unended
 * are FAILED (INTERNAL_PLATFORM_ERROR) and their leftovers removed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/fsutil.h"
#include "session/ops_image.h"

/* The image's state after a build of version ends. */
static void image_state(struct store_image *im, int ok)
{
	if (strcmp(im->state, "CREATING") == 0)
		snprintf(im->state, sizeof im->state, ok ? "CREATED" : "CREATE_FAILED");
	else if (strcmp(im->state, "UPDATING") == 0)
		snprintf(im->state, sizeof im->state, ok ? "UPDATED" : "UPDATE_FAILED");
}

static void end_build(struct hearthd *hd, const char *build_id, const char *reason,
		      const char *message, const struct build_result *r)
{
	struct store_build b;
	struct store_image im;
	struct store_version *v = malloc(sizeof *v);
	int ok = reason[0] == '\0';
	if (!v || store_build_get(hd->store, build_id, &b) != 1) {
		free(v);
		return;
	}
	int64_t now = hd_now();
	snprintf(b.state, sizeof b.state, ok ? "SUCCESSFUL" : "FAILED");
	snprintf(b.reason, sizeof b.reason, "%s", reason);
	snprintf(b.message, sizeof b.message, "%s", message);
	if (r) {
		b.mem_bytes = r->memory_snapshot_bytes;
		b.disk_bytes = r->disk_snapshot_bytes;
		b.code_bytes = r->code_install_bytes;
	}
	b.ended_at = now;
	store_begin(hd->store);
	store_build_update(hd->store, &b);
	if (store_version_get(hd->store, b.image, b.version, v) == 1) {
		snprintf(v->state, sizeof v->state, "%s", b.state);
		snprintf(v->reason, sizeof v->reason, "%s", reason);
		snprintf(v->message, sizeof v->message, "%s", message);
		v->updated_at = now;
		store_version_update(hd->store, v);
	}
	int purge = 0;
	if (store_image_get(hd->store, b.image, &im) == 1) {
		purge = strcmp(im.state, "DELETING") == 0;
		image_state(&im, ok);
		im.updated_at = now;
		if (!purge)
			store_image_update(hd->store, &im);
	}
	if (store_commit(hd->store) < 0)
		store_rollback(hd->store);
	hd_log("image %s: version %s build %s %s%s%s", b.image, b.version, b.build_id, b.state,
	       ok ? "" : ": ", reason);
	if (purge && ops_image_purge(hd, b.image) == 0)
		hd_log("image %s deleted", b.image);
	free(v);
}

void ops_image_build_done(struct hearthd *hd, const struct build_spec *s,
			  const struct build_result *r)
{
	end_build(hd, s->build_id, build_reason_name(r->reason), r->reason ? r->message : "", r);
}

static int recover_cb(const struct store_build *b, void *ctx)
{
	struct hearthd *hd = ctx;
	char path[PATH_MAX];
	end_build(hd, b->build_id, "INTERNAL_PLATFORM_ERROR", "hearthd restarted during the build",
		  NULL);
	fsutil_pathf(path, sizeof path, "%s/builds/%s", hd->cfg.state_dir, b->build_id);
	fsutil_rm_rf(path);
	return 0;
}

/* <state>/images/<name>/<version>.tmp* left by a build cut short. */
static void remove_tmp_versions(struct hearthd *hd)
{
	char dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX];
	fsutil_pathf(dir, sizeof dir, "%s/images", hd->cfg.state_dir);
	DIR *d = opendir(dir), *vd;
	struct dirent *de, *ve;
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fsutil_pathf(sub, sizeof sub, "%s/%s", dir, de->d_name);
		if (!(vd = opendir(sub)))
			continue;
		while ((ve = readdir(vd)))
			if (ve->d_name[0] != '.' && strstr(ve->d_name, ".tmp")) {
				fsutil_pathf(path, sizeof path, "%s/%s", sub, ve->d_name);
				fsutil_rm_rf(path);
			}
		closedir(vd);
	}
	closedir(d);
}

/* Stops the scan at the first DELETING image (its name into ctx). */
static int deleting_cb(const struct store_image *im, void *ctx)
{
	if (strcmp(im->state, "DELETING") != 0)
		return 0;
	snprintf(ctx, sizeof im->name, "%s", im->name);
	return -1;
}

void ops_image_recover(struct hearthd *hd)
{
	int n = store_build_unfinished(hd->store, NULL, recover_cb, hd), more;
	if (n > 0)
		hd_log("%d image build(s) cut short by a restart marked FAILED", n);
	/* Images whose delete waited for a build the restart ended (end_build
	 * purged those it saw); any other DELETING one goes now. */
	for (int i = 0; i < 100000; i++) {
		char name[129] = "";
		if (store_image_list(hd->store, 0, NULL, 100000, deleting_cb, name, &more) < 0 ||
		    !name[0] || ops_image_purge(hd, name) < 0)
			break;
		hd_log("image %s deleted", name);
	}
	/* Work directories of builds with no row (the row's transaction lost). */
	char path[PATH_MAX];
	fsutil_pathf(path, sizeof path, "%s/builds", hd->cfg.state_dir);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char sub[PATH_MAX];
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		fsutil_pathf(sub, sizeof sub, "%s/%s", path, de->d_name);
		fsutil_rm_rf(sub);
	}
	if (d)
		closedir(d);
	remove_tmp_versions(hd);
}
