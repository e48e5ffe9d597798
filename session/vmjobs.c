/*
 * vmjobs.c - the worker side of the lifecycle: run, suspend, resume and
 * terminate one VM through its keeper, and report the outcome as an event
 * (job->result) for the event loop's transition table.
 *
 * Files: <state>/vms/<id>/ (0700) holds run/ (the engine's run dir),
 * susp-N/ (suspend snapshots, N counting up; each one's disk is the backing
 * file of the next), agent.sock and ctl.sock (the keeper's), keeper.log.
 * A suspend writes susp-N.tmp/ and renames it to susp-N/ only once the
 * keeper has answered "ok" and the files are synced: a susp-N/ with a
 * manifest is always complete. Nothing here removes a susp-N/ of a VM that
 * is not ending.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "session/egress_int.h"
#include "session/fsutil.h"
#include "session/hooks.h"
#include "session/lcint.h"
#include "session/snapcache.h"
#include "vmm/engine.h"

#define DL_RESTORE 60000
#define DL_SUSPEND 60000
#define DL_STOP 10000

#define seterr(out, ...) fsutil_pathf(out, STORE_REASON, __VA_ARGS__)

/* N of a directory named exactly susp-N, else 0. */
static unsigned susp_number(const char *name)
{
	unsigned n;
	int end = 0;
	if (sscanf(name, "susp-%u%n", &n, &end) != 1 || name[end] != '\0')
		return 0;
	return n;
}

/* Written whole (the manifest comes last) and not spent: its memory is here,
 * or a delta over its image's (vmm/snapfile.h mem_base). */
static int snapshot_complete(const char *dir)
{
	return fsutil_exists(dir, "manifest.json") &&
	       (fsutil_exists(dir, "memory.bin") || fsutil_exists(dir, "memory.delta"));
}

/* The newest complete snapshot (complete=1) or the highest susp-N at all. */
static unsigned scan_suspends(const char *vmdir, int complete)
{
	DIR *d = opendir(vmdir);
	unsigned best = 0;
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned n = susp_number(de->d_name);
		char sub[PATH_MAX];
		if (n <= best)
			continue;
		fsutil_pathf(sub, sizeof sub, "%s/%s", vmdir, de->d_name);
		if (!complete || snapshot_complete(sub))
			best = n;
	}
	closedir(d);
	return best;
}

unsigned vmjobs_latest_suspend(const char *vmdir)
{
	return scan_suspends(vmdir, 1);
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

/* Start a keeper restoring snapdir; it also makes the VM unique (entropy,
 * hostname, clock) before it reports. */
static int restore_into(struct lifecycle *lc, struct lc_job *j, const char *snapdir, int mem_fd)
{
	char run[PATH_MAX], why[STORE_REASON];
	fsutil_pathf(run, sizeof run, "%s/run", j->vmdir);
	fsutil_rm_rf(run); /* leftovers of a keeper that died with its VM */
	j->t_start = hd_now_ms();
	/* A fresh namespace each run and resume: the guest's old connections
	 * have no state there and get resets (session/egress.c). */
	int tap = -1;
	if (lc->hd->egress) {
		struct egress_policy *pol = malloc(sizeof *pol);
		int bad = !pol || egress_policy_from_connectors(lc->hd->cfg.state_dir, j->egress, pol, why, sizeof why) < 0 ||
			  egress_vm_up(lc->hd->egress, j->id, pol, &tap, why, sizeof why) < 0;
		free(pol);
		if (bad) {
			seterr(j->reason, "network: %s", pol ? why : "out of memory");
			return -1;
		}
	}
	int rc = keeper_spawn(lc->hd->exe, lc->hd->cfg.engine, j->vmdir, j->id, snapdir, tap,
			      mem_fd, DL_RESTORE, &j->keeper, &j->engine, why, sizeof why);
	if (tap >= 0)
		close(tap); /* QEMU holds it now */
	j->t_keeper = hd_now_ms();
	if (rc < 0) {
		egress_vm_down(lc->hd->egress, j->id);
		j->keeper = (struct keeper_id){ 0, 0 };
		j->engine = 0;
		seterr(j->reason, "%s", why);
		return -1;
	}
	return 0;
}

/* Stop the VM: ask its keeper, else SIGKILL it, but only when it is provably
 * the keeper (the VM's processes die with it). */
static void stop_vm(struct lifecycle *lc, struct lc_job *j)
{
	char r[KEEPER_REPLY];
	if (j->keeper.pid > 0 && keeper_cmd(j->vmdir, "stop", DL_STOP, r, sizeof r) < 0)
		keeper_kill(&j->keeper);
	keeper_reap(&j->keeper, 2000);
	j->keeper = (struct keeper_id){ 0, 0 };
	j->engine = 0;
	egress_vm_down(lc->hd->egress, j->id);
}

/* The /run hook's body (PROTOCOL.md 1.11): {"microvmId":"<id>",
 * "runHookPayload":"<the caller's payload>"}, the payload as a JSON string,
 * left out when the run gave none. malloc'd (*len bytes), or NULL. */
static char *run_body(const struct lc_job *j, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char *out = NULL;
	if (!o)
		return NULL;
	json_object_object_add(o, "microvmId", json_object_new_string(j->id));
	if (j->payload && j->plen)
		json_object_object_add(o, "runHookPayload",
				       json_object_new_string_len(j->payload, (int)j->plen));
	size_t n = 0;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s && (out = malloc(n + 1))) {
		memcpy(out, s, n + 1);
		*len = n;
	}
	json_object_put(o);
	return out;
}

static int run_hook(struct lc_job *j)
{
	size_t len = 0;
	char *body = run_body(j, &len);
	if (!body) {
		seterr(j->reason, "run hook failed: out of memory");
		return -1;
	}
	int rc = call_hook(j->vmdir, &j->hooks, API_HOOK_RUN, body, len, j->reason);
	free(body);
	return rc;
}

static void do_run(struct lifecycle *lc, struct lc_job *j)
{
	char snap[PATH_MAX];
	j->result = EV_RUN_FAILED;
	if (fsutil_mkdir_p(j->vmdir, 0700) < 0) {
		seterr(j->reason, "%s: %s", j->vmdir, strerror(errno));
		return;
	}
	if (snapcache_get(lc->snaps, &j->img, snap, sizeof snap, j->reason) < 0) {
		fsutil_rm_rf(j->vmdir);
		return;
	}
	/* The image's memory, sealed: shared by all its VMs (snapcache.h). */
	int mem = snapcache_mem_fd(lc->snaps, snap, j->reason);
	if (mem < 0) {
		fsutil_rm_rf(j->vmdir);
		return;
	}
	int rc = restore_into(lc, j, snap, mem);
	if (mem > 0)
		close(mem);
	if (rc < 0 || (j->hooks.enabled[API_HOOK_RUN] && run_hook(j) < 0)) {
		stop_vm(lc, j);
		fsutil_rm_rf(j->vmdir);
		return;
	}
	j->result = EV_RUN_OK;
}

/* The VM ended during a failed suspend: fall back to its newest complete
 * snapshot if it has one (resumable), else it is gone. */
static void suspend_lost(struct lc_job *j, const char *what)
{
	unsigned prev = vmjobs_latest_suspend(j->vmdir);
	if (prev) {
		j->susp_seq = prev;
		j->result = EV_SUSPEND_LOST;
		seterr(j->reason, "suspend failed and the VM's process ended (%s); suspended on "
				  "its previous snapshot", what);
		return;
	}
	j->result = EV_SUSPEND_DIED;
	seterr(j->reason, "suspend failed and the VM ended: %s", what);
	fsutil_rm_rf(j->vmdir); /* TERMINATED: nothing left to keep */
}

static void do_suspend(struct lifecycle *lc, struct lc_job *j)
{
	char tmp[PATH_MAX], final[PATH_MAX], cmd[PATH_MAX + 16], note[STORE_REASON];
	char r[KEEPER_REPLY];
	note[0] = '\0';
	/* A failing /suspend hook does not keep the VM from suspending. */
	if (j->hooks.enabled[API_HOOK_SUSPEND])
		call_hook(j->vmdir, &j->hooks, API_HOOK_SUSPEND, NULL, 0, note);
	/* Above every susp-N there is, complete or spent: each may back a disk. */
	unsigned n = scan_suspends(j->vmdir, 0) + 1;
	fsutil_pathf(final, sizeof final, "%s/susp-%u", j->vmdir, n);
	fsutil_pathf(tmp, sizeof tmp, "%s/susp-%u.tmp", j->vmdir, n);
	fsutil_rm_rf(tmp); /* an earlier attempt's leftovers (never current) */
	fsutil_pathf(cmd, sizeof cmd, "suspend %s", tmp);
	int rc = keeper_cmd(j->vmdir, cmd, DL_SUSPEND + 5000, r, sizeof r);
	int ok = rc == 0 && strcmp(r, "ok") == 0;
	if (rc == 0 && strncmp(r, "err ", 4) == 0 && keeper_alive(&j->keeper, NULL)) {
		/* Disk full, engine error...: the keeper let the VM go on. */
		fsutil_rm_rf(tmp);
		j->result = EV_SUSPEND_FAILED;
		seterr(j->reason, "suspend failed, VM left running: %s", r + 4);
		return;
	}
	if (!ok) {
		pid_t kp, ep;
		if (rc < 0 && keeper_ping(j->vmdir, 2000, &kp, &ep) == 0) {
			fsutil_rm_rf(tmp);
			j->result = EV_SUSPEND_FAILED;
			seterr(j->reason, "suspend failed, VM left running: the keeper did not "
					  "answer within %d s", (DL_SUSPEND + 5000) / 1000);
			return;
		}
		/* The VM is gone or wedged: end what is left of it. */
		stop_vm(lc, j);
	} else {
		keeper_reap(&j->keeper, 2000); /* it exits after a suspend */
		j->keeper = (struct keeper_id){ 0, 0 };
		j->engine = 0;
		egress_vm_down(lc->hd->egress, j->id);
	}
	/* Current only once complete and durable. A snapshot the keeper finished
	 * but could not report is as good as one it did. */
	if (snapshot_complete(tmp) && fsutil_sync_dir(tmp) == 0 &&
	    fsutil_rename_durable(tmp, final) == 0) {
		j->susp_seq = n;
		j->result = EV_SUSPEND_OK;
		if (note[0])
			fsutil_pathf(j->why + strlen(j->why), sizeof j->why - strlen(j->why),
				     " (%s)", note);
		return;
	}
	char what[STORE_REASON];
	if (ok)
		fsutil_pathf(what, sizeof what, "the snapshot could not be made current: %s",
			     strerror(errno));
	else
		fsutil_pathf(what, sizeof what, "%s",
			     rc == 0 ? (strncmp(r, "dead ", 5) == 0 ? r + 5 : r)
				     : "VM keeper did not answer");
	fsutil_rm_rf(tmp);
	suspend_lost(j, what);
}

static void do_resume(struct lifecycle *lc, struct lc_job *j)
{
	char dir[PATH_MAX];
	fsutil_pathf(dir, sizeof dir, "%s/susp-%u", j->vmdir, j->susp_seq);
	j->result = EV_RESUME_FAILED;
	/* Memory written as a delta over the image's: its sealed copy again. */
	int mem = snapcache_base_fd(lc->snaps, dir, j->reason);
	if (mem < 0)
		return;
	int rc = restore_into(lc, j, dir, mem);
	if (mem > 0)
		close(mem);
	if (rc < 0 ||
	    (j->hooks.enabled[API_HOOK_RESUME] &&
	     call_hook(j->vmdir, &j->hooks, API_HOOK_RESUME, NULL, 0, j->reason) < 0)) {
		stop_vm(lc, j);
		return;
	}
	j->result = EV_RESUME_OK;
}

static void do_terminate(struct lifecycle *lc, struct lc_job *j)
{
	char note[STORE_REASON];
	if (keeper_alive(&j->keeper, NULL) && j->hooks.enabled[API_HOOK_TERMINATE])
		call_hook(j->vmdir, &j->hooks, API_HOOK_TERMINATE, NULL, 0, note);
	stop_vm(lc, j);
	fsutil_rm_rf(j->vmdir);
	j->result = EV_TERMINATE_DONE;
}

typedef void (*job_fn)(struct lifecycle *lc, struct lc_job *j);

static const job_fn jobs[] = {
	[OP_RUN] = do_run,
	[OP_SUSPEND] = do_suspend,
	[OP_RESUME] = do_resume,
	[OP_TERMINATE] = do_terminate,
};

void vmjobs_run(void *ctx, struct work_item *it)
{
	struct lc_job *j = (struct lc_job *)it;
	jobs[j->op](ctx, j);
}
