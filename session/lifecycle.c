/*
 * lifecycle.c - microVM state machine, worker pool, timers and recovery.
 *
 * Threads: the event loop owns the store and every struct lc_vm; a job runs
 * on a worker and reports in the done queue. Each running VM lives in its
 * own keeper process (session/keeper.h), so VMs outlive hearthd and a new
 * hearthd re-adopts them. The image snapshot build boots a VM inside
 * hearthd on a worker; workers are a fixed pool that lives as long as the
 * process, because the engine's processes die with the thread that started
 * them.
 *
 * Files: <state>/vms/<id>/ (0700) holds run/ (the engine's run dir),
 * susp-N/ (suspend snapshots, N counting up), agent.sock and ctl.sock (the
 * keeper's), keeper.log;
 * <state>/snapshots/<image>@<version>/ is the image snapshot every run
 * restores, built once per image version.
 */
#define _XOPEN_SOURCE 700
#include "session/lifecycle.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/api_image.h"
#include "protocol/api_run.h"
#include "session/catalog.h"
#include "session/hooks.h"
#include "session/identity.h"
#include "session/keeper.h"
#include "vmm/agentctl.h"
#include "vmm/engine.h"

#define LC_WORKERS 8
#define DL_BOOT 180000
#define DL_AGENT 60000
#define DL_RESTORE 60000
#define DL_SUSPEND 60000
#define DL_STOP 10000
#define LC_MAX_BUILDING 16
#define LC_PERSIST_EVERY 5 /* seconds between writes of last_activity */

enum lc_op { OP_RUN, OP_SUSPEND, OP_RESUME, OP_TERMINATE };

struct lc_vm {
	struct store_vm row; /* authoritative copy of the stored row */
	pid_t keeper;        /* keeper process of a running VM (0 when none) */
	int busy;
	int want_terminate;
	char term_reason[256];
	unsigned susp_seq;
	struct api_hooks hooks;
	int64_t persisted_activity;
	struct lifecycle *lc;
	struct lc_vm *next;
};

struct lc_job {
	enum lc_op op;
	struct lc_vm *rv;
	char id[STORE_ID];
	pid_t keeper;
	struct catalog_entry img;
	struct api_hooks hooks;
	char *payload;
	size_t plen;
	char why[256];
	char vmdir[PATH_MAX];
	unsigned susp_seq;
	int ok;
	int vm_alive;
	int64_t t_start, t_keeper; /* ms: job start, keeper reported the VM ready */
	char reason[STORE_REASON];
	struct lc_job *next;
};

struct lifecycle {
	struct hearthd *hd;
	const struct vm_engine *eng;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lc_job *todo, *todo_tail, *done;
	pthread_t workers[LC_WORKERS];
	int nworkers;
	int stop;
	pthread_mutex_t snap_mu;
	pthread_cond_t snap_cv;
	char building[LC_MAX_BUILDING][300];
	struct lc_vm *vms;
	char vms_dir[PATH_MAX], snaps_dir[PATH_MAX];
};

/* snprintf for paths and messages: truncation is checked where it matters
 * (the state directory's length is bounded at startup). */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	pathf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static void vm_dir(struct lifecycle *lc, const char *id, char *out, size_t n)
{
	pathf(out, n, "%s/%s", lc->vms_dir, id);
}

static int file_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	pathf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* Highest N with a complete susp-N snapshot (0 when none). */
static unsigned latest_suspend(const char *vmdir)
{
	DIR *d = opendir(vmdir);
	unsigned best = 0;
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned n;
		char sub[PATH_MAX];
		if (sscanf(de->d_name, "susp-%u", &n) != 1 || n <= best)
			continue;
		pathf(sub, sizeof sub, "%s/%s", vmdir, de->d_name);
		if (file_exists(sub, "manifest.json") && file_exists(sub, "memory.bin"))
			best = n;
	}
	closedir(d);
	return best;
}

/* ---- queues ---- */

static void enqueue(struct lifecycle *lc, struct lc_job *j)
{
	pthread_mutex_lock(&lc->mu);
	j->next = NULL;
	if (lc->todo_tail)
		lc->todo_tail->next = j;
	else
		lc->todo = j;
	lc->todo_tail = j;
	pthread_cond_signal(&lc->cv);
	pthread_mutex_unlock(&lc->mu);
}

static void finish(struct lifecycle *lc, struct lc_job *j)
{
	pthread_mutex_lock(&lc->mu);
	j->next = lc->done;
	lc->done = j;
	pthread_mutex_unlock(&lc->mu);
	lws_cancel_service(lc->hd->lws);
}

/* ---- worker side ---- */

static void seterr(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, STORE_REASON, fmt, ap);
	va_end(ap);
}

/* Call a hook through the VM's agent relay; 0 when it answered 200. */
static int call_hook(const char *vmdir, const struct api_hooks *h, enum api_hook which,
		     const void *body, size_t len, char *reason)
{
	int status = 0;
	char err[256];
	const char *name = api_image_hook_name(which);
	int fd = keeper_agent_connect(vmdir, 5000);
	if (fd < 0) {
		seterr(reason, "%s hook failed: agent relay unreachable", name);
		return -1;
	}
	int rc = hooks_call(fd, (uint16_t)h->port, name, body, len, h->timeout[which] * 1000,
			    &status, err, sizeof err);
	close(fd);
	if (rc < 0) {
		seterr(reason, "%s hook failed: %s", name, err);
		return -1;
	}
	if (status != 200) {
		seterr(reason, "%s hook answered HTTP %d", name, status);
		return -1;
	}
	return 0;
}

/* /ready during the image build: 503 (or not listening yet) means ask again
 * until the timeout. */
static int ready_hook(int fd, const struct api_hooks *h, char *reason)
{
	int64_t dl = hd_now_ms() + (int64_t)h->timeout[API_HOOK_READY] * 1000;
	for (;;) {
		int status = 0;
		char err[256];
		int left = (int)(dl - hd_now_ms());
		if (left <= 0) {
			seterr(reason, "ready hook did not answer 200 within %d s",
			       h->timeout[API_HOOK_READY]);
			return -1;
		}
		int rc = hooks_call(fd, (uint16_t)h->port, "ready", NULL, 0, left, &status, err,
				    sizeof err);
		if (rc == 0 && status == 200)
			return 0;
		if (rc == 0 && status != 503) {
			seterr(reason, "ready hook answered HTTP %d", status);
			return -1;
		}
		usleep(200 * 1000);
	}
}

static int building_slot(struct lifecycle *lc, const char *key)
{
	for (int i = 0; i < LC_MAX_BUILDING; i++)
		if (strcmp(lc->building[i], key) == 0)
			return i;
	return -1;
}

static int build_snapshot(struct lifecycle *lc, const struct catalog_entry *ce, const char *final,
			  char *reason)
{
	char tmp[PATH_MAX], run[PATH_MAX], snap[PATH_MAX];
	struct vm_err verr = { { 0 } };
	char err[AGENTCTL_ERR];
	struct vm *vm = NULL;
	pathf(tmp, sizeof tmp, "%s/.build-%s@%s", lc->snaps_dir, ce->img.name, ce->img.version);
	pathf(run, sizeof run, "%s/run", tmp);
	pathf(snap, sizeof snap, "%s/snap", tmp);
	rm_rf(tmp);
	if (mkdir_p(tmp, 0700) < 0) {
		seterr(reason, "image snapshot: %s: %s", tmp, strerror(errno));
		return -1;
	}
	char id[160];
	pathf(id, sizeof id, "img-%s", ce->img.name);
	struct vm_config cfg = {
		.id = id,
		.run_dir = run,
		.kernel = ce->img.kernel,
		.initrd = ce->img.initrd[0] ? ce->img.initrd : NULL,
		.disk = ce->img.disk[0] ? ce->img.disk : NULL,
		.cmdline = ce->img.cmdline,
		.mem_mib = ce->img.mem_mib,
		.vcpus = 1,
		.accel = VM_ACCEL_AUTO,
	};
	if (lc->eng->boot(&cfg, DL_BOOT, &vm, &verr) < 0) {
		seterr(reason, "image snapshot: boot failed: %s", verr.msg);
		goto fail;
	}
	struct agentctl_peer peer;
	if (agentctl_hello(lc->eng->agent_fd(vm), DL_AGENT, &peer, NULL, err, sizeof err) < 0) {
		seterr(reason, "image snapshot: agent did not answer: %s", err);
		goto fail;
	}
	if (ce->img.command[0]) {
		int code = -1;
		if (hooks_command(lc->eng->agent_fd(vm), ce->img.command, DL_AGENT, &code, err,
				  sizeof err) < 0) {
			pathf(reason, STORE_REASON, "image snapshot: %s", err);
			goto fail;
		}
		if (code != 0) {
			pathf(reason, STORE_REASON, "image snapshot: start command exited with %d",
			      code);
			goto fail;
		}
	}
	if (ce->img.hooks.enabled[API_HOOK_READY] &&
	    ready_hook(lc->eng->agent_fd(vm), &ce->img.hooks, reason) < 0)
		goto fail;
	if (lc->eng->snapshot(vm, snap, DL_SUSPEND, &verr) < 0) {
		seterr(reason, "image snapshot failed: %s", verr.msg);
		goto fail;
	}
	lc->eng->stop(vm, DL_STOP, &verr);
	vm = NULL;
	if (rename(snap, final) < 0) {
		seterr(reason, "image snapshot: %s: %s", final, strerror(errno));
		goto fail;
	}
	rm_rf(tmp);
	return 0;
fail:
	if (vm)
		lc->eng->stop(vm, DL_STOP, &verr);
	rm_rf(tmp);
	return -1;
}

/* The image version's snapshot, built once (other runs wait for it). */
static int image_snapshot(struct lifecycle *lc, const struct catalog_entry *ce, char *out,
			  size_t n, char *reason)
{
	char key[300];
	pathf(key, sizeof key, "%s@%s", ce->img.name, ce->img.version);
	pathf(out, n, "%s/%s", lc->snaps_dir, key);
	pthread_mutex_lock(&lc->snap_mu);
	while (building_slot(lc, key) >= 0)
		pthread_cond_wait(&lc->snap_cv, &lc->snap_mu);
	if (file_exists(out, "manifest.json")) {
		pthread_mutex_unlock(&lc->snap_mu);
		return 0;
	}
	int slot = building_slot(lc, "");
	if (slot < 0) {
		pthread_mutex_unlock(&lc->snap_mu);
		seterr(reason, "too many image snapshots being built");
		return -1;
	}
	pathf(lc->building[slot], sizeof lc->building[slot], "%s", key);
	pthread_mutex_unlock(&lc->snap_mu);
	int rc = build_snapshot(lc, ce, out, reason);
	pthread_mutex_lock(&lc->snap_mu);
	lc->building[slot][0] = '\0';
	pthread_cond_broadcast(&lc->snap_cv);
	pthread_mutex_unlock(&lc->snap_mu);
	return rc;
}

/* Start a keeper restoring snapdir; it also makes the VM unique (entropy,
 * hostname, clock) before it reports. */
static int restore_into(struct lifecycle *lc, struct lc_job *j, const char *snapdir)
{
	char run[PATH_MAX], why[STORE_REASON];
	pathf(run, sizeof run, "%s/run", j->vmdir);
	rm_rf(run); /* leftovers of a keeper that died with its VM */
	j->t_start = hd_now_ms();
	j->keeper = keeper_spawn(lc->hd->exe, lc->hd->cfg.engine, j->vmdir, j->id, snapdir,
				 DL_RESTORE, why, sizeof why);
	j->t_keeper = hd_now_ms();
	if (j->keeper < 0) {
		j->keeper = 0;
		seterr(j->reason, "%s", why);
		return -1;
	}
	return 0;
}

static void stop_vm(struct lifecycle *lc, struct lc_job *j)
{
	char r[KEEPER_REPLY];
	(void)lc;
	if (j->keeper > 0 && keeper_cmd(j->vmdir, "stop", DL_STOP, r, sizeof r) < 0)
		kill(j->keeper, SIGKILL); /* the VM's processes die with their keeper */
	keeper_reap(j->keeper, 2000);
	j->keeper = 0;
}

static void do_run(struct lifecycle *lc, struct lc_job *j)
{
	char snap[PATH_MAX];
	if (mkdir_p(j->vmdir, 0700) < 0) {
		seterr(j->reason, "%s: %s", j->vmdir, strerror(errno));
		return;
	}
	if (image_snapshot(lc, &j->img, snap, sizeof snap, j->reason) < 0) {
		rm_rf(j->vmdir);
		return;
	}
	if (restore_into(lc, j, snap) < 0 ||
	    (j->hooks.enabled[API_HOOK_RUN] &&
	     call_hook(j->vmdir, &j->hooks, API_HOOK_RUN, j->payload, j->plen, j->reason) < 0)) {
		stop_vm(lc, j);
		rm_rf(j->vmdir);
		return;
	}
	j->ok = 1;
}

static void do_suspend(struct lifecycle *lc, struct lc_job *j)
{
	char dir[PATH_MAX], cmd[PATH_MAX + 16], note[STORE_REASON], r[KEEPER_REPLY];
	note[0] = '\0';
	/* A failing /suspend hook does not keep the VM from suspending. */
	if (j->hooks.enabled[API_HOOK_SUSPEND])
		call_hook(j->vmdir, &j->hooks, API_HOOK_SUSPEND, NULL, 0, note);
	unsigned n = j->susp_seq + 1;
	pathf(dir, sizeof dir, "%s/susp-%u", j->vmdir, n);
	rm_rf(dir);
	pathf(cmd, sizeof cmd, "suspend %s", dir);
	int rc = keeper_cmd(j->vmdir, cmd, DL_SUSPEND + 5000, r, sizeof r);
	if (rc == 0 && strcmp(r, "ok") == 0) {
		keeper_reap(j->keeper, 2000); /* it exits after a suspend */
		j->keeper = 0;
		j->susp_seq = n;
		j->ok = 1;
		if (note[0])
			pathf(j->why + strlen(j->why), sizeof j->why - strlen(j->why), " (%s)", note);
		return;
	}
	rm_rf(dir);
	if (rc == 0 && strncmp(r, "err ", 4) == 0) {
		/* Disk full, engine error...: the keeper let the VM go on. */
		seterr(j->reason, "suspend failed, VM left running: %s", r + 4);
		j->vm_alive = 1;
		return;
	}
	seterr(j->reason, "suspend failed and the VM ended: %s",
	       rc == 0 ? (strncmp(r, "dead ", 5) == 0 ? r + 5 : r) : "VM keeper did not answer");
	stop_vm(lc, j);
	rm_rf(j->vmdir);
}

static void do_resume(struct lifecycle *lc, struct lc_job *j)
{
	char dir[PATH_MAX];
	pathf(dir, sizeof dir, "%s/susp-%u", j->vmdir, j->susp_seq);
	if (restore_into(lc, j, dir) < 0 ||
	    (j->hooks.enabled[API_HOOK_RESUME] &&
	     call_hook(j->vmdir, &j->hooks, API_HOOK_RESUME, NULL, 0, j->reason) < 0)) {
		stop_vm(lc, j);
		return;
	}
	j->ok = 1;
}

static void do_terminate(struct lifecycle *lc, struct lc_job *j)
{
	char note[STORE_REASON];
	if (j->keeper > 0 && keeper_alive(j->keeper) && j->hooks.enabled[API_HOOK_TERMINATE])
		call_hook(j->vmdir, &j->hooks, API_HOOK_TERMINATE, NULL, 0, note);
	stop_vm(lc, j);
	rm_rf(j->vmdir);
	j->ok = 1;
}

static void *worker_main(void *p)
{
	struct lifecycle *lc = p;
	for (;;) {
		pthread_mutex_lock(&lc->mu);
		while (!lc->todo && !lc->stop)
			pthread_cond_wait(&lc->cv, &lc->mu);
		if (lc->stop && !lc->todo) {
			pthread_mutex_unlock(&lc->mu);
			return NULL;
		}
		struct lc_job *j = lc->todo;
		lc->todo = j->next;
		if (!lc->todo)
			lc->todo_tail = NULL;
		pthread_mutex_unlock(&lc->mu);
		switch (j->op) {
		case OP_RUN: do_run(lc, j); break;
		case OP_SUSPEND: do_suspend(lc, j); break;
		case OP_RESUME: do_resume(lc, j); break;
		case OP_TERMINATE: do_terminate(lc, j); break;
		}
		finish(lc, j);
	}
}

/* ---- event-loop side ---- */

static struct lc_vm *find_vm(struct lifecycle *lc, const char *id)
{
	for (struct lc_vm *v = lc->vms; v; v = v->next)
		if (strcmp(v->row.id, id) == 0)
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

static void save(struct lifecycle *lc, struct lc_vm *rv)
{
	if (store_vm_update(lc->hd->store, &rv->row) < 0)
		hd_log("store: cannot save %s: %s", rv->row.id, store_errmsg(lc->hd->store));
	rv->persisted_activity = rv->row.last_activity;
}

static void set_state(struct lc_vm *rv, const char *state, const char *reason)
{
	pathf(rv->row.state, sizeof rv->row.state, "%s", state);
	pathf(rv->row.reason, sizeof rv->row.reason, "%s", reason ? reason : "");
}

static struct lc_job *new_job(struct lifecycle *lc, struct lc_vm *rv, enum lc_op op)
{
	struct lc_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->op = op;
	j->rv = rv;
	pathf(j->id, sizeof j->id, "%s", rv->row.id);
	vm_dir(lc, rv->row.id, j->vmdir, sizeof j->vmdir);
	j->hooks = rv->hooks;
	j->susp_seq = rv->susp_seq;
	j->keeper = rv->keeper;
	rv->busy = 1;
	return j;
}

static int start_terminate(struct lifecycle *lc, struct lc_vm *rv, const char *reason)
{
	struct lc_job *j = new_job(lc, rv, OP_TERMINATE);
	if (!j)
		return -1;
	pathf(j->why, sizeof j->why, "%s", reason);
	set_state(rv, "TERMINATING", reason);
	save(lc, rv);
	enqueue(lc, j);
	return 0;
}

static int start_suspend(struct lifecycle *lc, struct lc_vm *rv, const char *why)
{
	struct lc_job *j = new_job(lc, rv, OP_SUSPEND);
	if (!j)
		return -1;
	pathf(j->why, sizeof j->why, "%s", why);
	set_state(rv, "SUSPENDING", NULL);
	save(lc, rv);
	enqueue(lc, j);
	return 0;
}

static int start_resume(struct lifecycle *lc, struct lc_vm *rv)
{
	struct lc_job *j = new_job(lc, rv, OP_RESUME);
	if (!j)
		return -1;
	/* The state stays SUSPENDED until the VM runs again. */
	enqueue(lc, j);
	return 0;
}

static void apply(struct lifecycle *lc, struct lc_job *j)
{
	struct lc_vm *rv = j->rv;
	int64_t now = hd_now();
	rv->busy = 0;
	rv->keeper = j->keeper;
	switch (j->op) {
	case OP_RUN:
	case OP_RESUME:
		if (j->ok) {
			rv->row.engine_pid = rv->keeper;
			hd_log("%s: %s in %lld ms (keeper: restore and agent refresh %lld ms)",
			       rv->row.id, j->op == OP_RUN ? "running" : "resumed",
			       (long long)(hd_now_ms() - j->t_start),
			       (long long)(j->t_keeper - j->t_start));
			rv->row.last_activity = now;
			set_state(rv, "RUNNING", NULL);
			if (j->op == OP_RESUME) {
				char mem[PATH_MAX];
				/* The memory image is spent; the disk chain stays. */
				pathf(mem, sizeof mem, "%s/susp-%u/memory.bin", j->vmdir,
					 j->susp_seq);
				rv->row.suspended_at = 0;
				save(lc, rv);
				unlink(mem);
			}
			save(lc, rv);
			identity_vm_running(lc->hd, &rv->row); /* a fresh token each run/resume */
		} else if (j->op == OP_RUN) {
			rv->row.terminated_at = now;
			set_state(rv, "TERMINATED", j->reason);
			save(lc, rv);
			drop_vm(lc, rv);
			rv = NULL;
		} else {
			set_state(rv, "SUSPENDED", j->reason);
			save(lc, rv);
		}
		break;
	case OP_SUSPEND:
		if (j->ok) {
			rv->susp_seq = j->susp_seq;
			rv->row.suspended_at = now;
			rv->row.engine_pid = 0;
			set_state(rv, "SUSPENDED", j->why);
			save(lc, rv);
		} else if (j->vm_alive) {
			set_state(rv, "RUNNING", j->reason);
			save(lc, rv);
		} else {
			rv->row.terminated_at = now;
			set_state(rv, "TERMINATED", j->reason);
			save(lc, rv);
			drop_vm(lc, rv);
			rv = NULL;
		}
		break;
	case OP_TERMINATE:
		rv->row.terminated_at = now;
		set_state(rv, "TERMINATED", j->why);
		save(lc, rv);
		drop_vm(lc, rv);
		rv = NULL;
		break;
	}
	if (rv && rv->want_terminate)
		start_terminate(lc, rv, rv->term_reason);
}

void lifecycle_drain(struct lifecycle *lc)
{
	pthread_mutex_lock(&lc->mu);
	struct lc_job *list = lc->done;
	lc->done = NULL;
	pthread_mutex_unlock(&lc->mu);
	/* The list is newest first; apply in completion order. */
	struct lc_job *rev = NULL;
	while (list) {
		struct lc_job *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct lc_job *n = rev->next;
		apply(lc, rev);
		free(rev->payload);
		free(rev);
		rev = n;
	}
}

/* ---- API operations ---- */

static struct lc_vm *new_rv(struct lifecycle *lc, const struct store_vm *v)
{
	struct lc_vm *rv = calloc(1, sizeof *rv);
	if (!rv)
		return NULL;
	rv->row = *v;
	rv->lc = lc;
	rv->persisted_activity = v->last_activity;
	struct catalog_entry *ce = malloc(sizeof *ce);
	struct api_err e;
	if (ce && catalog_load(lc->hd->cfg.image_dir, v->image, ce, &e) == 1)
		rv->hooks = ce->img.hooks;
	free(ce);
	rv->next = lc->vms;
	lc->vms = rv;
	return rv;
}

int lifecycle_run(struct lifecycle *lc, const struct store_vm *v, struct api_err *e)
{
	struct lc_vm *rv = new_rv(lc, v);
	struct lc_job *j = rv ? new_job(lc, rv, OP_RUN) : NULL;
	if (!j || catalog_load(lc->hd->cfg.image_dir, v->image, &j->img, e) != 1) {
		if (rv) {
			rv->row.terminated_at = hd_now();
			set_state(rv, "TERMINATED", "image could not be loaded");
			save(lc, rv);
			drop_vm(lc, rv);
		}
		free(j);
		return api_fail(e, API_E_INTERNAL, "cannot start the microVM");
	}
	j->payload = malloc(API_MAX_HOOK_PAYLOAD);
	if (j->payload && store_vm_payload(lc->hd->store, v->id, j->payload,
					   API_MAX_HOOK_PAYLOAD, &j->plen) < 0)
		j->plen = 0;
	enqueue(lc, j);
	return 0;
}

static struct lc_vm *live(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	struct lc_vm *rv = find_vm(lc, v->id);
	if (!rv)
		api_fail(e, API_E_CONFLICT, "microVM %s is %s", v->id, v->state);
	return rv;
}

int lifecycle_suspend(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	if (!strcmp(v->state, "SUSPENDED") || !strcmp(v->state, "SUSPENDING"))
		return 0;
	if (strcmp(v->state, "RUNNING") != 0)
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s and cannot be suspended",
				v->id, v->state);
	struct lc_vm *rv = live(lc, v, e);
	if (!rv)
		return -1;
	if (rv->busy)
		return api_fail(e, API_E_CONFLICT, "microVM %s is busy", v->id);
	if (start_suspend(lc, rv, "suspended by SuspendMicrovm") < 0)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	return 0;
}

int lifecycle_resume(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	if (!strcmp(v->state, "RUNNING"))
		return 0;
	if (strcmp(v->state, "SUSPENDED") != 0)
		return api_fail(e, API_E_CONFLICT, "microVM %s is %s and cannot be resumed", v->id,
				v->state);
	struct lc_vm *rv = live(lc, v, e);
	if (!rv)
		return -1;
	if (rv->busy)
		return 0; /* a resume is already under way */
	if (start_resume(lc, rv) < 0)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	return 0;
}

int lifecycle_terminate(struct lifecycle *lc, struct store_vm *v, const char *reason,
			struct api_err *e)
{
	if (!strcmp(v->state, "TERMINATED") || !strcmp(v->state, "TERMINATING"))
		return 0;
	struct lc_vm *rv = live(lc, v, e);
	if (!rv)
		return -1;
	if (rv->busy) {
		/* Finish the job in flight first; then terminate. */
		rv->want_terminate = 1;
		pathf(rv->term_reason, sizeof rv->term_reason, "%s", reason);
		set_state(rv, "TERMINATING", reason);
		save(lc, rv);
		return 0;
	}
	if (start_terminate(lc, rv, reason) < 0)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	return 0;
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
	if (!strcmp(rv->row.state, "RUNNING") && !rv->busy)
		return 1;
	if (!strcmp(rv->row.state, "SUSPENDED") && rv->row.has_idle && rv->row.auto_resume) {
		if (!rv->busy && start_resume(lc, rv) < 0)
			return -1;
		return 0;
	}
	if (!strcmp(rv->row.state, "SUSPENDING") && rv->row.auto_resume)
		return 0;
	if (!strcmp(rv->row.state, "PENDING"))
		return 0;
	return -1;
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
	vm_dir(lc, rv->row.id, p, sizeof p);
	pathf(p + strlen(p), sizeof p - strlen(p), "/activity");
	if (stat(p, &st) == 0 && (int64_t)st.st_mtime > rv->row.last_activity)
		rv->row.last_activity = (int64_t)st.st_mtime;
}

void lifecycle_tick(struct lifecycle *lc)
{
	int64_t now = hd_now();
	struct lc_vm *next;
	for (struct lc_vm *rv = lc->vms; rv; rv = next) {
		next = rv->next;
		struct store_vm *r = &rv->row;
		if (rv->busy)
			continue;
		char why[160];
		if (now - r->started_at >= r->max_duration) {
			pathf(why, sizeof why, "maximum duration of %lld s reached",
				 (long long)r->max_duration);
			start_terminate(lc, rv, why);
			continue;
		}
		if (!strcmp(r->state, "RUNNING") && !keeper_alive(rv->keeper)) {
			start_terminate(lc, rv, "the VM's engine process exited unexpectedly");
			continue;
		}
		if (!strcmp(r->state, "RUNNING") && r->has_idle)
			note_relay_activity(lc, rv);
		if (!strcmp(r->state, "RUNNING") && r->has_idle &&
		    now - r->last_activity >= r->max_idle) {
			pathf(why, sizeof why, "suspended after %lld s without endpoint traffic",
				 (long long)r->max_idle);
			start_suspend(lc, rv, why);
			continue;
		}
		if (!strcmp(r->state, "SUSPENDED") && r->has_idle &&
		    now - r->suspended_at >= r->suspended_for) {
			pathf(why, sizeof why, "terminated after %lld s suspended",
				 (long long)r->suspended_for);
			start_terminate(lc, rv, why);
			continue;
		}
		if (r->last_activity - rv->persisted_activity >= LC_PERSIST_EVERY)
			save(lc, rv);
	}
}

/* ---- startup and shutdown ---- */

/* Re-adopt a VM whose keeper still answers; 1 when adopted. */
static int adopt(struct lc_vm *rv, const char *dir)
{
	char r[KEEPER_REPLY];
	pid_t k = (pid_t)rv->row.engine_pid;
	if (k <= 0 || !keeper_alive(k) || keeper_cmd(dir, "ping", 5000, r, sizeof r) < 0 ||
	    strncmp(r, "ok ", 3) != 0)
		return 0;
	rv->keeper = k;
	return 1;
}

static int recover_one(const struct store_vm *v, void *ctx)
{
	struct lifecycle *lc = ctx;
	char dir[PATH_MAX];
	vm_dir(lc, v->id, dir, sizeof dir);
	struct lc_vm *rv = new_rv(lc, v);
	if (!rv)
		return -1;
	unsigned susp = latest_suspend(dir);
	const char *s = v->state;
	rv->susp_seq = susp;
	if ((!strcmp(s, "RUNNING") || !strcmp(s, "SUSPENDING")) && adopt(rv, dir)) {
		/* An interrupted suspend left the VM running. */
		set_state(rv, "RUNNING",
			  !strcmp(s, "SUSPENDING") ? "suspend interrupted by a hearthd restart"
						   : v->reason);
		save(lc, rv);
		hd_log("%s: re-adopted running VM (keeper %d)", v->id, (int)rv->keeper);
		return 0;
	}
	if ((!strcmp(s, "SUSPENDED") || !strcmp(s, "SUSPENDING")) && susp) {
		if (!strcmp(s, "SUSPENDING") || !rv->row.suspended_at)
			rv->row.suspended_at = hd_now();
		set_state(rv, "SUSPENDED", v->reason);
		rv->row.engine_pid = 0;
		char run[PATH_MAX];
		pathf(run, sizeof run, "%s/run", dir);
		/* A resume cut short by the restart may have left a keeper behind. */
		if (v->engine_pid > 0 && keeper_alive((pid_t)v->engine_pid)) {
			char r[KEEPER_REPLY];
			if (keeper_cmd(dir, "stop", DL_STOP, r, sizeof r) < 0)
				kill((pid_t)v->engine_pid, SIGKILL);
		}
		rm_rf(run);
		save(lc, rv);
		hd_log("%s: suspended VM kept (resumable)", v->id);
		return 0;
	}
	const char *why;
	if (!strcmp(s, "TERMINATING"))
		why = v->reason[0] ? v->reason : "terminated";
	else if (!strcmp(s, "SUSPENDED") || !strcmp(s, "SUSPENDING"))
		why = "the suspend snapshot was missing after a hearthd restart";
	else if (!strcmp(s, "PENDING"))
		why = "hearthd restarted while the VM was starting";
	else
		why = "the VM's engine process ended while hearthd was not running";
	if (v->engine_pid > 0 && keeper_alive((pid_t)v->engine_pid)) {
		char r[KEEPER_REPLY];
		if (keeper_cmd(dir, "stop", DL_STOP, r, sizeof r) < 0)
			kill((pid_t)v->engine_pid, SIGKILL);
	}
	rv->row.terminated_at = hd_now();
	set_state(rv, "TERMINATED", why);
	save(lc, rv);
	rm_rf(dir);
	hd_log("%s: %s", v->id, why);
	drop_vm(lc, rv);
	return 0;
}

void lifecycle_recover(struct lifecycle *lc)
{
	if (store_vm_live(lc->hd->store, recover_one, lc) < 0)
		hd_log("store: recovery scan failed: %s", store_errmsg(lc->hd->store));
}

int lifecycle_create(struct hearthd *hd, struct lifecycle **out, char *err, size_t errlen)
{
	struct lifecycle *lc = calloc(1, sizeof *lc);
	if (!lc) {
		pathf(err, errlen, "out of memory");
		return -1;
	}
	lc->hd = hd;
	lc->eng = vm_engine_find(hd->cfg.engine);
	if (!lc->eng) {
		pathf(err, errlen, "unknown engine %s", hd->cfg.engine);
		free(lc);
		return -1;
	}
	pathf(lc->vms_dir, sizeof lc->vms_dir, "%s/vms", hd->cfg.state_dir);
	pathf(lc->snaps_dir, sizeof lc->snaps_dir, "%s/snapshots", hd->cfg.state_dir);
	if (mkdir_p(lc->vms_dir, 0700) < 0 || mkdir_p(lc->snaps_dir, 0700) < 0) {
		pathf(err, errlen, "%s: %s", lc->vms_dir, strerror(errno));
		free(lc);
		return -1;
	}
	pthread_mutex_init(&lc->mu, NULL);
	pthread_cond_init(&lc->cv, NULL);
	pthread_mutex_init(&lc->snap_mu, NULL);
	pthread_cond_init(&lc->snap_cv, NULL);
	for (int i = 0; i < LC_WORKERS; i++) {
		if (pthread_create(&lc->workers[i], NULL, worker_main, lc) != 0)
			break;
		lc->nworkers++;
	}
	if (!lc->nworkers) {
		pathf(err, errlen, "cannot start worker threads");
		free(lc);
		return -1;
	}
	*out = lc;
	return 0;
}

void lifecycle_destroy(struct lifecycle *lc)
{
	if (!lc)
		return;
	pthread_mutex_lock(&lc->mu);
	lc->stop = 1;
	pthread_cond_broadcast(&lc->cv);
	pthread_mutex_unlock(&lc->mu);
	for (int i = 0; i < lc->nworkers; i++)
		pthread_join(lc->workers[i], NULL);
	lifecycle_drain(lc);
	while (lc->vms) {
		struct lc_vm *rv = lc->vms;
		lc->vms = rv->next;
		free(rv);
	}
	free(lc);
}
