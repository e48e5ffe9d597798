/*
 * lifecycle.h - the microVM state machine: run, suspend, resume, terminate,
 * idle policy, maximum duration, hooks, re-adoption after a restart.
 *
 * Everything here is called on the event-loop thread. Engine and agent work
 * runs on worker threads, which report back through a queue and
 * lws_cancel_service(); lifecycle_drain() applies the results. So the event
 * loop never waits on a VM.
 */
#ifndef HEARTH_LIFECYCLE_H
#define HEARTH_LIFECYCLE_H

#include <stddef.h>

#include "protocol/api_json.h"
#include "session/hearthd.h"
#include "session/store.h"

struct lifecycle;

int lifecycle_create(struct hearthd *hd, struct lifecycle **out, char *err, size_t errlen);
/* Stop the workers (waiting for running jobs). VMs keep running in their
 * keepers: a new hearthd re-adopts them. */
void lifecycle_destroy(struct lifecycle *lc);
/* Reconcile the stored VMs with reality at startup (re-adopt or end). */
void lifecycle_recover(struct lifecycle *lc);
/* Apply finished worker jobs (event-loop wake-up). */
void lifecycle_drain(struct lifecycle *lc);
/* Timers: idle suspend, suspended expiry, maximum duration. */
void lifecycle_tick(struct lifecycle *lc);

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

/* Number of VMs with a job in flight (for tests and shutdown). */
int lifecycle_busy(struct lifecycle *lc);

#endif
