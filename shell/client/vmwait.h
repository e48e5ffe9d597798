/*
 * vmwait.h - `--wait` after run, suspend, resume and terminate: poll
 * GetMicrovm until the VM reaches the state the action leads to, or until it
 * shows the action failed (a state it will not leave for that one), so a
 * failure ends the wait at once instead of at --wait-timeout.
 */
#ifndef HEARTH_VMWAIT_H
#define HEARTH_VMWAIT_H

#include <json-c/json.h>

#include "shell/client/api.h"

/* hearthd's stateReason of a SUSPENDED VM while a resume is under way; a
 * failed resume replaces it with why (session/lifecycle.h). */
#define VMWAIT_RESUMING "resuming"

/*
 * Poll id until its state is goal ("RUNNING", "SUSPENDED", "TERMINATED") or
 * one from which the action has failed: for RUNNING, TERMINATING, TERMINATED,
 * SUSPENDING, and SUSPENDED once its reason no longer says it is resuming;
 * for SUSPENDED, RUNNING (the suspend failed and the VM runs on),
 * TERMINATING, TERMINATED. Returns 0 with *out the last document (its state
 * tells which), or API_EXIT_FAIL after printing why (an API error, or still
 * waiting after wait_s seconds).
 */
int vmwait(const struct api *a, const char *id, const char *goal, int wait_s, json_object **out);

#endif
