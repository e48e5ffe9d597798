/*
 * builder.c - the image build queue and one build from zip to image version
 * (see builder.h): artifact, plan, stages in builder VMs with the step
 * cache; buildimage.c then writes the image.
 */
#include "session/builder.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/api_ident.h"
#include "protocol/dockerfile.h"
#include "protocol/dockerignore.h"
#include "session/buildcache.h"
#include "session/buildlog.h"
#include "session/buildrun.h"
#include "session/buildstep.h"
#include "session/buildvm.h"
#include "session/catalog.h"
#include "session/ctxtar.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/loop.h"
#include "session/workers.h"
#include "vmm/clock.h"
#include "vmm/engine.h"

#define BUILDER_MIN_MIB_DISK 512 /* a disk base (apt needs room) */
#define BUILDER_MIN_MIB 256

struct builder {
	struct hearthd *hd;
	const struct vm_engine *eng;
	struct workers *w;
	builder_done_fn done;
	struct bjob *jobs; /* event-loop thread only */
	/*
	 * The step cache is shared by concurrent builds. A build looks entries
	 * up and marks what it uses (buildcache_touch) under cache_mu, after
	 * recording when it started in run_start; eviction, at the end of each
	 * build and also under cache_mu, keeps every entry used or made since
	 * the oldest running build started (and so every entry those back
	 * onto). It never waits for other builds to end, so a queue that never
	 * empties still has its cache kept under the cap.
	 */
	pthread_mutex_t cache_mu;
	int64_t run_start[BUILDER_MAX_PARALLEL]; /* ns, 0 = free slot */
};

void builder_log_path(const struct hearthd *hd, const char *build_id, char *out, size_t n)
{
	fsutil_pathf(out, n, "%s/builds/%s.log", hd->cfg.state_dir, build_id);
}

void builder_image_dir(const struct hearthd *hd, const char *image, const char *version,
		       char *out, size_t n)
{
	fsutil_pathf(out, n, "%s/images/%s/%s", hd->cfg.state_dir, image, version);
}

/* ---- one build ---- */

/* A file of the context, bounded: NULL with *len 0 when missing. */
static char *read_bounded(const char *path, size_t max, size_t *len, int *too_big)
{
	*len = 0;
	*too_big = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *p = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			*too_big = 1;
		} else if ((p = malloc((size_t)st.st_size + 1))) {
			ssize_t n = read(fd, p, (size_t)st.st_size);
			if (n < 0) {
				free(p);
				p = NULL;
			} else {
				p[n] = '\0';
				*len = (size_t)n;
			}
		}
	}
	close(fd);
	return p;
}

/* FROM to a managed base name ("busybox", "debian-12"), or NULL. */
static const char *managed_base(const char *from)
{
	static const struct {
		const char *from, *name;
	} names[] = {
		{ "busybox", "busybox" },       { "busybox:latest", "busybox" },
		{ "debian-12", "debian-12" },   { "debian:bookworm", "debian-12" },
		{ "debian:12", "debian-12" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(from, names[i].from))
			return names[i].name;
	if (!strncmp(from, "arn:", 4)) {
		struct api_ident id;
		struct api_err e;
		if (api_ident_image(from, &id, &e) == 0 && id.managed)
			for (int i = 0; catalog_names[i]; i++)
				if (!strcmp(catalog_names[i], id.name))
					return catalog_names[i];
	}
	return NULL;
}

static int plan_stage_bases(struct brun *r)
{
	struct hearthd *hd = r->hd;
	for (size_t s = 0; s < r->plan.nstages; s++) {
		const struct df_stage *st = &r->plan.stages[s];
		if (st->base_stage >= 0) {
			r->base[s] = r->base[st->base_stage];
			continue;
		}
		const char *name = managed_base(st->base);
		if (!name)
			return brun_fail(r, BR_CONTAINER_BUILD_FAILED,
				     "Dockerfile line %d: FROM %s: not a managed base; available: "
				     "busybox, debian-12 (also debian:bookworm, debian:12; Amazon Linux "
				     "is not available in hearth)",
				     st->line, st->base);
		struct api_err e;
		int rc = catalog_load(hd->cfg.image_dir, name, &r->base[s], &e);
		if (rc <= 0)
			return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "base image %s: %s", name,
				     rc < 0 ? e.msg : "not installed");
	}
	return 0;
}

/* The text a step's key covers. */
static int step_text(struct brun *r, const struct df_step *st, struct json_object **out)
{
	struct json_object *o = json_object_new_object();
	struct json_object *a;
#define ADD_LIST(key, v, n)                                                     \
	do {                                                                    \
		a = json_object_new_array();                                    \
		for (size_t k_ = 0; k_ < (n); k_++)                             \
			json_object_array_add(a, json_object_new_string((v)[k_])); \
		json_object_object_add(o, key, a);                              \
	} while (0)
	json_object_object_add(o, "kind", json_object_new_int(st->kind));
	ADD_LIST("argv", st->argv, st->argc);
	ADD_LIST("env", st->env, st->nenv);
	ADD_LIST("src", st->src, st->nsrc);
	json_object_object_add(o, "workdir", json_object_new_string(st->workdir ? st->workdir : ""));
	json_object_object_add(o, "user", json_object_new_string(st->user ? st->user : ""));
	json_object_object_add(o, "dest", json_object_new_string(st->dest ? st->dest : ""));
	json_object_object_add(o, "chown", json_object_new_string(st->chown ? st->chown : ""));
	json_object_object_add(o, "chmod", json_object_new_string(st->chmod ? st->chmod : ""));
	a = json_object_new_array();
	for (size_t k = 0; k < st->ninl; k++) {
		json_object_array_add(a, json_object_new_string(st->inl[k].name));
		json_object_array_add(a, json_object_new_string(st->inl[k].body));
	}
	json_object_object_add(o, "inline", a);
#undef ADD_LIST
	if (st->kind == DF_STEP_COPY || st->kind == DF_STEP_ADD) {
		if (st->from_stage >= 0) {
			/* The stage's whole state stands for what is copied from it. */
			json_object_object_add(o, "from", json_object_new_string(r->final[st->from_stage]));
		} else {
			char hex[65], msg[512];
			const char **names = calloc(st->ninl + 1, sizeof *names);
			const char **bodies = calloc(st->ninl + 1, sizeof *bodies);
			struct ctxtar_opts opt = { .uid = -1, .gid = -1, .chmod = -1,
						   .add_unpack = st->kind == DF_STEP_ADD };
			int rc = -1;
			if (names && bodies) {
				for (size_t k = 0; k < st->ninl; k++) {
					names[k] = st->inl[k].name;
					bodies[k] = st->inl[k].body;
				}
				rc = ctxtar_hash(r->ctx, r->ign, (const char *const *)st->src, st->nsrc,
						 names, bodies, st->ninl, st->dest, &opt, hex, msg,
						 sizeof msg);
			}
			free(names);
			free(bodies);
			if (rc < 0) {
				json_object_put(o);
				return brun_fail(r, BR_CONTAINER_BUILD_FAILED, "Dockerfile line %d: %s",
					     st->line, names ? msg : "out of memory");
			}
			json_object_object_add(o, "content", json_object_new_string(hex));
		}
	}
	*out = o;
	return 0;
}

static int plan_keys(struct brun *r)
{
	for (size_t s = 0; s < r->plan.nstages; s++) {
		const struct df_stage *st = &r->plan.stages[s];
		char desc[PATH_MAX * 3];
		if (st->base_stage >= 0) {
			fsutil_pathf(r->key0[s], BUILDCACHE_KEY, "%s", r->final[st->base_stage]);
		} else {
			const struct api_image *im = &r->base[s].img;
			unsigned mem = r->j->spec.mem_mib ? r->j->spec.mem_mib : im->mem_mib;
			unsigned min = im->disk[0] ? BUILDER_MIN_MIB_DISK : BUILDER_MIN_MIB;
			if (mem < min)
				mem = min;
			fsutil_pathf(desc, sizeof desc,
				     "base %s@%s engine %s mem %u vcpus %u net %s kernel %s initrd %s "
				     "disk %s egress %s",
				     im->name, im->version, r->hd->cfg.engine, mem,
				     r->j->spec.vcpus > 1 ? 2 : 1, r->hd->egress ? "tap" : "none",
				     im->kernel, im->initrd, im->disk, r->j->spec.egress);
			buildcache_key("", desc, strlen(desc), r->key0[s]);
		}
		const char *prev = r->key0[s];
		r->keys[s] = calloc(st->nsteps + 1, sizeof *r->keys[s]);
		if (!r->keys[s])
			return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
		for (size_t i = 0; i < st->nsteps; i++) {
			struct json_object *o = NULL;
			const struct df_step *sp = &st->steps[i];
			if ((sp->kind == DF_STEP_COPY || sp->kind == DF_STEP_ADD) && sp->from_stage >= 0 &&
			    (size_t)sp->from_stage < r->plan.nstages)
				r->needed[sp->from_stage] = 1;
			if (step_text(r, sp, &o) < 0)
				return -1;
			const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
			buildcache_key(prev, t, strlen(t), r->keys[s][i]);
			json_object_put(o);
			prev = r->keys[s][i];
		}
		fsutil_pathf(r->final[s], BUILDCACHE_KEY, "%s", prev);
		r->total += (int)st->nsteps;
	}
	return 0;
}

static void vm_spec(struct brun *r, size_t s, char *run, size_t runlen, char *id, size_t idlen,
		    struct buildvm_spec *vs)
{
	const struct api_image *im = &r->base[s].img;
	unsigned mem = r->j->spec.mem_mib ? r->j->spec.mem_mib : im->mem_mib;
	unsigned min = im->disk[0] ? BUILDER_MIN_MIB_DISK : BUILDER_MIN_MIB;
	fsutil_pathf(run, runlen, "%s/vm-%zu", r->work, s);
	/* Short: it names the VM's network namespace. */
	fsutil_pathf(id, idlen, "bld-%.12s-%zu", r->j->spec.build_id, s);
	*vs = (struct buildvm_spec){
		.id = id,
		.run_dir = run,
		.kernel = im->kernel,
		.initrd = im->initrd,
		.disk = im->disk,
		.cmdline = im->cmdline,
		.mem_mib = mem < min ? min : mem,
		.vcpus = r->j->spec.vcpus > 1 ? 2 : 1,
		.egress = r->j->spec.egress,
		.cancel = &r->j->cancel,
	};
}

/* Is a complete entry stored under key? If so it is marked used, under
 * cache_mu, so no eviction removes it while this build runs. */
static int cache_lookup(struct brun *r, const char *key)
{
	pthread_mutex_lock(&r->b->cache_mu);
	int has = buildcache_has(r->hd->cfg.state_dir, key);
	if (has)
		buildcache_touch(r->hd->cfg.state_dir, key);
	pthread_mutex_unlock(&r->b->cache_mu);
	return has;
}

/* Flush the guest's writes, then snapshot under key (if not there yet). */
static int save_step(struct brun *r, struct buildvm *bv, const char *key)
{
	char dir[PATH_MAX], err[1200];
	if (cache_lookup(r, key))
		return 0; /* made meanwhile by another build (now marked used) */
	const char *sync_argv[] = { "sync", NULL };
	if (buildstep_exec(&r->sc, bv, "sync", sync_argv) < 0)
		return -1;
	fsutil_pathf(dir, sizeof dir, "%s/buildcache", r->hd->cfg.state_dir);
	if (fsutil_mkdir_p(dir, 0700) < 0)
		return brun_errno_fail(r, dir);
	buildcache_dir(r->hd->cfg.state_dir, key, dir, sizeof dir);
	/* A dir left by a failed snapshot may back nothing yet; a complete one
	 * is never touched (others' disks chain to it). */
	if (access(dir, F_OK) == 0) {
		buildlog_line(r->log, "cache: %.12s exists incomplete: not saved", key);
		return 0;
	}
	int64_t t = clock_ms();
	if (buildvm_snapshot(bv, dir, err, sizeof err) < 0) {
		if (strstr(err, "No space"))
			return brun_fail(r, BR_DISK_STORAGE_FULL, "%s", err);
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "step cache: %s", err);
	}
	buildlog_line(r->log, "cache: saved %.12s (%.1f s)", key, (double)(clock_ms() - t) / 1000);
	return 0;
}

static int snapshotted_kind(enum df_step_kind k)
{
	return k == DF_STEP_RUN || k == DF_STEP_COPY || k == DF_STEP_ADD;
}

/* One stage: from the longest cached prefix, the remaining steps. */
static int run_stage(struct brun *r, size_t s, int need_vm)
{
	const struct df_stage *st = &r->plan.stages[s];
	const char *sd = r->hd->cfg.state_dir;
	size_t k = st->nsteps; /* steps covered by the cache */
	while (k > 0 && !cache_lookup(r, r->keys[s][k - 1]))
		k--;
	int from_stage_snap = k == 0 && st->base_stage >= 0;
	char snap[PATH_MAX] = "";
	const char *used = k > 0 ? r->keys[s][k - 1] : from_stage_snap ? r->key0[s] : "";
	if (used[0])
		buildcache_dir(sd, used, snap, sizeof snap);
	if (from_stage_snap)
		cache_lookup(r, used); /* marks it used (the loop marked keys[s][k - 1]) */
	for (size_t i = 0; i < k; i++)
		buildlog_line(r->log, "[%d/%d] CACHED %s", r->done_steps + (int)i + 1, r->total,
			      st->steps[i].display);
	r->done_steps += (int)k;
	if (k == st->nsteps && !need_vm && cache_lookup(r, r->final[s]))
		return 0;
	if (brun_cancelled(r))
		return -1;
	char run[PATH_MAX], id[64], err[1200];
	struct buildvm_spec vs;
	vm_spec(r, s, run, sizeof run, id, sizeof id, &vs);
	int64_t t = clock_ms();
	r->vms[s] = buildvm_start(r->hd, r->b->eng, &vs, snap[0] ? snap : NULL, err, sizeof err);
	if (!r->vms[s])
		return brun_cancelled(r) ? -1 : brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "%s", err);
	buildlog_line(r->log, "builder VM %s (%s %s, %u MiB) in %.1f s", snap[0] ? "restored" : "booted",
		      r->base[s].img.name, snap[0] ? "cache" : "base", vs.mem_mib,
		      (double)(clock_ms() - t) / 1000);
	for (size_t i = k; i < st->nsteps; i++) {
		const struct df_step *sp = &st->steps[i];
		int n = ++r->done_steps;
		if (brun_cancelled(r))
			return -1;
		buildlog_line(r->log, "[%d/%d] %s", n, r->total, sp->display);
		t = clock_ms();
		if (buildstep_run(&r->sc, r->vms[s], sp, n, r->total) < 0)
			return -1;
		buildlog_line(r->log, "[%d/%d] done (%.1f s)", n, r->total,
			      (double)(clock_ms() - t) / 1000);
		if (snapshotted_kind(sp->kind) && i + 1 < st->nsteps &&
		    save_step(r, r->vms[s], r->keys[s][i]) < 0)
			return -1;
	}
	/* The stage's end is always kept: the image's disk, a later FROM <stage>. */
	return save_step(r, r->vms[s], r->final[s]);
}

/* ---- the build ---- */

static int prepare(struct brun *r)
{
	const struct build_spec *sp = &r->j->spec;
	char zip[PATH_MAX], msg[STORE_REASON];
	enum build_reason why = BR_NONE;
	struct artifact_limits lim;
	if (fsutil_mkdir_p(r->work, 0700) < 0)
		return brun_errno_fail(r, r->work);
	if (artifact_resolve(r->hd->cfg.state_dir, sp->artifact_uri, zip, sizeof zip, &why, msg,
			     sizeof msg) < 0)
		return brun_fail(r, why, "%s", msg);
	artifact_limits_default(&lim);
	if (artifact_extract(zip, r->ctx, &lim, &r->code_bytes, &why, msg, sizeof msg) < 0)
		return brun_fail(r, why, "%s", msg);
	buildlog_line(r->log, "context: %llu bytes unpacked", (unsigned long long)r->code_bytes);
	char path[PATH_MAX], err[256];
	size_t len;
	int big;
	fsutil_pathf(path, sizeof path, "%s/.dockerignore", r->ctx);
	char *text = read_bounded(path, DFIGN_MAX_TEXT, &len, &big);
	if (big)
		return brun_fail(r, BR_CONTAINER_BUILD_FAILED, ".dockerignore is larger than %d bytes",
			     DFIGN_MAX_TEXT);
	r->ign = dfignore_parse(text, len, err, sizeof err);
	free(text);
	if (!r->ign)
		return brun_fail(r, BR_CONTAINER_BUILD_FAILED, ".dockerignore: %s", err);
	fsutil_pathf(path, sizeof path, "%s/Dockerfile", r->ctx);
	text = read_bounded(path, DF_MAX_TEXT, &len, &big);
	if (!text)
		return big ? brun_fail(r, BR_CONTAINER_BUILD_FAILED, "the Dockerfile is larger than %d bytes",
				   DF_MAX_TEXT)
			   : brun_fail(r, BR_ARCHIVE_DOCKERFILE_NOT_FOUND, "no Dockerfile at the root");
	struct df_err de = { 0, { 0 } };
	int rc = df_plan_build(text, len, NULL, 0, &r->plan, &de);
	free(text);
	if (rc < 0)
		return de.line ? brun_fail(r, BR_CONTAINER_BUILD_FAILED, "Dockerfile line %d: %s", de.line,
				       de.msg)
			       : brun_fail(r, BR_CONTAINER_BUILD_FAILED, "Dockerfile: %s", de.msg);
	r->have_plan = 1;
	size_t n = r->plan.nstages;
	if (n == 0)
		return brun_fail(r, BR_CONTAINER_BUILD_FAILED, "Dockerfile: no FROM");
	r->base = calloc(n, sizeof *r->base);
	r->key0 = calloc(n, sizeof *r->key0);
	r->keys = calloc(n, sizeof *r->keys);
	r->final = calloc(n, sizeof *r->final);
	r->vms = calloc(n, sizeof *r->vms);
	r->needed = calloc(n, sizeof *r->needed);
	if (!r->base || !r->key0 || !r->keys || !r->final || !r->vms || !r->needed)
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	r->sc.stage_vms = r->vms;
	r->sc.nstages = n;
	return plan_stage_bases(r) < 0 || plan_keys(r) < 0 ? -1 : 0;
}

static void build(struct brun *r)
{
	size_t n;
	if (prepare(r) < 0)
		return;
	n = r->plan.nstages;
	for (size_t s = 0; s < n; s++) {
		int last = s + 1 == n;
		/* Busybox images are their guest's memory: the last stage's VM exports it. */
		int need = r->needed[s] || (last && !r->base[s].img.disk[0] && !buildimage_final_cached(r, s));
		if (run_stage(r, s, need) < 0)
			return;
		/* An earlier stage's VM only serves later COPY --from. */
		if (!r->needed[s] && !last) {
			buildvm_stop(r->vms[s]);
			r->vms[s] = NULL;
		}
	}
	if (brun_cancelled(r))
		return;
	buildimage_finalize(r);
}

static void brun_free(struct brun *r)
{
	size_t n = r->have_plan ? r->plan.nstages : 0;
	for (size_t s = 0; r->vms && s < n; s++)
		buildvm_stop(r->vms[s]);
	for (size_t s = 0; r->keys && s < n; s++)
		free(r->keys[s]);
	free(r->keys);
	free(r->base);
	free(r->key0);
	free(r->final);
	free(r->vms);
	free(r->needed);
	if (r->have_plan)
		df_plan_free(&r->plan);
	dfignore_free(r->ign);
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Record that r runs from now. The second of margin covers file times,
 * which come from a coarser clock than clock_gettime. */
static void run_begin(struct brun *r)
{
	pthread_mutex_lock(&r->b->cache_mu);
	for (int i = 0; i < BUILDER_MAX_PARALLEL; i++)
		if (!r->b->run_start[i]) {
			r->run_slot = i;
			r->b->run_start[i] = wall_ns() - 1000000000;
			break;
		}
	pthread_mutex_unlock(&r->b->cache_mu);
}

/* r's build has ended (its VMs are stopped): the step cache back under its
 * cap, keeping what running builds use. */
static void evict(struct brun *r)
{
	struct buildcache_stats st;
	char err[256];
	pthread_mutex_lock(&r->b->cache_mu);
	if (r->run_slot >= 0)
		r->b->run_start[r->run_slot] = 0;
	int64_t keep = INT64_MAX;
	for (int i = 0; i < BUILDER_MAX_PARALLEL; i++)
		if (r->b->run_start[i] && r->b->run_start[i] < keep)
			keep = r->b->run_start[i];
	int rc = buildcache_evict(r->hd->cfg.state_dir, r->hd->cfg.build_cache_max, keep, &st,
				  err, sizeof err);
	pthread_mutex_unlock(&r->b->cache_mu);
	if (rc < 0)
		buildlog_line(r->log, "cache: %s", err);
	else if (st.evicted)
		buildlog_line(r->log, "cache: removed %u of %u entries (%.1f MiB), %.1f MiB kept "
			      "(--build-cache-max %.1f MiB)", st.evicted, st.entries,
			      (double)st.freed / 1048576, (double)(st.bytes - st.freed) / 1048576,
			      (double)r->hd->cfg.build_cache_max / 1048576);
}

static void job_run(void *ctx, struct work_item *it)
{
	struct bjob *j = (struct bjob *)it;
	struct brun *r = calloc(1, sizeof *r);
	char lp[PATH_MAX], err[256];
	(void)ctx;
	memset(&j->res, 0, sizeof j->res);
	if (!r) {
		j->res.reason = BR_INTERNAL_PLATFORM_ERROR;
		fsutil_pathf(j->res.message, sizeof j->res.message, "out of memory");
		return;
	}
	r->b = j->b;
	r->hd = j->b->hd;
	r->j = j;
	r->t0 = clock_ms();
	r->sc.reason = BR_NONE;
	r->run_slot = -1;
	run_begin(r);
	atomic_store(&j->phase, BUILD_IN_PROGRESS);
	const char *sd = r->hd->cfg.state_dir;
	fsutil_pathf(r->work, sizeof r->work, "%s/builds/%s", sd, j->spec.build_id);
	fsutil_pathf(r->ctx, sizeof r->ctx, "%s/context", r->work);
	builder_image_dir(r->hd, j->spec.image, j->spec.version, r->vdir, sizeof r->vdir);
	fsutil_pathf(r->vtmp, sizeof r->vtmp, "%s.tmp", r->vdir);
	fsutil_pathf(lp, sizeof lp, "%s/builds", sd);
	fsutil_mkdir_p(lp, 0700);
	builder_log_path(r->hd, j->spec.build_id, lp, sizeof lp);
	r->log = buildlog_open(lp, err, sizeof err);
	r->sc.log = r->log;
	r->sc.ctx_dir = r->ctx;
	r->sc.work_dir = r->work;
	r->sc.cancel = &j->cancel;
	r->sc.deadline_ms = clock_deadline(BUILD_TIMEOUT_MS);
	time_t now = time(NULL);
	struct tm tm;
	char ts[64];
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buildlog_line(r->log, "hearth image build %s: %s version %s, started %s", j->spec.build_id,
		      j->spec.image, j->spec.version, ts);
	if (!r->log) {
		brun_fail(r, errno == ENOSPC ? BR_DISK_STORAGE_FULL : BR_INTERNAL_PLATFORM_ERROR,
		      "build log: %s", err);
	} else if (!brun_cancelled(r)) {
		r->sc.ign = NULL;
		build(r);
	}
	brun_free(r);
	fsutil_rm_rf(r->work);
	fsutil_rm_rf(r->vtmp);
	j->res.reason = r->sc.reason;
	fsutil_pathf(j->res.message, sizeof j->res.message, "%s", r->sc.msg);
	double secs = (double)(clock_ms() - r->t0) / 1000;
	if (j->res.reason == BR_NONE) {
		buildlog_line(r->log, "build SUCCESSFUL in %.1f s", secs);
	} else {
		fsutil_rm_rf(r->vdir);
		buildlog_line(r->log, "error: %s", r->sc.msg);
		buildlog_line(r->log, "build FAILED (%s) after %.1f s", build_reason_name(j->res.reason),
			      secs);
	}
	evict(r);
	buildlog_close(r->log);
	free(r);
}

/* ---- the queue ---- */

static void job_done(void *ctx, struct work_item *it)
{
	struct builder *b = ctx;
	struct bjob *j = (struct bjob *)it;
	for (struct bjob **pp = &b->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	if (b->done)
		b->done(b->hd, &j->spec, &j->res);
	free(j);
}

static void drain_cb(void *ctx)
{
	struct builder *b = ctx;
	workers_drain(b->w, job_done, b);
}

struct builder *builder_create(struct hearthd *hd, int max_parallel, builder_done_fn done,
			       char *err, size_t errlen)
{
	struct builder *b = calloc(1, sizeof *b);
	int mu = 0;
	if (!b) {
		fsutil_pathf(err, errlen, "out of memory");
		return NULL;
	}
	b->hd = hd;
	b->done = done;
	b->eng = vm_engine_find(hd->cfg.engine);
	if (!b->eng) {
		fsutil_pathf(err, errlen, "unknown engine %s", hd->cfg.engine);
		goto fail;
	}
	if (pthread_mutex_init(&b->cache_mu, NULL) != 0) {
		fsutil_pathf(err, errlen, "cannot create the step cache lock");
		goto fail;
	}
	mu = 1;
	if (max_parallel > BUILDER_MAX_PARALLEL)
		max_parallel = BUILDER_MAX_PARALLEL;
	b->w = workers_create(max_parallel > 0 ? max_parallel : 1, job_run, b, err, errlen);
	if (!b->w)
		goto fail;
	if (loop_watch(hd->loop, workers_fd(b->w), drain_cb, b, err, errlen) < 0) {
		workers_destroy(b->w, job_done, b);
		goto fail;
	}
	return b;
fail:
	if (mu)
		pthread_mutex_destroy(&b->cache_mu);
	free(b);
	return NULL;
}

void builder_destroy(struct builder *b)
{
	if (!b)
		return;
	for (struct bjob *j = b->jobs; j; j = j->next)
		atomic_store(&j->cancel, 1);
	workers_destroy(b->w, job_done, b);
	pthread_mutex_destroy(&b->cache_mu);
	free(b);
}

static struct bjob *find(const struct builder *b, const char *id)
{
	for (struct bjob *j = b->jobs; j; j = j->next)
		if (!strcmp(j->spec.build_id, id))
			return j;
	return NULL;
}

int builder_submit(struct builder *b, const struct build_spec *s, char *err, size_t errlen)
{
	if (!s->build_id[0] || strchr(s->build_id, '/') || s->build_id[0] == '.' ||
	    !s->image[0] || strchr(s->image, '/') || !s->version[0] || strchr(s->version, '/')) {
		fsutil_pathf(err, errlen, "bad build id, image or version");
		return -1;
	}
	if (find(b, s->build_id)) {
		fsutil_pathf(err, errlen, "build %s is already queued", s->build_id);
		return -1;
	}
	struct bjob *j = calloc(1, sizeof *j);
	if (!j) {
		fsutil_pathf(err, errlen, "out of memory");
		return -1;
	}
	j->b = b;
	j->spec = *s;
	atomic_init(&j->phase, BUILD_PENDING);
	atomic_init(&j->cancel, 0);
	j->next = b->jobs;
	b->jobs = j;
	workers_submit(b->w, &j->it);
	return 0;
}

int builder_cancel(struct builder *b, const char *build_id)
{
	struct bjob *j = find(b, build_id);
	if (!j)
		return -1;
	atomic_store(&j->cancel, 1);
	return 0;
}

enum build_phase builder_phase(const struct builder *b, const char *build_id)
{
	const struct bjob *j = find(b, build_id);
	return j ? (enum build_phase)atomic_load(&j->phase) : BUILD_UNKNOWN;
}
