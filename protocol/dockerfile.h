/*
 * dockerfile.h - a Dockerfile turned into a build plan (pure, bounded; no I/O).
 *
 * df_plan_build() parses the text following the Dockerfile reference (every
 * instruction; shell and JSON exec forms, invalid JSON falling back to shell
 * form; line continuation; the `escape` and `syntax` parser directives;
 * heredocs in RUN/COPY/ADD; ARG before FROM; ENV/ARG scoping; word expansion
 * with ${VAR}, ${VAR:-x}, ${VAR:+x}, $VAR and the reference's quoting rules;
 * multi-stage builds with FROM ... AS name and COPY --from) and evaluates it
 * into concrete steps: every value the builder needs is already expanded, so
 * the builder executes and never interprets. Only the stages the last stage
 * depends on (FROM <stage>, COPY --from) are kept, in build order.
 *
 * Unknown instructions, unsupported flags or forms (ADD <url>, RUN --mount,
 * ONBUILD triggers, ...) fail with the 1-based line and a reason: never
 * silently ignored. Instructions with no effect on a microVM image (LABEL,
 * MAINTAINER, VOLUME, HEALTHCHECK, STOPSIGNAL) are parsed and kept in cfg.
 *
 * Every string in a plan is NUL-terminated, heap-allocated and freed by
 * df_plan_free(). Bounds: DF_MAX_TEXT bytes of input, DF_MAX_LINES
 * instructions, DF_MAX_WORD bytes per expanded word.
 */
#ifndef HEARTH_DOCKERFILE_H
#define HEARTH_DOCKERFILE_H

#include <stddef.h>
#include <stdint.h>

#define DF_MAX_TEXT (1024 * 1024)
#define DF_MAX_LINES 2000
#define DF_MAX_WORD (64 * 1024)
#define DF_MAX_STAGES 32

struct df_err {
	int line;       /* 1-based line of the offending instruction, 0: whole file */
	char msg[256];  /* "unknown instruction FOO", "ADD from a URL is not supported", ... */
};

enum df_step_kind {
	DF_STEP_RUN,  /* argv runs in the builder with env, workdir, user */
	DF_STEP_COPY, /* context (or stage) files to dest */
	DF_STEP_ADD,  /* as COPY, but a local tar archive source is unpacked at dest */
	DF_STEP_WORKDIR, /* create workdir (mkdir -p, owned by user) as Docker does */
};

/* A file given inline with a heredoc: COPY <<EOF /dest (name "EOF" unless renamed). */
struct df_inline {
	char *name; /* the heredoc's word: the file name under dest when dest is a directory */
	char *body; /* content, expanded unless the delimiter was quoted; <<- strips leading tabs */
};

struct df_step {
	enum df_step_kind kind;
	int line;       /* 1-based line where the instruction starts */
	char *display;  /* "RUN apt-get update && ..." (continuations joined, as written) */
	/* Common context in effect for this step. */
	char **env;     /* "K=V": ENV and the ARGs in scope (ARG values never reach the image) */
	size_t nenv;
	char *workdir;  /* absolute, "/" by default */
	char *user;     /* as written after expansion ("" = root): "app", "1000:1000", "app:grp" */
	/* RUN: shell form already wrapped in SHELL (default {"/bin/sh","-c",TEXT});
	 * a heredoc RUN <<EOF runs its body as the shell's script (argv = shell + body);
	 * a body starting with "#!" is run as a file: {"/bin/sh","-c",RUNNER,"sh",body}
	 * where RUNNER writes $1 to a mktemp file, makes it executable and runs it;
	 * other heredoc RUNs (RUN python3 <<EOF, several) get the text back with their
	 * bodies for the shell to read: shell + {"python3 <<EOF\n...\nEOF"}. */
	char **argv;
	size_t argc;
	/* COPY/ADD */
	char **src;      /* context-relative (or stage-absolute) paths/patterns, expanded; may hold * ? [] */
	size_t nsrc;
	struct df_inline *inl; /* heredoc sources (COPY <<EOF ...) */
	size_t ninl;
	char *dest;      /* absolute (relative dests resolved against workdir); a trailing '/' kept */
	int from_stage;  /* -1: the build context; else index into df_plan.stages */
	char *chown;     /* --chown value or NULL */
	char *chmod;     /* --chmod value (octal text) or NULL */
	int parents;     /* COPY --parents: keep the sources' parent directories under dest */
};

/* What FROM names. */
struct df_stage {
	char *name;      /* AS name (lower-cased) or NULL */
	char *base;      /* FROM's image after ARG expansion, e.g. "debian:bookworm" */
	int base_stage;  /* FROM <earlier stage>: its index, else -1 */
	int line;
	struct df_step *steps;
	size_t nsteps;
};

/* The image configuration of the last stage (Docker's config). */
struct df_config {
	char **entrypoint; size_t nentrypoint; int entrypoint_set;
	char **cmd; size_t ncmd; int cmd_set;
	/* ENTRYPOINT/CMD combined per the reference's table: what the VM starts
	 * (exec form; a shell-form ENTRYPOINT ignores CMD). argc 0: nothing. */
	char **argv; size_t argc;
	/* ENV only ("K=V", later ones win, no duplicates); a stage FROM an image starts
	 * with PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin as the
	 * Debian and busybox Docker images do (so ENV PATH=/x:$PATH works). */
	char **env; size_t nenv;
	char *workdir;                /* "/" by default */
	char *user;                   /* "" = root */
	uint16_t *ports; size_t nports; /* EXPOSE, in order, deduplicated (tcp; /udp kept out) */
	char *stopsignal;             /* or NULL */
	char **labels; size_t nlabels; /* "K=V" */
	char **shell; size_t nshell;   /* SHELL in effect at the end */
	char *maintainer;             /* MAINTAINER text or NULL */
	char **volumes; size_t nvolumes; /* VOLUME paths, expanded, deduplicated */
	/* HEALTHCHECK as Docker's Test: {"NONE"}, {"CMD", args...} or {"CMD-SHELL", text};
	 * nhealthcheck 0: none. Options as given: "interval=30s", "retries=3", ... */
	char **healthcheck; size_t nhealthcheck;
	char **healthcheck_opts; size_t nhealthcheck_opts;
};

struct df_plan {
	struct df_stage *stages; /* only the stages the last one needs, build order; last = image */
	size_t nstages;
	struct df_config cfg;
	char escape;             /* '\\' or '`' */
};

/*
 * Parse and evaluate. build_args are "K=V" overriding ARG defaults (may be
 * NULL). 0 with *out filled (free with df_plan_free), or -1 with e set (and
 * *out left empty).
 */
int df_plan_build(const char *text, size_t len, const char *const *build_args, size_t nargs,
		  struct df_plan *out, struct df_err *e);
void df_plan_free(struct df_plan *p);

#endif
