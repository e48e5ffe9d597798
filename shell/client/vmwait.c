/* vmwait.c - wait for a VM to settle after an action; see vmwait.h. */
#include "shell/client/vmwait.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define VMWAIT_POLL_MS 250

enum vmwait_step {
	VW_WAIT,     /* on the way */
	VW_RESUMING, /* on the way while the reason says a resume is under way */
	VW_END,      /* not on the way: the action failed (or someone else acted) */
};

/* What a state means while waiting for goal. Not listed: VW_END (the goal
 * itself ends the wait too); an unknown state waits, for a newer server. */
static const struct {
	const char *goal, *state;
	enum vmwait_step step;
} vmwait_table[] = {
	{ "RUNNING", "PENDING", VW_WAIT },
	{ "RUNNING", "SUSPENDED", VW_RESUMING },
	{ "SUSPENDED", "SUSPENDING", VW_WAIT },
	{ "TERMINATED", "PENDING", VW_WAIT },
	{ "TERMINATED", "RUNNING", VW_WAIT },
	{ "TERMINATED", "SUSPENDING", VW_WAIT },
	{ "TERMINATED", "SUSPENDED", VW_WAIT },
	{ "TERMINATED", "TERMINATING", VW_WAIT },
};

static const char *const vmwait_known[] = { "PENDING",	   "RUNNING",	  "SUSPENDING",
					    "SUSPENDED",   "TERMINATING", "TERMINATED" };

static enum vmwait_step vmwait_step(const char *goal, json_object *doc)
{
	const char *st = api_str(doc, "state");
	for (size_t i = 0; i < sizeof vmwait_table / sizeof vmwait_table[0]; i++) {
		if (strcmp(vmwait_table[i].goal, goal) || strcmp(vmwait_table[i].state, st))
			continue;
		if (vmwait_table[i].step == VW_RESUMING)
			return strcmp(api_str(doc, "stateReason"), VMWAIT_RESUMING) ? VW_END : VW_WAIT;
		return vmwait_table[i].step;
	}
	for (size_t i = 0; i < sizeof vmwait_known / sizeof vmwait_known[0]; i++)
		if (!strcmp(vmwait_known[i], st))
			return VW_END;
	return VW_WAIT;
}

int vmwait(const struct api *a, const char *id, const char *goal, int wait_s, json_object **out)
{
	char enc[512], path[640];
	*out = NULL;
	if (api_escape(id, enc, sizeof enc) != 0) {
		fprintf(stderr, "hearth: microVM id too long\n");
		return API_EXIT_FAIL;
	}
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvms/%s", enc);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		json_object *doc = NULL;
		int rc = api_call(a, "GET", path, NULL, &doc);
		if (rc != 0)
			return rc;
		if (vmwait_step(goal, doc) == VW_END) {
			*out = doc;
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= wait_s) {
			fprintf(stderr, "hearth: %s still %s after %d s\n", id, api_str(doc, "state"),
				wait_s);
			json_object_put(doc);
			return API_EXIT_FAIL;
		}
		json_object_put(doc);
		struct timespec pause = { 0, VMWAIT_POLL_MS * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}
