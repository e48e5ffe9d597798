/*
 * lifecycle.h - the microVM state machine: run, suspend, resume, terminate,
 * idle policy, maximum duration, hooks, re-adoption after a restart.
 *
 * Everything here is called on the event-loop thread. Engine and agent work
 * runs on worker threads (workers.h), which report back through a
 * completion queue whose eventfd the event loop watches (lifecycle_watch);
 * lifecycle_drain() applies the results. So the event loop never waits on
 * a VM. Every state change goes through one transition table (vmstate.h).
 */
#ifndef HEARTH_LIFECYCLE_H
#define HEARTH_LIFECYCLE_H

#include <stddef.h>

#include "protocol/api_json.h"
#include "session/hearthd.h"
#include "session/store.h"

struct lifecycle;
struct loop;

int lifecycle_create(struct hearthd *hd, struct lifecycle **out, char *err, size_t errlen);
/* Stop the workers (waiting for running jobs). VMs keep running in their
 * keepers: a new hearthd re-adopts them. */
void lifecycle_destroy(struct lifecycle *lc);
/* Reconcile the stored VMs with reality at startup (re-adopt or end). */
void lifecycle_recover(struct lifecycle *lc);
/* Apply finished worker jobs (event-loop wake-up). */
void lifecycle_drain(struct lifecycle *lc);
/* Have the event loop call lifecycle_drain when a job finishes. */
int lifecycle_watch(struct lifecycle *lc, struct loop *l, char *err, size_t errlen);
/* Timers: idle suspend, suspended expiry, maximum duration. */
void lifecycle_tick(struct lifecycle *lc);

/* May a VM of mem_mib (0: the engine's default) start now? 0, or -1 with
 * ServiceQuotaExceededException (capacity.h). Before RunMicrovm stores it. */
int lifecycle_admit(struct lifecycle *lc, unsigned mem_mib, struct api_err *e);
/* The lifecycle's copy of a VM's row (fresher than the store's: state,
 * reason, activity), or NULL when the VM is not live. */
const struct store_vm *lifecycle_row(struct lifecycle *lc, const char *id);

/* API operations on a stored VM (state checks included). */
int lifecycle_run(struct lifecycle *lc, const struct store_vm *v, struct api_err *e);
int lifecycle_suspend(struct lifecycle *lc, struct store_vm *v, struct api_err *e);
int lifecycle_resume(struct lifecycle *lc, struct store_vm *v, struct api_err *e);
/* The stateReason of a SUSPENDED VM while a resume is under way. */
#define LIFECYCLE_RESUMING "resuming"
int lifecycle_terminate(struct lifecycle *lc, struct store_vm *v, const char *reason,
			struct api_err *e);

/*
 * For the ingress: note endpoint traffic (resets the idle timer), and ask
 * for an automatic resume of a suspended VM whose idle policy allows it.
 * lifecycle_request_resume returns 1 when the VM is RUNNING, 0 when a
 * resume was started or is in progress (ask again later), -1 when the VM
 * cannot be resumed automatically (no such VM, terminated, auto-resume off).
 */
void lifecycle_note_traffic(struct lifecycle *lc, const char *id);
/* The same at most once a second per caller: *last_ms is the caller's stamp. */
void lifecycle_note_traffic_every(struct lifecycle *lc, const char *id, int64_t *last_ms);
int lifecycle_request_resume(struct lifecycle *lc, const char *id);

/* The image snapshots every run restores (image builds build theirs there). */
struct snapcache *lifecycle_snapcache(struct lifecycle *lc);

/* Number of VMs with a job in flight (for tests and shutdown). */
int lifecycle_busy(struct lifecycle *lc);

#endif
