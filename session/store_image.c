/*
 * store_image.c - built images in SQLite: images, their versions, their
 * builds and the clientTokens of the calls that made them (schema v3).
 * Statements are prepared per call: these are rare API calls, not a hot path.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/store.h"
#include "session/store_int.h"

static sqlite3_stmt *prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

static void text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* Step a statement that returns no rows, then finalize it. */
static int done(sqlite3_stmt *st)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- images ---- */

#define IMG_COLS "seq, name, state, description, next_major, created_at, updated_at"

static void read_image(sqlite3_stmt *st, struct store_image *im)
{
	memset(im, 0, sizeof *im);
	im->seq = sqlite3_column_int64(st, 0);
	col(st, 1, im->name, sizeof im->name);
	col(st, 2, im->state, sizeof im->state);
	col(st, 3, im->description, sizeof im->description);
	im->next_major = sqlite3_column_int64(st, 4);
	im->created_at = sqlite3_column_int64(st, 5);
	im->updated_at = sqlite3_column_int64(st, 6);
}

int store_image_insert(struct store *s, struct store_image *im)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO images (name, state, description, next_major, "
				   "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	if (!st)
		return -1;
	text(st, 1, im->name);
	text(st, 2, im->state);
	text(st, 3, im->description);
	sqlite3_bind_int64(st, 4, im->next_major);
	sqlite3_bind_int64(st, 5, im->created_at);
	sqlite3_bind_int64(st, 6, im->updated_at);
	if (done(st) < 0)
		return -1;
	im->seq = sqlite3_last_insert_rowid(store_sqlite(s));
	return 0;
}

int store_image_update(struct store *s, const struct store_image *im)
{
	sqlite3_stmt *st = prep(s, "UPDATE images SET state=?2, description=?3, next_major=?4, "
				   "updated_at=?5 WHERE name=?1");
	if (!st)
		return -1;
	text(st, 1, im->name);
	text(st, 2, im->state);
	text(st, 3, im->description);
	sqlite3_bind_int64(st, 4, im->next_major);
	sqlite3_bind_int64(st, 5, im->updated_at);
	return done(st);
}

int store_image_get(struct store *s, const char *name, struct store_image *out)
{
	sqlite3_stmt *st = prep(s, "SELECT " IMG_COLS " FROM images WHERE name=?1");
	if (!st)
		return -1;
	text(st, 1, name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_image(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_image_delete(struct store *s, const char *name)
{
	/* Builds reference versions, versions and tokens the image: cascades. */
	sqlite3_stmt *st = prep(s, "DELETE FROM images WHERE name=?1");
	if (!st)
		return -1;
	text(st, 1, name);
	return done(st);
}

int store_image_list(struct store *s, int64_t after, const char *prefix, int limit,
		     int (*cb)(const struct store_image *im, void *ctx), void *ctx, int *more)
{
	sqlite3_stmt *st = prep(s, "SELECT " IMG_COLS " FROM images WHERE seq > ?1 AND "
				   "(?2 IS NULL OR substr(name, 1, length(?2)) = ?2) "
				   "ORDER BY seq LIMIT ?3");
	struct store_image im;
	int n = 0, rc;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	text(st, 2, prefix);
	sqlite3_bind_int(st, 3, limit + 1);
	*more = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*more = 1;
			break;
		}
		read_image(st, &im);
		n++;
		if (cb(&im, ctx) < 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

/* ---- versions ---- */

#define VER_COLS                                                                             \
	"image, version, major, state, active, reason, message, build_id, created_at, "       \
	"updated_at, request"

static void read_version(sqlite3_stmt *st, struct store_version *v)
{
	memset(v, 0, offsetof(struct store_version, request));
	col(st, 0, v->image, sizeof v->image);
	col(st, 1, v->version, sizeof v->version);
	v->major = sqlite3_column_int64(st, 2);
	col(st, 3, v->state, sizeof v->state);
	v->active = sqlite3_column_int(st, 4);
	col(st, 5, v->reason, sizeof v->reason);
	col(st, 6, v->message, sizeof v->message);
	col(st, 7, v->build_id, sizeof v->build_id);
	v->created_at = sqlite3_column_int64(st, 8);
	v->updated_at = sqlite3_column_int64(st, 9);
	col(st, 10, v->request, sizeof v->request);
}

static void bind_version(sqlite3_stmt *st, const struct store_version *v)
{
	text(st, 1, v->image);
	text(st, 2, v->version);
	sqlite3_bind_int64(st, 3, v->major);
	text(st, 4, v->state);
	sqlite3_bind_int(st, 5, v->active);
	text(st, 6, v->reason);
	text(st, 7, v->message);
	text(st, 8, v->build_id);
	sqlite3_bind_int64(st, 9, v->created_at);
	sqlite3_bind_int64(st, 10, v->updated_at);
	text(st, 11, v->request);
}

int store_version_insert(struct store *s, const struct store_version *v)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO image_versions (" VER_COLS ") VALUES (?1, ?2, ?3, "
				   "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	if (!st)
		return -1;
	bind_version(st, v);
	return done(st);
}

int store_version_update(struct store *s, const struct store_version *v)
{
	sqlite3_stmt *st = prep(s, "UPDATE image_versions SET major=?3, state=?4, active=?5, "
				   "reason=?6, message=?7, build_id=?8, created_at=?9, "
				   "updated_at=?10, request=?11 WHERE image=?1 AND version=?2");
	if (!st)
		return -1;
	bind_version(st, v);
	return done(st);
}

static int version_one(struct store *s, const char *sql, const char *image, const char *a,
		       int b, struct store_version *out)
{
	sqlite3_stmt *st = prep(s, sql);
	if (!st)
		return -1;
	text(st, 1, image);
	text(st, 2, a);
	sqlite3_bind_int(st, 3, b);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_version(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_version_get(struct store *s, const char *image, const char *version,
		      struct store_version *out)
{
	return version_one(s, "SELECT " VER_COLS " FROM image_versions WHERE image=?1 AND "
			      "version=?2 AND ?3 = ?3",
			   image, version, 0, out);
}

int store_version_latest(struct store *s, const char *image, const char *state,
			 int active_only, struct store_version *out)
{
	return version_one(s, "SELECT " VER_COLS " FROM image_versions WHERE image=?1 AND "
			      "state=?2 AND (?3 = 0 OR active = 1) ORDER BY major DESC LIMIT 1",
			   image, state, active_only, out);
}

int store_version_delete(struct store *s, const char *image, const char *version)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM image_versions WHERE image=?1 AND version=?2");
	if (!st)
		return -1;
	text(st, 1, image);
	text(st, 2, version);
	if (done(st) < 0)
		return -1;
	st = prep(s, "DELETE FROM image_tokens WHERE image=?1 AND version=?2");
	if (!st)
		return -1;
	text(st, 1, image);
	text(st, 2, version);
	return done(st);
}

int store_version_list(struct store *s, const char *image, int64_t after, int limit,
		       int (*cb)(const struct store_version *v, void *ctx), void *ctx,
		       int *more)
{
	sqlite3_stmt *st = prep(s, "SELECT " VER_COLS " FROM image_versions WHERE image=?1 AND "
				   "major > ?2 ORDER BY major LIMIT ?3");
	struct store_version *v = malloc(sizeof *v);
	int n = 0, rc = SQLITE_ERROR;
	*more = 0;
	if (!st || !v) {
		sqlite3_finalize(st);
		free(v);
		return -1;
	}
	text(st, 1, image);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int(st, 3, limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*more = 1;
			break;
		}
		read_version(st, v);
		n++;
		if (cb(v, ctx) < 0)
			break;
	}
	sqlite3_finalize(st);
	free(v);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

/* ---- builds ---- */

#define BUILD_COLS                                                                           \
	"build_id, image, version, architecture, state, reason, message, mem_bytes, "        \
	"disk_bytes, code_bytes, created_at, started_at, ended_at"

static void read_build(sqlite3_stmt *st, struct store_build *b)
{
	memset(b, 0, sizeof *b);
	col(st, 0, b->build_id, sizeof b->build_id);
	col(st, 1, b->image, sizeof b->image);
	col(st, 2, b->version, sizeof b->version);
	col(st, 3, b->architecture, sizeof b->architecture);
	col(st, 4, b->state, sizeof b->state);
	col(st, 5, b->reason, sizeof b->reason);
	col(st, 6, b->message, sizeof b->message);
	b->mem_bytes = sqlite3_column_int64(st, 7);
	b->disk_bytes = sqlite3_column_int64(st, 8);
	b->code_bytes = sqlite3_column_int64(st, 9);
	b->created_at = sqlite3_column_int64(st, 10);
	b->started_at = sqlite3_column_int64(st, 11);
	b->ended_at = sqlite3_column_int64(st, 12);
}

static void bind_build(sqlite3_stmt *st, const struct store_build *b)
{
	text(st, 1, b->build_id);
	text(st, 2, b->image);
	text(st, 3, b->version);
	text(st, 4, b->architecture);
	text(st, 5, b->state);
	text(st, 6, b->reason);
	text(st, 7, b->message);
	sqlite3_bind_int64(st, 8, b->mem_bytes);
	sqlite3_bind_int64(st, 9, b->disk_bytes);
	sqlite3_bind_int64(st, 10, b->code_bytes);
	sqlite3_bind_int64(st, 11, b->created_at);
	sqlite3_bind_int64(st, 12, b->started_at);
	sqlite3_bind_int64(st, 13, b->ended_at);
}

int store_build_insert(struct store *s, const struct store_build *b)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO image_builds (" BUILD_COLS ") VALUES (?1, ?2, ?3, "
				   "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
	if (!st)
		return -1;
	bind_build(st, b);
	return done(st);
}

int store_build_update(struct store *s, const struct store_build *b)
{
	sqlite3_stmt *st = prep(s, "UPDATE image_builds SET image=?2, version=?3, "
				   "architecture=?4, state=?5, reason=?6, message=?7, "
				   "mem_bytes=?8, disk_bytes=?9, code_bytes=?10, created_at=?11, "
				   "started_at=?12, ended_at=?13 WHERE build_id=?1");
	if (!st)
		return -1;
	bind_build(st, b);
	return done(st);
}

int store_build_get(struct store *s, const char *build_id, struct store_build *out)
{
	sqlite3_stmt *st = prep(s, "SELECT " BUILD_COLS " FROM image_builds WHERE build_id=?1");
	if (!st)
		return -1;
	text(st, 1, build_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_build(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int builds_each(sqlite3_stmt *st, int (*cb)(const struct store_build *b, void *ctx),
		       void *ctx)
{
	struct store_build b;
	int n = 0, rc;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_build(st, &b);
		n++;
		if (cb(&b, ctx) < 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int store_build_list(struct store *s, const char *image, const char *version,
		     int (*cb)(const struct store_build *b, void *ctx), void *ctx)
{
	sqlite3_stmt *st = prep(s, "SELECT " BUILD_COLS " FROM image_builds WHERE image=?1 AND "
				   "version=?2 ORDER BY created_at, build_id");
	if (st) {
		text(st, 1, image);
		text(st, 2, version);
	}
	return builds_each(st, cb, ctx);
}

int store_build_unfinished(struct store *s, const char *image,
			   int (*cb)(const struct store_build *b, void *ctx), void *ctx)
{
	sqlite3_stmt *st = prep(s, "SELECT " BUILD_COLS " FROM image_builds WHERE ended_at = 0 "
				   "AND (?1 IS NULL OR image=?1) ORDER BY created_at");
	if (st)
		text(st, 1, image);
	return builds_each(st, cb, ctx);
}

/* ---- client tokens, VMs ---- */

int store_imgtoken_get(struct store *s, const char *token, char *image, size_t in,
		       char *version, size_t vn, char *fingerprint, size_t fn)
{
	sqlite3_stmt *st = prep(s, "SELECT image, version, fingerprint FROM image_tokens "
				   "WHERE token=?1");
	if (!st)
		return -1;
	text(st, 1, token);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col(st, 0, image, in);
		col(st, 1, version, vn);
		col(st, 2, fingerprint, fn);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_imgtoken_put(struct store *s, const char *token, const char *image,
		       const char *version, const char *fingerprint)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO image_tokens (token, image, version, fingerprint) "
				   "VALUES (?1, ?2, ?3, ?4)");
	if (!st)
		return -1;
	text(st, 1, token);
	text(st, 2, image);
	text(st, 3, version);
	text(st, 4, fingerprint);
	return done(st);
}

int store_image_vms(struct store *s, const char *image, const char *version)
{
	sqlite3_stmt *st = prep(s, "SELECT count(*) FROM microvms WHERE image=?1 AND "
				   "image_managed=0 AND (?2 IS NULL OR image_version=?2) AND "
				   "state != 'TERMINATED'");
	if (!st)
		return -1;
	text(st, 1, image);
	text(st, 2, version);
	int n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}
