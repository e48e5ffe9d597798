/*
 * recover.c - restart recovery: reconcile each stored VM that is not
 * TERMINATED with what is on disk and which keepers still answer, through
 * the same transition table as everything else (EV_ADOPT,
 * EV_KEEP_SUSPENDED, EV_LOST).
 *
 * A keeper is re-adopted when the process listening on the VM's ctl.sock
 * answers ping; its identity (PID by SO_PEERCRED, start time) is then
 * recorded afresh. A PID in the store is never signalled unless its start
 * time proves it is still the keeper that was stored (a stale PID may
 * belong to anyone by now).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/egress_int.h"
#include "session/fsutil.h"
#include "session/lcint.h"
#include "session/lifecycle.h"

#define DL_PING 5000
#define DL_STOP 10000

/* Re-adopt a VM whose keeper still answers; 1 when adopted. */
static int adopt(struct lc_vm *rv, const char *dir)
{
	pid_t kp, ep;
	unsigned long long start;
	if (keeper_ping(dir, DL_PING, &kp, &ep) < 0 || keeper_proc_start(kp, &start, NULL) < 0)
		return 0;
	rv->keeper = (struct keeper_id){ kp, start };
	rv->engine = ep;
	return 1;
}

/* A keeper left behind (a resume or start cut short by the restart): stop
 * it, by its socket or, when that fails, by a signal only if it is proven. */
static void stop_leftover(struct lc_vm *rv, const char *dir)
{
	char r[KEEPER_REPLY];
	pid_t kp, ep;
	unsigned long long start;
	struct keeper_id k = rv->keeper;
	/* Whoever listens on ctl.sock is the keeper, whatever the store says. */
	if (keeper_ping(dir, 1000, &kp, &ep) == 0 && keeper_proc_start(kp, &start, NULL) == 0)
		k = (struct keeper_id){ kp, start };
	else if (!keeper_alive(&k, NULL))
		return;
	if (keeper_cmd(dir, "stop", DL_STOP, r, sizeof r) < 0 && keeper_kill(&k) < 0)
		hd_log("%s: keeper %d not stopped: not provably this VM's keeper", rv->row.id,
		       (int)k.pid);
}

static int recover_one(const struct store_vm *v, void *ctx)
{
	struct lifecycle *lc = ctx;
	char dir[PATH_MAX];
	lc_vm_dir(lc, v->id, dir, sizeof dir);
	struct lc_vm *rv = lc_new_vm(lc, v);
	if (!rv)
		return -1;
	if (rv->st == VS_INVALID) {
		hd_log("%s: unknown stored state \"%s\"", v->id, v->state);
		rv->st = VS_RUNNING; /* recovered below as any running VM */
	}
	rv->susp_seq = vmjobs_latest_suspend(dir);
	enum vm_state s = rv->st;
	if ((s == VS_RUNNING || s == VS_SUSPENDING) && adopt(rv, dir)) {
		struct egress_policy *pol = lc->hd->egress ? malloc(sizeof *pol) : NULL;
		char why[256];
		if (pol && egress_policy_from_connectors(lc->hd->cfg.state_dir, v->egress, pol, why, sizeof why) == 0)
			egress_vm_adopt(lc->hd->egress, v->id, pol); /* its namespace stays */
		free(pol);
		/* An interrupted suspend left the VM running. */
		lc_fire(lc, rv, EV_ADOPT,
			s == VS_SUSPENDING ? "suspend interrupted by a hearthd restart" : NULL, NULL,
			NULL);
		return 0;
	}
	if ((s == VS_SUSPENDED || s == VS_SUSPENDING) && rv->susp_seq) {
		char run[PATH_MAX];
		stop_leftover(rv, dir);
		fsutil_pathf(run, sizeof run, "%s/run", dir);
		fsutil_rm_rf(run);
		lc_fire(lc, rv, EV_KEEP_SUSPENDED,
			strcmp(v->reason, LIFECYCLE_RESUMING) ? v->reason
							      : "resume interrupted by a hearthd restart",
			NULL, NULL);
		return 0;
	}
	const char *why;
	if (s == VS_TERMINATING)
		why = v->reason[0] ? v->reason : "terminated";
	else if (s == VS_SUSPENDED || s == VS_SUSPENDING)
		why = "the suspend snapshot was missing after a hearthd restart";
	else if (s == VS_PENDING)
		why = "hearthd restarted while the VM was starting";
	else
		why = "the VM's engine process ended while hearthd was not running";
	stop_leftover(rv, dir);
	fsutil_rm_rf(dir);
	hd_log("%s: %s", v->id, why);
	char reason[STORE_REASON];
	fsutil_pathf(reason, sizeof reason, "%s", why); /* v may be rv->row's source */
	lc_fire(lc, rv, EV_LOST, reason, NULL, NULL);
	return 0;
}

void recover_all(struct lifecycle *lc)
{
	if (store_vm_live(lc->hd->store, recover_one, lc) < 0)
		hd_log("store: recovery scan failed: %s", store_errmsg(lc->hd->store));
	else if (lc->hd->egress)
		egress_sweep(lc->hd->egress); /* namespaces of VMs that did not survive */
}
