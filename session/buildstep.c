/*
 * buildstep.c - one Dockerfile step in a builder VM (see buildstep.h).
 */
#include "session/buildstep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/dockerfile.h"
#include "protocol/mux.h"
#include "session/buildlog.h"
#include "session/buildvm.h"
#include "session/ctxtar.h"
#include "session/fsutil.h"
#include "vmm/clock.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HELPER_TIMEOUT_MS (5 * 60 * 1000)
#define COPY_TIMEOUT_MS (30 * 60 * 1000)
#define FROM_MAX (8ull << 30) /* bytes of one COPY --from tree */

static int fail(struct buildstep_ctx *c, enum build_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct buildstep_ctx *c, enum build_reason r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	c->reason = r;
	return -1;
}

/* A step's time limit: its own, within what is left of the build. */
static int step_timeout(const struct buildstep_ctx *c, int own)
{
	int left = clock_left(c->deadline_ms);
	return left < own ? left : own;
}

/* The channel failed (not the command): cancelled, timed out, agent gone. */
static int chan_failed(struct buildstep_ctx *c, int cancelled, const char *what, const char *err)
{
	if (cancelled)
		return fail(c, BR_INTERNAL_PLATFORM_ERROR, "cancelled");
	return fail(c, BR_CONTAINER_BUILD_FAILED, "%s: %s", what, err);
}

static void to_log(void *ctx, int stream, const uint8_t *p, size_t n)
{
	(void)stream;
	buildlog_output(ctx, p, n);
}

struct capture {
	char *out;
	size_t cap, have;
};

static void to_buf(void *ctx, int stream, const uint8_t *p, size_t n)
{
	struct capture *k = ctx;
	if (stream != MUX_STREAM_STDOUT)
		return;
	for (size_t i = 0; i < n && k->have + 1 < k->cap; i++)
		k->out[k->have++] = (char)p[i];
	k->out[k->have] = '\0';
}

static void to_err(void *ctx, int stream, const uint8_t *p, size_t n)
{
	struct capture *k = ctx;
	if (stream != MUX_STREAM_STDERR)
		return;
	for (size_t i = 0; i < n && k->have + 1 < k->cap; i++)
		k->out[k->have++] = p[i] == '\n' ? ' ' : (char)p[i];
	k->out[k->have] = '\0';
}

static int set_argv(struct mux_open *o, const char *const *argv, size_t argc)
{
	if (argc == 0 || argc > MUX_MAX_ARGV)
		return -1;
	for (size_t i = 0; i < argc; i++) {
		if (strlen(argv[i]) > MUX_MAX_STR)
			return -1;
		o->argv[i] = mux_cstr(argv[i]);
	}
	o->nargv = (unsigned)argc;
	return 0;
}

static size_t argv_len(const char *const *argv)
{
	size_t n = 0;
	while (argv[n])
		n++;
	return n;
}

int buildstep_capture(struct buildstep_ctx *c, struct buildvm *bv, const char *const *argv,
		      char *out, size_t cap, int *code)
{
	struct mux_open o;
	char err[256];
	int cancelled;
	struct capture k = { out, cap, 0 };
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	out[0] = '\0';
	if (set_argv(&o, argv, argv_len(argv)) < 0)
		return fail(c, BR_INTERNAL_PLATFORM_ERROR, "helper command too long");
	o.env[0] = mux_cstr(DEFAULT_PATH);
	o.nenv = 1;
	struct buildvm_io io = { .in_fd = -1, .out_fd = -1, .out = to_buf, .ctx = &k,
				 .timeout_ms = step_timeout(c, HELPER_TIMEOUT_MS) };
	if (buildvm_run(bv, &o, &io, code, &cancelled, err, sizeof err) < 0)
		return chan_failed(c, cancelled, argv[0], err);
	return 0;
}

int buildstep_exec(struct buildstep_ctx *c, struct buildvm *bv, const char *what,
		   const char *const *argv)
{
	struct mux_open o;
	char err[256];
	int cancelled, code = 0;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	if (set_argv(&o, argv, argv_len(argv)) < 0)
		return fail(c, BR_INTERNAL_PLATFORM_ERROR, "%s: command too long", what);
	o.env[0] = mux_cstr(DEFAULT_PATH);
	o.nenv = 1;
	struct buildvm_io io = { .in_fd = -1, .out_fd = -1, .out = to_log, .ctx = c->log,
				 .timeout_ms = step_timeout(c, HELPER_TIMEOUT_MS) };
	int rc = buildvm_run(bv, &o, &io, &code, &cancelled, err, sizeof err);
	buildlog_output_end(c->log);
	if (rc < 0)
		return chan_failed(c, cancelled, what, err);
	if (code != 0)
		return fail(c, BR_CONTAINER_BUILD_FAILED, "%s exited with code %d", what, code);
	return 0;
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Field 3 (the id) of the entry named name in a passwd or group file of the
 * guest; -1 when there is none. */
static long guest_id(struct buildstep_ctx *c, struct buildvm *bv, const char *file,
		     const char *name, int *err)
{
	char out[64], var[300];
	int code = 0;
	fsutil_pathf(var, sizeof var, "n=%s", name);
	const char *argv[] = { "awk", "-F:", "-v", var, "$1==n{print $3; exit}", file, NULL };
	*err = 0;
	if (buildstep_capture(c, bv, argv, out, sizeof out, &code) < 0) {
		*err = 1;
		return -1;
	}
	return code == 0 && is_number(strtok(out, "\n") ? out : "x") ? strtol(out, NULL, 10) : -1;
}

/* USER as the agent takes it (a name or uid, with an optional :group or
 * :gid); "" = root. */
static int user_for_agent(struct buildstep_ctx *c, const struct df_step *st, char *name,
			  size_t n)
{
	const char *u = st->user ? st->user : "";
	name[0] = '\0';
	if (!u[0] || !strcmp(u, "root") || !strcmp(u, "0") || !strcmp(u, "0:0") ||
	    !strcmp(u, "root:root"))
		return 0;
	if (strlen(u) > MUX_MAX_USER || strlen(u) >= n)
		return fail(c, BR_CONTAINER_BUILD_FAILED, "Dockerfile line %d: USER %s: too long",
			    st->line, u);
	fsutil_pathf(name, n, "%s", u);
	return 0;
}

static int run_step(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st,
		    int idx, int total)
{
	struct mux_open o;
	char err[256], user[MUX_MAX_USER + 1];
	int cancelled, code = 0, has_path = 0;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	if (user_for_agent(c, st, user, sizeof user) < 0)
		return -1;
	if (set_argv(&o, (const char *const *)st->argv, st->argc) < 0)
		return fail(c, BR_CONTAINER_BUILD_FAILED,
			    "Dockerfile line %d: RUN: more than %d arguments or one longer than %d "
			    "bytes",
			    st->line, MUX_MAX_ARGV, MUX_MAX_STR);
	if (st->nenv + 1 > MUX_MAX_ENV)
		return fail(c, BR_CONTAINER_BUILD_FAILED,
			    "Dockerfile line %d: more than %d environment variables", st->line,
			    MUX_MAX_ENV - 1);
	for (size_t i = 0; i < st->nenv; i++) {
		if (strlen(st->env[i]) > MUX_MAX_STR)
			return fail(c, BR_CONTAINER_BUILD_FAILED,
				    "Dockerfile line %d: an environment variable is longer than %d "
				    "bytes",
				    st->line, MUX_MAX_STR);
		o.env[o.nenv++] = mux_cstr(st->env[i]);
		has_path |= !strncmp(st->env[i], "PATH=", 5);
	}
	if (!has_path)
		o.env[o.nenv++] = mux_cstr(DEFAULT_PATH); /* as Docker's default */
	o.cwd = mux_cstr(st->workdir && st->workdir[0] ? st->workdir : "/");
	if (user[0])
		o.user = mux_cstr(user);
	struct buildvm_io io = { .in_fd = -1, .out_fd = -1, .out = to_log, .ctx = c->log,
				 .timeout_ms = step_timeout(c, BUILD_RUN_TIMEOUT_MS) };
	int rc = buildvm_run(bv, &o, &io, &code, &cancelled, err, sizeof err);
	buildlog_output_end(c->log);
	if (rc < 0) {
		char what[96];
		fsutil_pathf(what, sizeof what, "step %d/%d (line %d): RUN", idx, total, st->line);
		return chan_failed(c, cancelled, what, err);
	}
	if (code != 0)
		return fail(c, BR_CONTAINER_BUILD_FAILED,
			    "step %d/%d (line %d): %.200s exited with code %d", idx, total, st->line,
			    st->display, code);
	return 0;
}

static int workdir_step(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st)
{
	const char *mk[] = { "mkdir", "-p", "--", st->workdir, NULL };
	if (buildstep_exec(c, bv, "WORKDIR", mk) < 0)
		return -1;
	if (st->user && st->user[0]) {
		const char *ch[] = { "chown", "--", st->user, st->workdir, NULL };
		return buildstep_exec(c, bv, "WORKDIR chown", ch);
	}
	return 0;
}

/* --chown=user[:group] to numbers, looked up in the guest's files. */
static int chown_ids(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st,
		     long *uid, long *gid)
{
	char u[256], *g;
	int err;
	*uid = *gid = -1;
	if (!st->chown || !st->chown[0])
		return 0;
	fsutil_pathf(u, sizeof u, "%s", st->chown);
	g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	*uid = is_number(u) ? strtol(u, NULL, 10) : guest_id(c, bv, "/etc/passwd", u, &err);
	if (*uid < 0)
		return err ? -1
			   : fail(c, BR_CONTAINER_BUILD_FAILED,
				  "Dockerfile line %d: --chown: no user %s in the image", st->line, u);
	if (!g || !*g) {
		*gid = *uid; /* the reference: the uid's number as the gid */
		return 0;
	}
	*gid = is_number(g) ? strtol(g, NULL, 10) : guest_id(c, bv, "/etc/group", g, &err);
	if (*gid < 0)
		return err ? -1
			   : fail(c, BR_CONTAINER_BUILD_FAILED,
				  "Dockerfile line %d: --chown: no group %s in the image", st->line, g);
	return 0;
}

/* A temp file in the work dir, unlinked at once (only the fd stays). */
static int temp_fd(struct buildstep_ctx *c)
{
	char p[PATH_MAX];
	fsutil_pathf(p, sizeof p, "%s/tmp.XXXXXX", c->work_dir);
	int fd = mkstemp(p);
	if (fd < 0) {
		fail(c, errno == ENOSPC ? BR_DISK_STORAGE_FULL : BR_INTERNAL_PLATFORM_ERROR,
		     "temp file: %s", strerror(errno));
		return -1;
	}
	unlink(p);
	return fd;
}

/* Stream the tar in fd (from its start) into dir of bv with a FILES put. */
static int put_tar(struct buildstep_ctx *c, struct buildvm *bv, int fd, const char *dir,
		   uint8_t flags, const char *what)
{
	struct mux_open o;
	char err[256];
	int cancelled, code = 0;
	struct capture k;
	char out[512];
	k.out = out;
	k.cap = sizeof out;
	k.have = 0;
	out[0] = '\0';
	if (lseek(fd, 0, SEEK_SET) < 0)
		return fail(c, BR_INTERNAL_PLATFORM_ERROR, "%s: %s", what, strerror(errno));
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	o.want_stdin = 1;
	o.files_op = MUX_FILES_PUT;
	o.files_flags = flags;
	o.files_path = mux_cstr(dir);
	/* The put's one error line comes on stderr: kept for the message. */
	struct buildvm_io io = { .in_fd = fd, .out_fd = -1, .out = to_err, .ctx = &k,
				 .timeout_ms = step_timeout(c, COPY_TIMEOUT_MS) };
	if (buildvm_run(bv, &o, &io, &code, &cancelled, err, sizeof err) < 0)
		return chan_failed(c, cancelled, what, err);
	if (code != 0)
		return fail(c, BR_CONTAINER_BUILD_FAILED, "%s into %s failed: %s", what, dir,
			    out[0] ? out : "the agent's put failed");
	return 0;
}

static int copy_context(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st)
{
	char dir[PATH_MAX], msg[512];
	struct ctxtar_opts opt = { .uid = -1, .gid = -1, .chmod = -1,
				   .add_unpack = st->kind == DF_STEP_ADD };
	const char **names = NULL, **bodies = NULL;
	int rc = -1, fd = -1;
	if (chown_ids(c, bv, st, &opt.uid, &opt.gid) < 0)
		return -1;
	if (st->chmod && st->chmod[0])
		opt.chmod = (int)strtol(st->chmod, NULL, 8);
	if (st->ninl) {
		names = calloc(st->ninl, sizeof *names);
		bodies = calloc(st->ninl, sizeof *bodies);
		if (!names || !bodies) {
			fail(c, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < st->ninl; i++) {
			names[i] = st->inl[i].name;
			bodies[i] = st->inl[i].body;
		}
	}
	if ((fd = temp_fd(c)) < 0)
		goto out;
	errno = 0;
	if (ctxtar_copy(fd, c->ctx_dir, c->ign, (const char *const *)st->src, st->nsrc, names,
			bodies, st->ninl, st->dest, &opt, dir, sizeof dir, msg, sizeof msg) < 0) {
		fail(c, errno == ENOSPC ? BR_DISK_STORAGE_FULL : BR_CONTAINER_BUILD_FAILED,
		     "Dockerfile line %d: %s", st->line, msg);
		goto out;
	}
	rc = put_tar(c, bv, fd, dir, MUX_FILES_MULTI, st->kind == DF_STEP_ADD ? "ADD" : "COPY");
out:
	if (fd >= 0)
		close(fd);
	free(names);
	free(bodies);
	return rc;
}

/* COPY --from=stage: each source is got from the stage's VM as a tar, put
 * into a staging directory here, and moved into place with the guest's cp
 * (so the reference's directory/file rules are the guest's own). */
static int copy_from(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st)
{
	static const char script[] =
		"set -e; s=$1; d=$2; b=$3; o=$4\n"
		"if [ -n \"$o\" ]; then chown -R \"$o\" \"$s\"; fi\n"
		"if [ -d \"$s\" ]; then mkdir -p \"$d\"; cp -a \"$s\"/. \"$d\"/\n"
		"elif [ \"${d%/}\" != \"$d\" ] || [ -d \"$d\" ]; then mkdir -p \"$d\"; cp -a \"$s\" \"${d%/}/$b\"\n"
		"else mkdir -p \"$(dirname \"$d\")\"; cp -a \"$s\" \"$d\"; fi\n"
		"rm -rf \"$s\"\n";
	struct buildvm *from = st->from_stage >= 0 && (size_t)st->from_stage < c->nstages
				       ? c->stage_vms[st->from_stage]
				       : NULL;
	if (!from)
		return fail(c, BR_INTERNAL_PLATFORM_ERROR, "Dockerfile line %d: COPY --from: the "
			    "stage was not built", st->line);
	char owner[64] = "";
	long uid, gid;
	if (chown_ids(c, bv, st, &uid, &gid) < 0)
		return -1;
	if (uid >= 0)
		fsutil_pathf(owner, sizeof owner, "%ld:%ld", uid, gid);
	for (size_t i = 0; i < st->nsrc; i++) {
		char src[PATH_MAX];
		/* Relative to the stage's root; a trailing '/' names the same tree. */
		fsutil_pathf(src, sizeof src, "%s%s", st->src[i][0] == '/' ? "" : "/", st->src[i]);
		size_t sl = strlen(src);
		while (sl > 1 && src[sl - 1] == '/')
			src[--sl] = '\0';
		if (strpbrk(src, "*?["))
			return fail(c, BR_CONTAINER_BUILD_FAILED,
				    "Dockerfile line %d: COPY --from: %s: wildcards are not supported "
				    "with --from",
				    st->line, st->src[i]);
		int fd = temp_fd(c);
		if (fd < 0)
			return -1;
		struct mux_open o;
		char err[256];
		int cancelled, code = 0;
		memset(&o, 0, sizeof o);
		o.kind = MUX_KIND_EXEC;
		o.files_op = MUX_FILES_GET;
		o.files_flags = MUX_FILES_RECURSIVE;
		o.files_path = mux_cstr(src);
		struct buildvm_io io = { .in_fd = -1, .out_fd = fd, .out_max = FROM_MAX,
					 .out = to_log, .ctx = c->log,
					 .timeout_ms = step_timeout(c, COPY_TIMEOUT_MS) };
		int rc = buildvm_run(from, &o, &io, &code, &cancelled, err, sizeof err);
		buildlog_output_end(c->log);
		if (rc < 0 || code != 0) {
			close(fd);
			return rc < 0 ? chan_failed(c, cancelled, "COPY --from", err)
				      : fail(c, BR_CONTAINER_BUILD_FAILED,
					     "Dockerfile line %d: COPY --from: %s not found in the stage",
					     st->line, src);
		}
		char stage_dir[64];
		fsutil_pathf(stage_dir, sizeof stage_dir, "/tmp/.hearth-from-%zu", i);
		rc = put_tar(c, bv, fd, stage_dir, 0, "COPY --from");
		close(fd);
		if (rc < 0)
			return -1;
		const char *base = strrchr(src, '/') + 1;
		if (!*base)
			return fail(c, BR_CONTAINER_BUILD_FAILED,
				    "Dockerfile line %d: COPY --from: copying a stage's whole root is "
				    "not supported",
				    st->line);
		const char *argv[] = { "/bin/sh", "-c", script, "sh", stage_dir, st->dest, base,
				       owner, NULL };
		if (buildstep_exec(c, bv, "COPY --from", argv) < 0)
			return -1;
	}
	return 0;
}

int buildstep_run(struct buildstep_ctx *c, struct buildvm *bv, const struct df_step *st, int idx,
		  int total)
{
	switch (st->kind) {
	case DF_STEP_RUN:
		return run_step(c, bv, st, idx, total);
	case DF_STEP_WORKDIR:
		return workdir_step(c, bv, st);
	case DF_STEP_COPY:
	case DF_STEP_ADD:
		return st->from_stage >= 0 ? copy_from(c, bv, st) : copy_context(c, bv, st);
	}
	return fail(c, BR_INTERNAL_PLATFORM_ERROR, "unknown step kind");
}
