/*
 * lifecycle.c - the VM registry and the state machine's driver: every state
 * change goes through lc_fire (the table in vmstate.c, the actions here),
 * whether it comes from an API operation, a timer, a worker's result or
 * restart recovery (recover.c). Jobs run on the worker pool (workers.c,
 * vmjobs.c); their results come back through the pool's completion queue,
 * drained on the event loop (lifecycle_drain, watched by loop.c).
 *
 * State writes that fail are retried from the tick with a growing delay
 * until they land; meanwhile the API shows the in-memory state
 * (lifecycle_row), so no VM stays in a transitional state forever.
 */
#include "session/lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/api_run.h"
#include "session/capacity.h"
#include "session/dns.h"
#include "session/catalog.h"
#include "session/fsutil.h"
#include "session/identity.h"
#include "session/lcint.h"
#include "session/loop.h"
#include "session/snapcache.h"
#include "vmm/engine.h"

#define LC_WORKERS 8
#define LC_PERSIST_EVERY 5 /* seconds between writes of last_activity */
#define LC_RETRY_FIRST_MS 250
#define LC_RETRY_MAX_MS 30000

/* ---- registry ---- */

void lc_vm_dir(struct lifecycle *lc, const char *id, char *out, size_t n)
{
	fsutil_pathf(out, n, "%s/%s", lc->vms_dir, id);
}

static struct lc_vm *find_vm(struct lifecycle *lc, const char *id)
{
	for (struct lc_vm *v = lc->vms; v; v = v->next)
		if (!v->gone && strcmp(v->row.id, id) == 0)
			return v;
	return NULL;
}

static void drop_vm(struct lifecycle *lc, struct lc_vm *rv)
{
	for (struct lc_vm **pp = &lc->vms; *pp; pp = &(*pp)->next)
		if (*pp == rv) {
			*pp = rv->next;
			break;
		}
	free(rv);
}

struct lc_vm *lc_new_vm(struct lifecycle *lc, const struct store_vm *v)
{
	struct lc_vm *rv = calloc(1, sizeof *rv);
	if (!rv)
		return NULL;
	rv->row = *v;
	rv->st = vmstate_parse(v->state);
	rv->persisted_activity = v->last_activity;
	rv->keeper = (struct keeper_id){ (pid_t)v->keeper_pid, v->keeper_start };
	rv->engine = (pid_t)v->engine_pid;
	rv->mem_mib = LC_DEFAULT_MEM_MIB;
	struct catalog_entry *ce = malloc(sizeof *ce);
	struct api_err e;
	if (ce && catalog_load_vm(lc->hd, v->image, v->image_managed, v->image_version, ce, &e) ==
			  1) {
		rv->hooks = ce->img.hooks;
		if (ce->img.mem_mib)
			rv->mem_mib = ce->img.mem_mib;
	}
	free(ce);
	rv->next = lc->vms;
	lc->vms = rv;
	return rv;
}

/* ---- persistence ---- */

static void save(struct lifecycle *lc, struct lc_vm *rv)
{
	struct store_vm *r = &rv->row;
	fsutil_pathf(r->state, sizeof r->state, "%s", vmstate_name(rv->st));
	r->keeper_pid = rv->keeper.pid;
	r->keeper_start = rv->keeper.start;
	r->engine_pid = rv->engine;
	if (store_vm_update(lc->hd->store, r) < 0) {
		if (!rv->dirty)
			hd_log("store: cannot save %s (%s), retrying: %s", r->id, r->state,
			       store_errmsg(lc->hd->store));
		rv->dirty = 1;
		rv->retry_wait_ms = rv->retry_wait_ms ? rv->retry_wait_ms * 2 : LC_RETRY_FIRST_MS;
		if (rv->retry_wait_ms > LC_RETRY_MAX_MS)
			rv->retry_wait_ms = LC_RETRY_MAX_MS;
		rv->retry_at_ms = hd_now_ms() + rv->retry_wait_ms;
		return;
	}
	if (rv->dirty)
		hd_log("store: %s saved (%s) after retrying", r->id, r->state);
	rv->dirty = 0;
	rv->retry_wait_ms = 0;
	rv->persisted_activity = r->last_activity;
}

/* ---- actions ---- */

static struct lc_job *new_job(struct lifecycle *lc, struct lc_vm *rv, enum lc_op op)
{
	struct lc_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->op = op;
	j->rv = rv;
	fsutil_pathf(j->id, sizeof j->id, "%s", rv->row.id);
	lc_vm_dir(lc, rv->row.id, j->vmdir, sizeof j->vmdir);
	j->hooks = rv->hooks;
	fsutil_pathf(j->egress, sizeof j->egress, "%s", rv->row.egress);
	j->susp_seq = rv->susp_seq;
	j->keeper = rv->keeper;
	j->engine = rv->engine;
	rv->busy = 1;
	return j;
}

static int submit(struct lifecycle *lc, struct lc_vm *rv, enum lc_op op, const char *why)
{
	if (lc->stopping)
		return LC_BUSY; /* a restarted hearthd recovers from the stored state */
	struct lc_job *j = new_job(lc, rv, op);
	if (!j)
		return LC_NOMEM;
	fsutil_pathf(j->why, sizeof j->why, "%s", why ? why : "");
	workers_submit(lc->workers, &j->item);
	return 0;
}

struct act_ctx {
	struct lifecycle *lc;
	struct lc_vm *rv;
	enum vm_state from;
	const char *why;
	struct lc_job *job;
};

static int act_none(struct act_ctx *a)
{
	(void)a;
	return 0;
}

static int act_start_suspend(struct act_ctx *a)
{
	if (a->rv->busy)
		return LC_BUSY;
	return submit(a->lc, a->rv, OP_SUSPEND, a->why);
}

/* The VMs holding memory now (a suspended one holds none until it resumes). */
static void usage_now(struct lifecycle *lc, int *nvms, uint64_t *bytes)
{
	*nvms = 0;
	*bytes = 0;
	for (struct lc_vm *v = lc->vms; v; v = v->next) {
		if (v->gone || (v->st == VS_SUSPENDED && !v->busy))
			continue;
		(*nvms)++;
		*bytes += (uint64_t)v->mem_mib << 20;
	}
}

static int admit(struct lifecycle *lc, unsigned mem_mib, char *why, size_t n)
{
	int nvms;
	uint64_t bytes;
	usage_now(lc, &nvms, &bytes);
	return capacity_admit(&lc->hd->cfg.capacity, nvms, bytes, (uint64_t)mem_mib << 20, why,
			      n);
}

static int act_start_resume(struct act_ctx *a)
{
	char why[256];
	if (a->rv->busy)
		return 0; /* a resume is already under way */
	if (admit(a->lc, a->rv->mem_mib, why, sizeof why) < 0) {
		hd_log("%s: resume refused: %s", a->rv->row.id, why);
		return LC_QUOTA;
	}
	return submit(a->lc, a->rv, OP_RESUME, NULL);
}

static int act_start_terminate(struct act_ctx *a)
{
	/* A job in flight finishes first; its result event then lands here again. */
	if (a->rv->busy)
		return 0;
	return submit(a->lc, a->rv, OP_TERMINATE, a->rv->row.reason);
}

static int act_running(struct act_ctx *a)
{
	struct lc_vm *rv = a->rv;
	struct lc_job *j = a->job;
	rv->row.last_activity = hd_now();
	hd_log("%s: %s in %lld ms (keeper %d, engine %d: restore and agent refresh %lld ms)",
	       rv->row.id, j->op == OP_RUN ? "running" : "resumed",
	       (long long)(hd_now_ms() - j->t_start), (int)rv->keeper.pid, (int)rv->engine,
	       (long long)(j->t_keeper - j->t_start));
	if (j->op == OP_RESUME) {
		char mem[PATH_MAX], st[PATH_MAX];
		/* A format 1 memory image (a migration stream, read whole) is
		 * spent; the disk chain stays. A format 2 one (it has state.bin)
		 * is the running VM's mapped RAM, freeing no space if unlinked,
		 * and the base its next suspend links (engine.h): it stays, and
		 * with it a snapshot to fall back on if that suspend dies. */
		fsutil_pathf(mem, sizeof mem, "%s/susp-%u/memory.bin", j->vmdir, j->susp_seq);
		fsutil_pathf(st, sizeof st, "%s/susp-%u/state.bin", j->vmdir, j->susp_seq);
		rv->row.suspended_at = 0;
		save(a->lc, rv); /* stored RUNNING before the old memory goes */
		if (access(st, F_OK) != 0)
			unlink(mem);
	}
	identity_vm_running(a->lc->hd, &rv->row); /* a fresh token each run/resume */
	return 0;
}

static int act_suspended(struct act_ctx *a)
{
	struct lc_vm *rv = a->rv;
	rv->susp_seq = a->job->susp_seq;
	rv->row.suspended_at = hd_now();
	rv->keeper = (struct keeper_id){ 0, 0 };
	rv->engine = 0;
	return 0;
}

static int act_ended(struct act_ctx *a)
{
	a->rv->row.terminated_at = hd_now();
	a->rv->keeper = (struct keeper_id){ 0, 0 };
	a->rv->engine = 0;
	a->rv->gone = 1; /* freed once its row is stored */
	return 0;
}

static int act_adopted(struct act_ctx *a)
{
	hd_log("%s: re-adopted running VM (keeper %d, engine %d)", a->rv->row.id,
	       (int)a->rv->keeper.pid, (int)a->rv->engine);
	return 0;
}

static int act_kept(struct act_ctx *a)
{
	if (a->from == VS_SUSPENDING || !a->rv->row.suspended_at)
		a->rv->row.suspended_at = hd_now();
	a->rv->keeper = (struct keeper_id){ 0, 0 };
	a->rv->engine = 0;
	hd_log("%s: suspended VM kept (resumable)", a->rv->row.id);
	return 0;
}

static int (*const actions[ACT_COUNT])(struct act_ctx *) = {
	[ACT_NONE] = act_none,
	[ACT_START_SUSPEND] = act_start_suspend,
	[ACT_START_RESUME] = act_start_resume,
	[ACT_START_TERMINATE] = act_start_terminate,
	[ACT_RUNNING] = act_running,
	[ACT_SUSPENDED] = act_suspended,
	[ACT_ENDED] = act_ended,
	[ACT_ADOPTED] = act_adopted,
	[ACT_KEPT] = act_kept,
};

int lc_fire(struct lifecycle *lc, struct lc_vm *rv, enum vm_event ev, const char *reason,
	    const char *why, struct lc_job *job)
{
	const struct vm_transition *t = vmstate_next(rv->st, ev);
	if (!t)
		return LC_REFUSED;
	struct act_ctx a = { lc, rv, rv->st, why, job };
	char old_reason[STORE_REASON];
	memcpy(old_reason, rv->row.reason, sizeof old_reason);
	rv->st = t->to;
	fsutil_pathf(rv->row.state, sizeof rv->row.state, "%s", vmstate_name(t->to));
	if (reason)
		fsutil_pathf(rv->row.reason, sizeof rv->row.reason, "%s", reason);
	else if (t->to != t->from)
		rv->row.reason[0] = '\0';
	int rc = actions[t->action](&a);
	if (rc < 0) {
		/* The action could not start: nothing changed. */
		rv->st = t->from;
		fsutil_pathf(rv->row.state, sizeof rv->row.state, "%s", vmstate_name(t->from));
		memcpy(rv->row.reason, old_reason, sizeof old_reason);
		return rc;
	}
	if (t->to != t->from || reason || t->action != ACT_NONE)
		save(lc, rv);
	if (rv->gone && !rv->dirty)
		drop_vm(lc, rv);
	return 0;
}

/* ---- worker results ---- */

static void job_done(void *ctx, struct work_item *it)
{
	struct lifecycle *lc = ctx;
	struct lc_job *j = (struct lc_job *)it;
	struct lc_vm *rv = j->rv;
	rv->busy = 0;
	const char *reason = NULL;
	switch (j->result) {
	case EV_RUN_OK:
	case EV_RESUME_OK:
		break;
	case EV_SUSPEND_OK:
	case EV_TERMINATE_DONE:
		reason = j->why;
		break;
	default:
		reason = j->reason;
		break;
	}
	/* Results of a job a terminate waited for keep the terminate's reason. */
	const struct vm_transition *t = vmstate_next(rv->st, j->result);
	if (rv->st == VS_TERMINATING && t && t->to == VS_TERMINATING)
		reason = NULL;
	if (j->result == EV_SUSPEND_LOST) {
		rv->susp_seq = j->susp_seq;
		rv->row.suspended_at = hd_now();
	}
	if (j->result == EV_SUSPEND_FAILED || j->result == EV_SUSPEND_LOST ||
	    j->result == EV_SUSPEND_DIED || j->result == EV_RESUME_FAILED ||
	    j->result == EV_RUN_FAILED)
		hd_log("%s: %s", rv->row.id, j->reason);
	/* The job's view of the keeper is the newest (started, stopped, exited). */
	rv->keeper = j->keeper;
	rv->engine = j->engine;
	if (lc_fire(lc, rv, j->result, reason, NULL, j) == LC_REFUSED)
		hd_log("%s: result %s ignored in state %s", rv->row.id,
		       vmstate_event_name(j->result), vmstate_name(rv->st));
	free(j->payload);
	free(j);
}

void lifecycle_drain(struct lifecycle *lc)
{
	workers_drain(lc->workers, job_done, lc);
}

static void drain_cb(void *ctx)
{
	lifecycle_drain(ctx);
}

int lifecycle_watch(struct lifecycle *lc, struct loop *l, char *err, size_t errlen)
{
	return loop_watch(l, workers_fd(lc->workers), drain_cb, lc, err, errlen);
}

/* ---- API operations ---- */

int lifecycle_admit(struct lifecycle *lc, unsigned mem_mib, struct api_err *e)
{
	char why[256];
	if (admit(lc, mem_mib ? mem_mib : LC_DEFAULT_MEM_MIB, why, sizeof why) < 0) {
		hd_log("run refused: %s", why);
		return api_fail(e, API_E_QUOTA, "%s", why);
	}
	return 0;
}

int lifecycle_run(struct lifecycle *lc, const struct store_vm *v, struct api_err *e)
{
	struct lc_vm *rv = lc_new_vm(lc, v);
	struct lc_job *j = rv ? new_job(lc, rv, OP_RUN) : NULL;
	if (!j || catalog_load_vm(lc->hd, v->image, v->image_managed, v->image_version, &j->img,
				  e) != 1) {
		free(j);
		if (rv) {
			rv->busy = 0;
			lc_fire(lc, rv, EV_RUN_FAILED, "image could not be loaded", NULL, NULL);
		}
		return api_fail(e, API_E_INTERNAL, "cannot start the microVM");
	}
	j->payload = malloc(API_MAX_HOOK_PAYLOAD);
	if (j->payload && store_vm_payload(lc->hd->store, v->id, j->payload,
					   API_MAX_HOOK_PAYLOAD, &j->plen) < 0)
		j->plen = 0;
	workers_submit(lc->workers, &j->item);
	return 0;
}

static int fail_for(int rc, struct lc_vm *rv, const char *verb, struct api_err *e)
{
	switch (rc) {
	case LC_BUSY:
		return api_fail(e, API_E_CONFLICT, "microVM %s is busy", rv->row.id);
	case LC_QUOTA:
		return api_fail(e, API_E_QUOTA,
				"resuming microVM %s would exceed this host's capacity",
				rv->row.id);
	case LC_NOMEM:
		return api_fail(e, API_E_INTERNAL, "out of memory");
	default:
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s and cannot be %s", rv->row.id,
				rv->row.state, verb);
	}
}

int lifecycle_suspend(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	struct lc_vm *rv = find_vm(lc, v->id);
	if (!rv)
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s and cannot be suspended",
				v->id, v->state);
	int rc = lc_fire(lc, rv, EV_SUSPEND, NULL, "suspended by SuspendMicrovm", NULL);
	return rc < 0 ? fail_for(rc, rv, "suspended", e) : 0;
}

/* A SUSPENDED VM keeps its state until it runs again; its reason says a resume
 * is under way (a failed one replaces it with why), so a client waiting for
 * RUNNING can tell a failure from a resume still going. */
static const char *resume_reason(const struct lc_vm *rv)
{
	return rv->st == VS_SUSPENDED ? LIFECYCLE_RESUMING : NULL;
}

int lifecycle_resume(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	struct lc_vm *rv = find_vm(lc, v->id);
	if (!rv)
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s and cannot be resumed", v->id,
				v->state);
	int rc = lc_fire(lc, rv, EV_RESUME, resume_reason(rv), NULL, NULL);
	return rc < 0 ? fail_for(rc, rv, "resumed", e) : 0;
}

int lifecycle_terminate(struct lifecycle *lc, struct store_vm *v, const char *reason,
			struct api_err *e)
{
	struct lc_vm *rv = find_vm(lc, v->id);
	if (!rv) {
		const struct store_vm *mine = lifecycle_row(lc, v->id);
		if (vmstate_parse(mine ? mine->state : v->state) == VS_TERMINATED)
			return 0;
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s", v->id, v->state);
	}
	/* Terminating already: keep the first reason. */
	int rc = lc_fire(lc, rv, EV_TERMINATE, rv->st == VS_TERMINATING ? NULL : reason, NULL,
			 NULL);
	return rc < 0 ? fail_for(rc, rv, "terminated", e) : 0;
}

const struct store_vm *lifecycle_row(struct lifecycle *lc, const char *id)
{
	for (struct lc_vm *v = lc->vms; v; v = v->next)
		if (strcmp(v->row.id, id) == 0)
			return &v->row;
	return NULL;
}

void lifecycle_note_traffic(struct lifecycle *lc, const char *id)
{
	struct lc_vm *rv = find_vm(lc, id);
	if (rv)
		rv->row.last_activity = hd_now();
}

void lifecycle_note_traffic_every(struct lifecycle *lc, const char *id, int64_t *last_ms)
{
	int64_t now = hd_now_ms();
	if (now - *last_ms >= 1000) {
		*last_ms = now;
		lifecycle_note_traffic(lc, id);
	}
}

int lifecycle_request_resume(struct lifecycle *lc, const char *id)
{
	struct lc_vm *rv = find_vm(lc, id);
	if (!rv)
		return -1;
	switch (rv->st) {
	case VS_RUNNING:
		return rv->busy ? 0 : 1;
	case VS_SUSPENDED:
		if (!rv->row.has_idle || !rv->row.auto_resume)
			return -1;
		return lc_fire(lc, rv, EV_RESUME, resume_reason(rv), NULL, NULL) < 0 ? -1 : 0;
	case VS_SUSPENDING:
		return rv->row.auto_resume ? 0 : -1;
	case VS_PENDING:
		return 0;
	default:
		return -1;
	}
}

int lifecycle_busy(struct lifecycle *lc)
{
	int n = 0;
	for (struct lc_vm *v = lc->vms; v; v = v->next)
		n += v->busy;
	return n;
}

/* ---- timers ---- */

/* Shell traffic through the keeper's agent relay counts as endpoint traffic. */
static void note_relay_activity(struct lifecycle *lc, struct lc_vm *rv)
{
	char p[PATH_MAX];
	struct stat st;
	lc_vm_dir(lc, rv->row.id, p, sizeof p);
	fsutil_pathf(p + strlen(p), sizeof p - strlen(p), "/activity");
	if (stat(p, &st) == 0 && (int64_t)st.st_mtime > rv->row.last_activity)
		rv->row.last_activity = (int64_t)st.st_mtime;
}

/* The last line of the VM's keeper.log (QEMU's last words, often), bounded. */
static void keeper_log_tail(struct lifecycle *lc, const char *id, char *out, size_t n)
{
	char p[PATH_MAX], buf[512];
	out[0] = '\0';
	lc_vm_dir(lc, id, p, sizeof p);
	fsutil_pathf(p + strlen(p), sizeof p - strlen(p), "/keeper.log");
	FILE *f = fopen(p, "re");
	if (!f)
		return;
	if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) < 0)
		rewind(f);
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = '\0';
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		buf[--got] = '\0';
	char *nl = strrchr(buf, '\n');
	const char *line = nl ? nl + 1 : buf;
	size_t k = 0;
	for (; line[k] && k + 1 < n; k++)
		out[k] = (line[k] >= 0x20 && line[k] < 0x7f) ? line[k] : '?';
	out[k] = '\0';
}

/* A running VM whose keeper ended on its own: log why, end it. */
static void vm_died(struct lifecycle *lc, struct lc_vm *rv, int wstatus)
{
	char cause[200], tail[200], reason[STORE_REASON];
	keeper_describe_exit(wstatus, cause, sizeof cause);
	keeper_log_tail(lc, rv->row.id, tail, sizeof tail);
	fsutil_pathf(reason, sizeof reason, "the VM's engine process exited unexpectedly (%s)",
		     cause);
	hd_log("%s: VM died: keeper %d %s; keeper.log: %s", rv->row.id, (int)rv->keeper.pid,
	       cause, tail[0] ? tail : "(empty)");
	rv->keeper = (struct keeper_id){ 0, 0 };
	rv->engine = 0;
	lc_fire(lc, rv, EV_DIED, reason, NULL, NULL);
}

void lifecycle_tick(struct lifecycle *lc)
{
	int64_t now = hd_now(), now_ms = hd_now_ms();
	struct lc_vm *next;
	for (struct lc_vm *rv = lc->vms; rv; rv = next) {
		next = rv->next;
		struct store_vm *r = &rv->row;
		if (rv->dirty && now_ms >= rv->retry_at_ms)
			save(lc, rv);
		if (rv->gone) {
			if (!rv->dirty)
				drop_vm(lc, rv);
			continue;
		}
		if (rv->busy)
			continue;
		char why[160];
		int ws;
		if (now - r->started_at >= r->max_duration) {
			fsutil_pathf(why, sizeof why, "maximum duration of %lld s reached",
				     (long long)r->max_duration);
			lc_fire(lc, rv, EV_TERMINATE, why, NULL, NULL);
			continue;
		}
		if (rv->st == VS_RUNNING && !keeper_alive(&rv->keeper, &ws)) {
			vm_died(lc, rv, ws);
			continue;
		}
		if (rv->st == VS_RUNNING && r->has_idle)
			note_relay_activity(lc, rv);
		if (rv->st == VS_RUNNING && r->has_idle && now - r->last_activity >= r->max_idle) {
			fsutil_pathf(why, sizeof why, "suspended after %lld s without endpoint traffic",
				     (long long)r->max_idle);
			lc_fire(lc, rv, EV_SUSPEND, NULL, why, NULL);
			continue;
		}
		if (rv->st == VS_SUSPENDED && r->has_idle && now - r->suspended_at >= r->suspended_for) {
			fsutil_pathf(why, sizeof why, "terminated after %lld s suspended",
				     (long long)r->suspended_for);
			lc_fire(lc, rv, EV_TERMINATE, why, NULL, NULL);
			continue;
		}
		/* Past the checks above: it runs and stays so this tick. */
		if (rv->st == VS_RUNNING) {
			dns_vm_running(lc->hd, r->id, r->egress);
			identity_vm_tick(lc->hd, r); /* its channel; the token file's refresh */
		}
		if (!rv->dirty && r->last_activity - rv->persisted_activity >= LC_PERSIST_EVERY)
			save(lc, rv);
	}
}

/* ---- startup and shutdown ---- */

void lifecycle_recover(struct lifecycle *lc)
{
	recover_all(lc);
}

int lifecycle_create(struct hearthd *hd, struct lifecycle **out, char *err, size_t errlen)
{
	struct lifecycle *lc = calloc(1, sizeof *lc);
	if (!lc) {
		fsutil_pathf(err, errlen, "out of memory");
		return -1;
	}
	lc->hd = hd;
	lc->eng = vm_engine_find(hd->cfg.engine);
	if (!lc->eng) {
		fsutil_pathf(err, errlen, "unknown engine %s", hd->cfg.engine);
		free(lc);
		return -1;
	}
	fsutil_pathf(lc->vms_dir, sizeof lc->vms_dir, "%s/vms", hd->cfg.state_dir);
	fsutil_pathf(lc->snaps_dir, sizeof lc->snaps_dir, "%s/snapshots", hd->cfg.state_dir);
	if (fsutil_mkdir_p(lc->vms_dir, 0700) < 0 || fsutil_mkdir_p(lc->snaps_dir, 0700) < 0) {
		fsutil_pathf(err, errlen, "%s: %s", lc->vms_dir, strerror(errno));
		free(lc);
		return -1;
	}
	lc->snaps = snapcache_create(lc->eng, lc->snaps_dir);
	if (lc->snaps)
		snapcache_set_egress(lc->snaps, hd->egress);
	lc->workers = lc->snaps ? workers_create(LC_WORKERS, vmjobs_run, lc, err, errlen) : NULL;
	if (!lc->workers) {
		if (!lc->snaps)
			fsutil_pathf(err, errlen, "out of memory");
		snapcache_destroy(lc->snaps);
		free(lc);
		return -1;
	}
	*out = lc;
	return 0;
}

struct snapcache *lifecycle_snapcache(struct lifecycle *lc)
{
	return lc->snaps;
}

void lifecycle_destroy(struct lifecycle *lc)
{
	if (!lc)
		return;
	lc->stopping = 1;
	workers_destroy(lc->workers, job_done, lc);
	snapcache_destroy(lc->snaps);
	while (lc->vms) {
		struct lc_vm *rv = lc->vms;
		lc->vms = rv->next;
		if (rv->dirty)
			save(lc, rv); /* a last try; recovery reconciles the rest */
		free(rv);
	}
	free(lc);
}
