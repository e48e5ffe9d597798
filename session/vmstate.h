/*
 * vmstate.h - the microVM state machine: states, events and the one
 * transition table {from, event, to, action} that the API operations, the
 * timers, worker results and restart recovery all go through
 * (lifecycle.c's vm_fire). Pure: no I/O, no lifecycle types. State names
 * exist only at the edges (SQLite rows and JSON), through vmstate_name and
 * vmstate_parse.
 */
#ifndef HEARTH_VMSTATE_H
#define HEARTH_VMSTATE_H

enum vm_state {
	VS_PENDING,     /* RunMicrovm accepted, the VM is starting */
	VS_RUNNING,
	VS_SUSPENDING,
	VS_SUSPENDED,   /* also while a resume is under way (the API's view) */
	VS_TERMINATING,
	VS_TERMINATED,
	VS_COUNT,
	VS_INVALID = -1
};

enum vm_event {
	/* asked for: API operations and timers */
	EV_SUSPEND,       /* SuspendMicrovm, or the idle timer */
	EV_RESUME,        /* ResumeMicrovm, or an automatic resume on traffic */
	EV_TERMINATE,     /* TerminateMicrovm, maximum duration, suspended too long */
	EV_DIED,          /* the keeper or the engine ended on its own */
	/* worker results */
	EV_RUN_OK,
	EV_RUN_FAILED,
	EV_SUSPEND_OK,
	EV_SUSPEND_FAILED, /* nothing lost: the VM runs on */
	EV_SUSPEND_LOST,   /* the VM ended; its previous snapshot is good */
	EV_SUSPEND_DIED,   /* the VM ended with no good snapshot */
	EV_RESUME_OK,
	EV_RESUME_FAILED,  /* the snapshot stays: still resumable */
	EV_TERMINATE_DONE,
	/* restart recovery */
	EV_ADOPT,         /* the VM's keeper is alive and proven ours */
	EV_KEEP_SUSPENDED, /* a complete suspend snapshot is on disk */
	EV_LOST,          /* nothing to re-adopt or resume */
	EV_COUNT
};

/* What the lifecycle does on a transition (its own dispatch table). */
enum vm_action {
	ACT_NONE,
	ACT_START_SUSPEND, /* queue a suspend job */
	ACT_START_RESUME,  /* queue a resume job (unless one is under way) */
	ACT_START_TERMINATE, /* queue a terminate job (after the job in flight) */
	ACT_RUNNING,       /* a run/resume job's VM runs: record its keeper */
	ACT_SUSPENDED,     /* a suspend job's snapshot is current */
	ACT_ENDED,         /* stamp terminatedAt, forget the VM */
	ACT_ADOPTED,       /* recovery: the keeper is ours again */
	ACT_KEPT,          /* recovery: suspended on its snapshot */
	ACT_COUNT
};

struct vm_transition {
	enum vm_state from;
	enum vm_event event;
	enum vm_state to;
	enum vm_action action;
};

/* The transition for (from, event), or NULL when the event is refused there. */
const struct vm_transition *vmstate_next(enum vm_state from, enum vm_event event);
const char *vmstate_name(enum vm_state s);
/* VS_INVALID for an unknown name. */
enum vm_state vmstate_parse(const char *name);
const char *vmstate_event_name(enum vm_event e);
/* States that are no longer changing for long (API pollers may stop). */
int vmstate_is_transitional(enum vm_state s);

#endif
