/*
 * store.h - hearthd's persistent state in SQLite (WAL, versioned schema).
 * Used from the event-loop thread only.
 */
#ifndef HEARTH_STORE_H
#define HEARTH_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 3
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
/* ---- built images (store_image.c) ---- */
#define STORE_REQUEST 32768 /* a version's request fields, JSON (api_imgreq.h echo) */

struct store_image {
	int64_t seq; /* creation order, the paging key */
	char name[129];
	char state[16];      /* CREATING CREATED CREATE_FAILED UPDATING UPDATED ... DELETING */
	char description[257];
	int64_t next_major;  /* the major of the next version (versions are never reused) */
	int64_t created_at, updated_at;
};

struct store_version {
	char image[129];
	char version[65];  /* "1.0", "2.0", ... */
	int64_t major;
	char state[16];    /* PENDING SUCCESSFUL FAILED (IN_PROGRESS is the builder's word) */
	int active;        /* status ACTIVE (1) or INACTIVE */
	char reason[48];   /* stateReason code, "" */
	char message[STORE_REASON];
	char build_id[65];
	int64_t created_at, updated_at;
	char request[STORE_REQUEST];
};

struct store_build {
	char build_id[65];
	char image[129];
	char version[65];
	char architecture[16];
	char state[16]; /* PENDING SUCCESSFUL FAILED */
	char reason[48];
	char message[STORE_REASON];
	int64_t mem_bytes, disk_bytes, code_bytes; /* -1: unknown */
	int64_t created_at, started_at, ended_at;
};

int store_image_insert(struct store *s, struct store_image *im);
int store_image_update(struct store *s, const struct store_image *im);
/* 1 found, 0 not, -1 error. */
int store_image_get(struct store *s, const char *name, struct store_image *out);
/* Remove the image with its versions, builds and client tokens. */
int store_image_delete(struct store *s, const char *name);
/* Images with seq > after whose name starts with prefix (NULL: any), as store_vm_list. */
int store_image_list(struct store *s, int64_t after, const char *prefix, int limit,
		     int (*cb)(const struct store_image *im, void *ctx), void *ctx, int *more);

int store_version_insert(struct store *s, const struct store_version *v);
int store_version_update(struct store *s, const struct store_version *v);
int store_version_get(struct store *s, const char *image, const char *version,
		      struct store_version *out);
int store_version_delete(struct store *s, const char *image, const char *version);
/* Versions with major > after, ascending. */
int store_version_list(struct store *s, const char *image, int64_t after, int limit,
		       int (*cb)(const struct store_version *v, void *ctx), void *ctx,
		       int *more);
/* The newest version in state (and ACTIVE when active_only). 1, 0, -1. */
int store_version_latest(struct store *s, const char *image, const char *state,
			 int active_only, struct store_version *out);

int store_build_insert(struct store *s, const struct store_build *b);
int store_build_update(struct store *s, const struct store_build *b);
int store_build_get(struct store *s, const char *build_id, struct store_build *out);
int store_build_list(struct store *s, const char *image, const char *version,
		     int (*cb)(const struct store_build *b, void *ctx), void *ctx);
/* Builds that have not ended (PENDING): restart recovery and DeleteMicrovmImage. */
int store_build_unfinished(struct store *s, const char *image,
			   int (*cb)(const struct store_build *b, void *ctx), void *ctx);

/* clientToken of Create/UpdateMicrovmImage -> the version it made. 1, 0, -1. */
int store_imgtoken_get(struct store *s, const char *token, char *image, size_t in,
		       char *version, size_t vn, char *fingerprint, size_t fn);
int store_imgtoken_put(struct store *s, const char *token, const char *image,
		       const char *version, const char *fingerprint);
/* VMs not TERMINATED that run a built image (version NULL: any version). -1 on error. */
int store_image_vms(struct store *s, const char *image, const char *version);

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

#endif
