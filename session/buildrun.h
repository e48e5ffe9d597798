/*
 * buildrun.h - what the files of one image build share (builder.c runs the
 * queue, the plan and the stages; buildimage.c writes the image): the job,
 * the running build and its failure helpers. Internal to the builder.
 */
#ifndef HEARTH_BUILDRUN_H
#define HEARTH_BUILDRUN_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "protocol/dockerfile.h"
#include "session/buildcache.h"
#include "session/builder.h"
#include "session/buildstep.h"
#include "session/catalog.h"
#include "session/workers.h"

struct buildlog;
struct buildvm;
struct dfignore;

struct bjob {
	struct work_item it; /* first */
	struct bjob *next;
	struct builder *b;
	struct build_spec spec;
	struct build_result res;
	atomic_int phase;
	atomic_int cancel;
};

struct brun {
	struct builder *b;
	struct hearthd *hd;
	struct bjob *j;
	struct buildlog *log;
	char work[PATH_MAX], ctx[PATH_MAX], vdir[PATH_MAX], vtmp[PATH_MAX];
	struct df_plan plan;
	int have_plan;
	struct dfignore *ign;
	uint64_t code_bytes;
	int64_t t0;
	/* per stage */
	struct catalog_entry *base;   /* the managed base each stage starts from */
	char (*key0)[BUILDCACHE_KEY]; /* the stage's first key */
	char (**keys)[BUILDCACHE_KEY]; /* keys[s][i]: after step i */
	char (*final)[BUILDCACHE_KEY]; /* the stage's last key */
	struct buildvm **vms;
	int *needed;                  /* a later COPY --from reads the stage's VM */
	int total, done_steps;
	struct buildstep_ctx sc;
};

static inline int brun_fail(struct brun *r, enum build_reason why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int brun_fail(struct brun *r, enum build_reason why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->sc.msg, sizeof r->sc.msg, fmt, ap);
	va_end(ap);
	r->sc.reason = why;
	return -1;
}

static inline int brun_errno_fail(struct brun *r, const char *what)
{
	return brun_fail(r, errno == ENOSPC ? BR_DISK_STORAGE_FULL : BR_INTERNAL_PLATFORM_ERROR,
		     "%s: %s", what, strerror(errno));
}

static inline int brun_cancelled(struct brun *r)
{
	if (!atomic_load(&r->j->cancel))
		return 0;
	brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "cancelled");
	return 1;
}

/* The image of the last stage (its file, image.json, its snapshot, its
 * validation) into the version directory: 0, or -1 with r's reason. */
int buildimage_finalize(struct brun *r);
/* Is the image file of stage s's end kept in the step cache (so no builder
 * VM is needed to write it)? */
int buildimage_final_cached(struct brun *r, size_t s);

#endif
