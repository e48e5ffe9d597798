/*
 * store.c - SQLite persistence: schema creation/migration, microVM rows, tags.
 */
#include "session/store.h"
#include "session/store_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	Q_INSERT,
	Q_UPDATE,
	Q_GET,
	Q_BY_TOKEN,
	Q_PAYLOAD,
	Q_LIST,
	Q_LIVE,
	Q_TAG_SET,
	Q_TAG_DEL,
	Q_TAG_LIST,
	Q_COUNT
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
};

sqlite3 *store_sqlite(struct store *s)
{
	return s->db;
}

#define VM_COLS                                                                             \
	"id, seq, state, reason, image, image_managed, image_version, exec_role, has_idle, "  \
	"max_idle, suspended_for, auto_resume, max_duration, started_at, terminated_at, "     \
	"last_activity, suspended_at, generation, keeper_pid, ingress, egress, client_token, " \
	"fingerprint, keeper_start, engine_pid"

static const char *const queries[Q_COUNT] = {
	[Q_INSERT] = "INSERT INTO microvms (" VM_COLS ", payload) VALUES (?1, NULL, ?3, ?4, ?5, ?6, "
		     "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
		     "NULLIF(?22, ''), ?23, ?25, ?26, ?24)",
	[Q_UPDATE] = "UPDATE microvms SET state=?3, reason=?4, image=?5, image_managed=?6, "
		     "image_version=?7, exec_role=?8, has_idle=?9, max_idle=?10, suspended_for=?11, "
		     "auto_resume=?12, max_duration=?13, started_at=?14, terminated_at=?15, "
		     "last_activity=?16, suspended_at=?17, generation=?18, keeper_pid=?19, "
		     "ingress=?20, egress=?21, keeper_start=?25, engine_pid=?26 WHERE id=?1",
	[Q_GET] = "SELECT " VM_COLS " FROM microvms WHERE id=?1",
	[Q_BY_TOKEN] = "SELECT " VM_COLS " FROM microvms WHERE client_token=?1",
	[Q_PAYLOAD] = "SELECT payload FROM microvms WHERE id=?1",
	[Q_LIST] = "SELECT " VM_COLS " FROM microvms WHERE seq > ?1 AND (?2 IS NULL OR image=?2) "
		   "AND (?3 IS NULL OR image_version=?3) ORDER BY seq LIMIT ?4",
	[Q_LIVE] = "SELECT " VM_COLS " FROM microvms WHERE state != 'TERMINATED' ORDER BY seq",
	[Q_TAG_SET] = "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3) "
		      "ON CONFLICT (arn, key) DO UPDATE SET value=excluded.value",
	[Q_TAG_DEL] = "DELETE FROM tags WHERE arn=?1 AND key=?2",
	[Q_TAG_LIST] = "SELECT key, value FROM tags WHERE arn=?1 ORDER BY key",
};

/* Each entry migrates the schema from version i to i+1. */
static const char *const migrations[] = {
	"CREATE TABLE microvms ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" image TEXT NOT NULL, image_managed INTEGER NOT NULL, image_version TEXT NOT NULL,"
	" exec_role TEXT NOT NULL DEFAULT '', has_idle INTEGER NOT NULL, max_idle INTEGER,"
	" suspended_for INTEGER, auto_resume INTEGER, max_duration INTEGER NOT NULL,"
	" started_at INTEGER NOT NULL, terminated_at INTEGER NOT NULL DEFAULT 0,"
	" last_activity INTEGER NOT NULL, suspended_at INTEGER NOT NULL DEFAULT 0,"
	" generation INTEGER NOT NULL, engine_pid INTEGER NOT NULL DEFAULT 0,"
	" ingress TEXT NOT NULL, egress TEXT NOT NULL, client_token TEXT UNIQUE,"
	" fingerprint TEXT NOT NULL DEFAULT '', payload BLOB);"
	"CREATE INDEX microvms_image ON microvms (image, image_version, seq);"
	"CREATE TABLE tags (arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (arn, key));",
	/* 2: the keeper is identified by PID and start time; engine_pid held the
	 * keeper's PID and now holds the engine's (QEMU's, for memoryBytes). */
	"ALTER TABLE microvms RENAME COLUMN engine_pid TO keeper_pid;"
	"ALTER TABLE microvms ADD COLUMN keeper_start INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE microvms ADD COLUMN engine_pid INTEGER NOT NULL DEFAULT 0;",
	/* 3: built images (CreateMicrovmImage), their versions, builds and the
	 * clientTokens of the calls that made them (store_image.c). */
	"CREATE TABLE images ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
	" next_major INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE TABLE image_versions ("
	" image TEXT NOT NULL REFERENCES images (name) ON DELETE CASCADE,"
	" version TEXT NOT NULL, major INTEGER NOT NULL, state TEXT NOT NULL,"
	" active INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" message TEXT NOT NULL DEFAULT '', build_id TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, request TEXT NOT NULL,"
	" PRIMARY KEY (image, version));"
	"CREATE TABLE image_builds ("
	" build_id TEXT PRIMARY KEY, image TEXT NOT NULL, version TEXT NOT NULL,"
	" architecture TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" message TEXT NOT NULL DEFAULT '', mem_bytes INTEGER NOT NULL DEFAULT -1,"
	" disk_bytes INTEGER NOT NULL DEFAULT -1, code_bytes INTEGER NOT NULL DEFAULT -1,"
	" created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0,"
	" ended_at INTEGER NOT NULL DEFAULT 0,"
	" FOREIGN KEY (image, version) REFERENCES image_versions (image, version)"
	" ON DELETE CASCADE);"
	"CREATE INDEX image_builds_version ON image_builds (image, version);"
	"CREATE TABLE image_tokens ("
	" token TEXT PRIMARY KEY, image TEXT NOT NULL REFERENCES images (name) ON DELETE CASCADE,"
	" version TEXT NOT NULL, fingerprint TEXT NOT NULL);",
};

static void seterr(char *err, size_t n, const char *what, sqlite3 *db)
{
	snprintf(err, n, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		seterr(err, errlen, "schema", db);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		seterr(err, errlen, "schema", db);
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	int latest = (int)(sizeof migrations / sizeof migrations[0]);
	if (version > latest) {
		snprintf(err, errlen, "state database schema %d is newer than this hearthd (%d)",
			 version, latest);
		return -1;
	}
	for (int v = version; v < latest; v++) {
		char sql[64];
		snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d)", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			seterr(err, errlen, "schema migration", db);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		seterr(err, errlen, "store", NULL);
		return -1;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		seterr(err, errlen, path, s->db);
		store_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			 "PRAGMA foreign_keys=ON;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		seterr(err, errlen, "pragma", s->db);
		store_close(s);
		return -1;
	}
	if (migrate(s->db, err, errlen) < 0) {
		store_close(s);
		return -1;
	}
	for (int i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
				       NULL) != SQLITE_OK) {
			seterr(err, errlen, "prepare", s->db);
			store_close(s);
			return -1;
		}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	free(s);
}

const char *store_errmsg(struct store *s)
{
	return sqlite3_errmsg(s->db);
}

static sqlite3_stmt *q(struct store *s, int i)
{
	sqlite3_reset(s->q[i]);
	sqlite3_clear_bindings(s->q[i]);
	return s->q[i];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_vm(sqlite3_stmt *st, const struct store_vm *v)
{
	bind_text(st, 1, v->id);
	bind_text(st, 3, v->state);
	bind_text(st, 4, v->reason);
	bind_text(st, 5, v->image);
	sqlite3_bind_int(st, 6, v->image_managed);
	bind_text(st, 7, v->image_version);
	bind_text(st, 8, v->exec_role);
	sqlite3_bind_int(st, 9, v->has_idle);
	sqlite3_bind_int64(st, 10, v->max_idle);
	sqlite3_bind_int64(st, 11, v->suspended_for);
	sqlite3_bind_int(st, 12, v->auto_resume);
	sqlite3_bind_int64(st, 13, v->max_duration);
	sqlite3_bind_int64(st, 14, v->started_at);
	sqlite3_bind_int64(st, 15, v->terminated_at);
	sqlite3_bind_int64(st, 16, v->last_activity);
	sqlite3_bind_int64(st, 17, v->suspended_at);
	sqlite3_bind_int64(st, 18, v->generation);
	sqlite3_bind_int64(st, 19, v->keeper_pid);
	sqlite3_bind_int64(st, 25, (sqlite3_int64)v->keeper_start);
	sqlite3_bind_int64(st, 26, v->engine_pid);
	bind_text(st, 20, v->ingress);
	bind_text(st, 21, v->egress);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static void read_vm(sqlite3_stmt *st, struct store_vm *v)
{
	memset(v, 0, sizeof *v);
	col_text(st, 0, v->id, sizeof v->id);
	v->seq = sqlite3_column_int64(st, 1);
	col_text(st, 2, v->state, sizeof v->state);
	col_text(st, 3, v->reason, sizeof v->reason);
	col_text(st, 4, v->image, sizeof v->image);
	v->image_managed = sqlite3_column_int(st, 5);
	col_text(st, 6, v->image_version, sizeof v->image_version);
	col_text(st, 7, v->exec_role, sizeof v->exec_role);
	v->has_idle = sqlite3_column_int(st, 8);
	v->max_idle = sqlite3_column_int64(st, 9);
	v->suspended_for = sqlite3_column_int64(st, 10);
	v->auto_resume = sqlite3_column_int(st, 11);
	v->max_duration = sqlite3_column_int64(st, 12);
	v->started_at = sqlite3_column_int64(st, 13);
	v->terminated_at = sqlite3_column_int64(st, 14);
	v->last_activity = sqlite3_column_int64(st, 15);
	v->suspended_at = sqlite3_column_int64(st, 16);
	v->generation = sqlite3_column_int64(st, 17);
	v->keeper_pid = sqlite3_column_int64(st, 18);
	col_text(st, 19, v->ingress, sizeof v->ingress);
	col_text(st, 20, v->egress, sizeof v->egress);
	col_text(st, 21, v->client_token, sizeof v->client_token);
	col_text(st, 22, v->fingerprint, sizeof v->fingerprint);
	v->keeper_start = (uint64_t)sqlite3_column_int64(st, 23);
	v->engine_pid = sqlite3_column_int64(st, 24);
}

int store_vm_insert(struct store *s, struct store_vm *v, const void *payload, size_t plen)
{
	sqlite3_stmt *st = q(s, Q_INSERT);
	bind_vm(st, v);
	bind_text(st, 22, v->client_token);
	bind_text(st, 23, v->fingerprint);
	if (payload)
		sqlite3_bind_blob(st, 24, payload, (int)plen, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 24);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	v->seq = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_vm_update(struct store *s, const struct store_vm *v)
{
	sqlite3_stmt *st = q(s, Q_UPDATE);
	bind_vm(st, v);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int get_one(struct store *s, int qi, const char *key, struct store_vm *out)
{
	sqlite3_stmt *st = q(s, qi);
	bind_text(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_vm(st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_vm_get(struct store *s, const char *id, struct store_vm *out)
{
	return get_one(s, Q_GET, id, out);
}

int store_vm_by_client_token(struct store *s, const char *tok, struct store_vm *out)
{
	return get_one(s, Q_BY_TOKEN, tok, out);
}

int store_vm_payload(struct store *s, const char *id, char *out, size_t cap, size_t *len)
{
	sqlite3_stmt *st = q(s, Q_PAYLOAD);
	bind_text(st, 1, id);
	int rc = sqlite3_step(st), found = 0;
	*len = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		const void *p = sqlite3_column_blob(st, 0);
		if (n <= cap) {
			if (n)
				memcpy(out, p, n);
			*len = n;
			found = 1;
		} else {
			rc = SQLITE_ERROR;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? found : rc == SQLITE_DONE ? 0 : -1;
}

static int each(struct store *s, sqlite3_stmt *st, int limit,
		int (*cb)(const struct store_vm *v, void *ctx), void *ctx, int *more)
{
	struct store_vm *v = malloc(sizeof *v);
	int n = 0, rc;
	if (!v) {
		sqlite3_reset(st);
		return -1;
	}
	if (more)
		*more = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit >= 0 && n == limit) {
			if (more)
				*more = 1;
			break;
		}
		read_vm(st, v);
		n++;
		if (cb(v, ctx) < 0)
			break;
	}
	free(v);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int store_vm_list(struct store *s, int64_t after, const char *image, const char *version,
		  int limit, int (*cb)(const struct store_vm *v, void *ctx), void *ctx,
		  int *more)
{
	sqlite3_stmt *st = q(s, Q_LIST);
	sqlite3_bind_int64(st, 1, after);
	bind_text(st, 2, image);
	bind_text(st, 3, version);
	/* One extra row tells whether another page exists. */
	sqlite3_bind_int(st, 4, limit + 1);
	return each(s, st, limit, cb, ctx, more);
}

int store_vm_live(struct store *s, int (*cb)(const struct store_vm *v, void *ctx), void *ctx)
{
	return each(s, q(s, Q_LIVE), -1, cb, ctx, NULL);
}

int store_tag_set(struct store *s, const char *arn, const char *key, const char *value)
{
	sqlite3_stmt *st = q(s, Q_TAG_SET);
	bind_text(st, 1, arn);
	bind_text(st, 2, key);
	bind_text(st, 3, value);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_tag_del(struct store *s, const char *arn, const char *key)
{
	sqlite3_stmt *st = q(s, Q_TAG_DEL);
	bind_text(st, 1, arn);
	bind_text(st, 2, key);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_tag_list(struct store *s, const char *arn,
		   int (*cb)(const char *k, const char *v, void *ctx), void *ctx)
{
	sqlite3_stmt *st = q(s, Q_TAG_LIST);
	bind_text(st, 1, arn);
	int rc, n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (cb((const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1), ctx) < 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int store_begin(struct store *s)
{
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_commit(struct store *s)
{
	return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_rollback(struct store *s)
{
	return sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
