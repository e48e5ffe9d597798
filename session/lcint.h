/*
 * lcint.h - what the lifecycle's files share (lifecycle.c, vmjobs.c,
 * recover.c); not for the rest of hearthd, which uses lifecycle.h.
 *
 * The event loop owns struct lifecycle and every struct lc_vm; a job
 * (struct lc_job) is the only thing a worker touches, and it comes back
 * through the workers' completion queue with its result as an event.
 */
#ifndef HEARTH_LCINT_H
#define HEARTH_LCINT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/api_image.h"
#include "session/catalog.h"
#include "session/hearthd.h"
#include "session/keeper.h"
#include "session/store.h"
#include "session/vmstate.h"
#include "session/workers.h"

#define LC_DEFAULT_MEM_MIB 128 /* the engine's default when an image names none */

struct snapcache;
struct vm_engine;

struct lc_vm {
	struct store_vm row;   /* authoritative copy; row.state mirrors st */
	enum vm_state st;
	struct keeper_id keeper; /* the VM's keeper (pid 0 when none) */
	pid_t engine;          /* its engine process (QEMU) */
	int busy;              /* a job is in flight */
	int gone;              /* TERMINATED: dropped once its row is stored */
	int dirty;             /* the last state write failed: retried from the tick */
	int64_t retry_at_ms, retry_wait_ms;
	unsigned susp_seq;     /* newest complete susp-N (0: none) */
	unsigned mem_mib;      /* the image's memory, for the capacity budget */
	struct api_hooks hooks;
	int64_t persisted_activity;
	struct lc_vm *next;
};

enum lc_op { OP_RUN, OP_SUSPEND, OP_RESUME, OP_TERMINATE };

struct lc_job {
	struct work_item item; /* first: the workers' queue link */
	enum lc_op op;
	struct lc_vm *rv;      /* event loop only */
	char id[STORE_ID];
	struct keeper_id keeper;
	pid_t engine;
	struct catalog_entry img;
	struct api_hooks hooks;
	char *payload;
	size_t plen;
	char why[256];
	char vmdir[PATH_MAX];
	char egress[STORE_CONNECTORS]; /* the VM's egress connectors (JSON) */
	unsigned susp_seq;
	enum vm_event result;  /* set by the worker */
	int64_t t_start, t_keeper; /* ms: job start, keeper reported the VM ready */
	char reason[STORE_REASON];
};

struct lifecycle {
	struct hearthd *hd;
	const struct vm_engine *eng;
	struct workers *workers;
	struct snapcache *snaps;
	struct lc_vm *vms;
	char vms_dir[PATH_MAX], snaps_dir[PATH_MAX];
	int stopping; /* no new jobs: the workers are being joined */
};

/* lc_fire results besides 0 */
enum { LC_REFUSED = -1, LC_BUSY = -2, LC_NOMEM = -3, LC_QUOTA = -4 };

/* lifecycle.c */
struct lc_vm *lc_new_vm(struct lifecycle *lc, const struct store_vm *v);
void lc_vm_dir(struct lifecycle *lc, const char *id, char *out, size_t n);
/*
 * The one way a VM changes state: look up (rv->st, ev) in the transition
 * table, set the state and reason (NULL: cleared, or kept when the state
 * stays), run the action, store the row. why is the action's detail (a
 * suspend's reason-to-be); job is the finished job for worker results.
 */
int lc_fire(struct lifecycle *lc, struct lc_vm *rv, enum vm_event ev, const char *reason,
	    const char *why, struct lc_job *job);

/* vmjobs.c (worker threads) */
void vmjobs_run(void *ctx, struct work_item *it);
/* Newest susp-N of vmdir holding a complete snapshot (manifest and memory), 0: none. */
unsigned vmjobs_latest_suspend(const char *vmdir);

/* recover.c */
void recover_all(struct lifecycle *lc);

#endif
