/*
 * buildstep.h - executing one step of a Dockerfile plan in a builder VM:
 * RUN through the agent's exec (output to the build log), WORKDIR as
 * mkdir -p (owned by USER), COPY/ADD as a tar of the context (ctxtar.h) put
 * with the agent's FILES builtin, COPY --from a stage through a get from that
 * stage's VM. Worker thread of one build.
 */
#ifndef HEARTH_BUILDSTEP_H
#define HEARTH_BUILDSTEP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "session/artifact.h"
#include "session/store.h"

struct buildlog;
struct buildvm;
struct dfignore;
struct df_step;

#define BUILD_RUN_TIMEOUT_MS (30 * 60 * 1000) /* one RUN step */
#define BUILD_TIMEOUT_MS (2 * 60 * 60 * 1000) /* the whole build */

struct buildstep_ctx {
	struct buildlog *log;
	const char *ctx_dir;          /* the unpacked context */
	const char *work_dir;         /* <state>/builds/<id> (temp files) */
	const struct dfignore *ign;
	const atomic_int *cancel;
	int64_t deadline_ms;          /* clock_ms() deadline of the build */
	struct buildvm **stage_vms;   /* COPY --from: each stage's VM (NULL: not built) */
	size_t nstages;
	/* the failure */
	enum build_reason reason;
	char msg[STORE_REASON];
};

/* Run st (number idx of total, 1-based) in bv. 0, or -1 with c->reason/msg. */
int buildstep_run(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st, int idx,
		  int total);
/* Run argv in bv (as root, cwd /) and keep up to cap-1 bytes of its stdout
 * in out (NUL-terminated). 0 with *code, or -1 with c->reason/msg. */
int buildstep_capture(struct buildstep_ctx *c, struct buildvm *bv, const char *const *argv,
		      char *out, size_t cap, int *code);
/* As buildstep_capture, output to the log; fails unless it exits 0. */
int buildstep_exec(struct buildstep_ctx *c, struct buildvm *bv, const char *what,
		   const char *const *argv);

#endif
