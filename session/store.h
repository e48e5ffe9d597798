/*
 * store.h - hearthd's persistent state in SQLite (WAL, versioned schema).
 * Used from the event-loop thread only.
 */
#ifndef HEARTH_STORE_H
#define HEARTH_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2
#define STORE_ID 65
#define STORE_REASON 512
#define STORE_CONNECTORS 4096

struct store;

/* One microVM row. Times are epoch seconds (0 = unset). */
struct store_vm {
	char id[STORE_ID];
	int64_t seq; /* creation order, the paging key */
	char state[16];
	char reason[STORE_REASON];
	char image[129]; /* image name */
	int image_managed;
	char image_version[65];
	char exec_role[2049];
	int has_idle;
	int64_t max_idle, suspended_for;
	int auto_resume;
	int64_t max_duration;
	int64_t started_at, terminated_at;
	int64_t last_activity; /* last endpoint traffic (or run/resume) */
	int64_t suspended_at;
	int64_t generation;    /* bumped on every run; tokens carry it */
	int64_t keeper_pid;    /* the VM's keeper (hearthd --keeper), 0 when none */
	uint64_t keeper_start; /* its start time (/proc/PID/stat field 22): its identity */
	int64_t engine_pid;    /* the VM's engine process (QEMU), for memoryBytes */
	char ingress[STORE_CONNECTORS]; /* JSON array text */
	char egress[STORE_CONNECTORS];
	char client_token[65];
	char fingerprint[17]; /* hex of api_run_fingerprint */
};

int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_errmsg(struct store *s);

/* Insert a new VM with its /run hook payload (may be NULL). 0 or -1. */
int store_vm_insert(struct store *s, struct store_vm *v, const void *payload, size_t plen);
/* Update every mutable column of an existing row. */
int store_vm_update(struct store *s, const struct store_vm *v);
/* 1 found, 0 not found, -1 error. */
int store_vm_get(struct store *s, const char *id, struct store_vm *out);
int store_vm_by_client_token(struct store *s, const char *tok, struct store_vm *out);
/* Copy the run hook payload; *len set. 1 found (maybe empty), 0 none, -1 error. */
int store_vm_payload(struct store *s, const char *id, char *out, size_t cap, size_t *len);
/*
 * List VMs with seq > after in creation order, optional image and version
 * filters (NULL = any), at most limit rows. Calls cb per row; returns the
 * number of rows or -1. *more is set when further rows exist.
 */
int store_vm_list(struct store *s, int64_t after, const char *image, const char *version,
		  int limit, int (*cb)(const struct store_vm *v, void *ctx), void *ctx,
		  int *more);
/* Every VM not TERMINATED (startup re-adoption). */
int store_vm_live(struct store *s, int (*cb)(const struct store_vm *v, void *ctx), void *ctx);

/* Tags of a resource ARN. */
int store_tag_set(struct store *s, const char *arn, const char *key, const char *value);
int store_tag_del(struct store *s, const char *arn, const char *key);
int store_tag_list(struct store *s, const char *arn,
		   int (*cb)(const char *k, const char *v, void *ctx), void *ctx);
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

#endif
