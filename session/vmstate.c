/*
 * vmstate.c - the microVM transition table. Reading it top to bottom is
 * reading the lifecycle: a row per (state, event) that is allowed; anything
 * else is refused (the API answers ConflictException).
 */
#include "session/vmstate.h"

#include <stddef.h>
#include <string.h>

#define T(from, ev, to, act) { VS_##from, EV_##ev, VS_##to, ACT_##act }

static const struct vm_transition table[] = {
	/* starting */
	T(PENDING, RUN_OK, RUNNING, RUNNING),
	T(PENDING, RUN_FAILED, TERMINATED, ENDED),
	T(PENDING, TERMINATE, TERMINATING, START_TERMINATE),

	/* running */
	T(RUNNING, SUSPEND, SUSPENDING, START_SUSPEND),
	T(RUNNING, RESUME, RUNNING, NONE),
	T(RUNNING, TERMINATE, TERMINATING, START_TERMINATE),
	T(RUNNING, DIED, TERMINATING, START_TERMINATE),

	/* suspending: the snapshot becomes current only when complete */
	T(SUSPENDING, SUSPEND, SUSPENDING, NONE),
	T(SUSPENDING, SUSPEND_OK, SUSPENDED, SUSPENDED),
	T(SUSPENDING, SUSPEND_FAILED, RUNNING, NONE),
	T(SUSPENDING, SUSPEND_LOST, SUSPENDED, NONE),
	T(SUSPENDING, SUSPEND_DIED, TERMINATED, ENDED),
	T(SUSPENDING, TERMINATE, TERMINATING, START_TERMINATE),

	/* suspended (a resume keeps the state until the VM runs again) */
	T(SUSPENDED, SUSPEND, SUSPENDED, NONE),
	T(SUSPENDED, RESUME, SUSPENDED, START_RESUME),
	T(SUSPENDED, RESUME_OK, RUNNING, RUNNING),
	T(SUSPENDED, RESUME_FAILED, SUSPENDED, NONE),
	T(SUSPENDED, TERMINATE, TERMINATING, START_TERMINATE),

	/* terminating: a job in flight finishes first, then the terminate runs */
	T(TERMINATING, TERMINATE, TERMINATING, NONE),
	T(TERMINATING, DIED, TERMINATING, NONE),
	T(TERMINATING, RUN_OK, TERMINATING, START_TERMINATE),
	T(TERMINATING, RUN_FAILED, TERMINATED, ENDED),
	T(TERMINATING, SUSPEND_OK, TERMINATING, START_TERMINATE),
	T(TERMINATING, SUSPEND_FAILED, TERMINATING, START_TERMINATE),
	T(TERMINATING, SUSPEND_LOST, TERMINATING, START_TERMINATE),
	T(TERMINATING, SUSPEND_DIED, TERMINATED, ENDED),
	T(TERMINATING, RESUME_OK, TERMINATING, START_TERMINATE),
	T(TERMINATING, RESUME_FAILED, TERMINATING, START_TERMINATE),
	T(TERMINATING, TERMINATE_DONE, TERMINATED, ENDED),

	/* terminated: idempotent end */
	T(TERMINATED, TERMINATE, TERMINATED, NONE),

	/* restart recovery, from whatever the store said */
	T(RUNNING, ADOPT, RUNNING, ADOPTED),
	T(SUSPENDING, ADOPT, RUNNING, ADOPTED),
	T(SUSPENDED, KEEP_SUSPENDED, SUSPENDED, KEPT),
	T(SUSPENDING, KEEP_SUSPENDED, SUSPENDED, KEPT),
	T(PENDING, LOST, TERMINATED, ENDED),
	T(RUNNING, LOST, TERMINATED, ENDED),
	T(SUSPENDING, LOST, TERMINATED, ENDED),
	T(SUSPENDED, LOST, TERMINATED, ENDED),
	T(TERMINATING, LOST, TERMINATED, ENDED),
};

#undef T

static const char *const names[VS_COUNT] = {
	[VS_PENDING] = "PENDING",         [VS_RUNNING] = "RUNNING",
	[VS_SUSPENDING] = "SUSPENDING",   [VS_SUSPENDED] = "SUSPENDED",
	[VS_TERMINATING] = "TERMINATING", [VS_TERMINATED] = "TERMINATED",
};

static const char *const event_names[EV_COUNT] = {
	[EV_SUSPEND] = "suspend",
	[EV_RESUME] = "resume",
	[EV_TERMINATE] = "terminate",
	[EV_DIED] = "died",
	[EV_RUN_OK] = "run-ok",
	[EV_RUN_FAILED] = "run-failed",
	[EV_SUSPEND_OK] = "suspend-ok",
	[EV_SUSPEND_FAILED] = "suspend-failed",
	[EV_SUSPEND_LOST] = "suspend-lost",
	[EV_SUSPEND_DIED] = "suspend-died",
	[EV_RESUME_OK] = "resume-ok",
	[EV_RESUME_FAILED] = "resume-failed",
	[EV_TERMINATE_DONE] = "terminate-done",
	[EV_ADOPT] = "adopt",
	[EV_KEEP_SUSPENDED] = "keep-suspended",
	[EV_LOST] = "lost",
};

const struct vm_transition *vmstate_next(enum vm_state from, enum vm_event event)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].from == from && table[i].event == event)
			return &table[i];
	return NULL;
}

const char *vmstate_name(enum vm_state s)
{
	return s >= 0 && s < VS_COUNT ? names[s] : "UNKNOWN";
}

enum vm_state vmstate_parse(const char *name)
{
	for (int i = 0; i < VS_COUNT; i++)
		if (name && strcmp(name, names[i]) == 0)
			return (enum vm_state)i;
	return VS_INVALID;
}

const char *vmstate_event_name(enum vm_event e)
{
	return e >= 0 && e < EV_COUNT && event_names[e] ? event_names[e] : "?";
}

int vmstate_is_transitional(enum vm_state s)
{
	return s == VS_PENDING || s == VS_SUSPENDING || s == VS_TERMINATING;
}
