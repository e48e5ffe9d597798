/* dockerfile.c - evaluate a lexed Dockerfile into a build plan (see dockerfile.h). */
#include "protocol/dockerfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dfjson.h"
#include "protocol/dflex.h"
#include "protocol/dfword.h"

/* Everything a plan can hold is bounded by DF_MAX_*, and the strings copied
 * into steps by DF_BUDGET: an allocation failure there is fatal, as in the
 * rest of hearth's parsers' callers. */
#define DF_BUDGET (64u * 1024 * 1024)
#define DF_MAX_PORTS 1024
#define DF_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s);
	char *d = xmalloc(n + 1);
	memcpy(d, s, n + 1);
	return d;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *xconcat(const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
	char *d = xmalloc(na + nb + nc + 1);
	memcpy(d, a, na);
	memcpy(d + na, b, nb);
	memcpy(d + na + nb, c, nc + 1);
	return d;
}

/* ---- string vectors ---- */

struct vec {
	char **v;
	size_t n, cap;
};

static void vec_push(struct vec *x, char *s)
{
	if (x->n + 2 > x->cap) {
		x->cap = x->cap ? x->cap * 2 : 8;
		x->v = xrealloc(x->v, x->cap * sizeof *x->v);
	}
	x->v[x->n++] = s;
	x->v[x->n] = NULL;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- variables: ENV, ARG and LABEL tables, insertion ordered ---- */

struct kv {
	char *k, *v; /* v NULL: an ARG declared without a value */
};

struct vars {
	struct kv *a;
	size_t n, cap;
};

static struct kv *vars_find(const struct vars *t, const char *k, size_t kn)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->a[i].k) == kn && !memcmp(t->a[i].k, k, kn))
			return &t->a[i];
	return NULL;
}

static void vars_set(struct vars *t, const char *k, const char *v)
{
	struct kv *e = vars_find(t, k, strlen(k));
	if (e) {
		free(e->v);
		e->v = v ? xstrdup(v) : NULL;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->a = xrealloc(t->a, t->cap * sizeof *t->a);
	}
	t->a[t->n].k = xstrdup(k);
	t->a[t->n].v = v ? xstrdup(v) : NULL;
	t->n++;
}

static void vars_free(struct vars *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->a[i].k);
		free(t->a[i].v);
	}
	free(t->a);
	memset(t, 0, sizeof *t);
}

static void vars_copy(struct vars *d, const struct vars *s)
{
	for (size_t i = 0; i < s->n; i++)
		vars_set(d, s->a[i].k, s->a[i].v);
}

/* ---- evaluation state ---- */

struct stage {
	struct df_stage out;
	size_t capsteps;
	struct vars env, args, labels;
	char *workdir, *user, *stopsignal, *maintainer;
	struct vec shell, entry, cmd, volumes, hc, hcopts;
	int entry_set, entry_shell, cmd_set, cmd_here;
	uint16_t ports[DF_MAX_PORTS];
	size_t nports;
};

struct ctx {
	struct df_err *e;
	char esc;
	const char *const *bargs;
	size_t nbargs;
	struct vars meta; /* ARGs before the first FROM, values final */
	struct stage *st;
	size_t nst;
	size_t budget;
	const struct dflex_instr *in;
};

static int err(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	c->e->line = c->in ? c->in->line : 0;
	va_start(ap, fmt);
	vsnprintf(c->e->msg, sizeof c->e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static struct stage *cur(struct ctx *c)
{
	return c->nst ? &c->st[c->nst - 1] : NULL;
}

static const char *build_arg(const struct ctx *c, const char *k)
{
	size_t kn = strlen(k);
	for (size_t i = 0; i < c->nbargs; i++) {
		const char *b = c->bargs[i];
		if (b && !strncmp(b, k, kn) && b[kn] == '=')
			return b + kn + 1;
	}
	return NULL;
}

/* The platform args BuildKit predefines in the global scope. */
static const char *builtin_arg(const char *k)
{
#if defined(__aarch64__)
#define DF_ARCH "arm64"
#else
#define DF_ARCH "amd64"
#endif
	static const char *const tab[][2] = {
		{ "TARGETPLATFORM", "linux/" DF_ARCH }, { "TARGETOS", "linux" },
		{ "TARGETARCH", DF_ARCH },              { "TARGETVARIANT", "" },
		{ "BUILDPLATFORM", "linux/" DF_ARCH },  { "BUILDOS", "linux" },
		{ "BUILDARCH", DF_ARCH },               { "BUILDVARIANT", "" },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (!strcmp(tab[i][0], k))
			return tab[i][1];
	return NULL;
}

/* ENV wins over ARG of the same name. */
static const char *lookup(void *ctx, const char *name, size_t len)
{
	struct ctx *c = ctx;
	struct stage *s = cur(c);
	struct kv *e;
	if (!s) {
		if ((e = vars_find(&c->meta, name, len)))
			return e->v;
		char k[32];
		if (len >= sizeof k)
			return NULL;
		memcpy(k, name, len);
		k[len] = '\0';
		return builtin_arg(k);
	}
	if ((e = vars_find(&s->env, name, len)))
		return e->v;
	return (e = vars_find(&s->args, name, len)) ? e->v : NULL;
}

static int expand_flags(struct ctx *c, const char *w, int flags, char esc, char **out)
{
	char msg[200];
	if (dfword_expand(w, strlen(w), esc, flags, lookup, c, DF_MAX_WORD, out, msg,
			  sizeof msg) < 0)
		return err(c, "%s: %s", c->in->kw, msg);
	c->budget += strlen(*out);
	if (c->budget > DF_BUDGET) {
		free(*out);
		*out = NULL;
		return err(c, "the Dockerfile expands to more than %u bytes", DF_BUDGET);
	}
	return 0;
}

static int expand(struct ctx *c, const char *w, char **out)
{
	return expand_flags(c, w, 0, c->esc, out);
}

static void upper(char *d, size_t cap, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		d[i] = (char)((s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i]);
	d[i] = '\0';
}

/* ---- flags: leading --name[=value] words ---- */

#define DF_MAX_FLAGS 16

struct flags {
	char **w;
	size_t n;
	const char *name[DF_MAX_FLAGS];
	const char *val[DF_MAX_FLAGS]; /* NULL: given without '=' */
	size_t nf;
	const char *args; /* what follows the flags */
};

static void flags_free(struct flags *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->w[i]);
	free(f->w);
}

static int flags_parse(struct ctx *c, struct flags *f, const char *const *allowed)
{
	const char *p = c->in->rest;
	memset(f, 0, sizeof *f);
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (p[0] != '-' || p[1] != '-')
			break;
		const char *e = p;
		while (*e && *e != ' ' && *e != '\t')
			e++;
		if (e - p == 2) { /* "--" ends the flags */
			p = e;
			break;
		}
		if (f->nf == DF_MAX_FLAGS)
			return err(c, "too many flags");
		char *w = xstrndup(p + 2, (size_t)(e - p - 2));
		char *eq = strchr(w, '=');
		if (eq)
			*eq = '\0';
		f->w = xrealloc(f->w, (f->n + 1) * sizeof *f->w);
		f->w[f->n++] = w;
		f->name[f->nf] = w;
		f->val[f->nf] = eq ? eq + 1 : NULL;
		f->nf++;
		p = e;
		int ok = 0;
		for (size_t i = 0; allowed[i]; i++)
			ok |= !strcmp(allowed[i], w);
		if (!ok) {
			char kw[16];
			upper(kw, sizeof kw, c->in->cmd);
			if (!strcmp(c->in->cmd, "run") &&
			    (!strcmp(w, "mount") || !strcmp(w, "network") || !strcmp(w, "security")))
				return err(c, "RUN --%s is not supported", w);
			if (!strcmp(w, "exclude") || !strcmp(w, "checksum") || !strcmp(w, "keep-git-dir"))
				return err(c, "%s --%s is not supported", kw, w);
			return err(c, "unknown flag --%.64s for %s", w, kw);
		}
	}
	f->args = p;
	return 0;
}

static const char *flag(const struct flags *f, const char *name, int *given)
{
	const char *v = NULL;
	if (given)
		*given = 0;
	for (size_t i = 0; i < f->nf; i++)
		if (!strcmp(f->name[i], name)) {
			v = f->val[i];
			if (given)
				*given = 1;
		}
	return v;
}

/* ---- paths ---- */

/* Clean an absolute path as Go's path.Clean does. */
static char *path_clean(const char *p)
{
	size_t n = strlen(p);
	char *o = xmalloc(n + 2);
	size_t w = 0;
	o[w++] = '/';
	for (size_t i = 0; i < n;) {
		while (i < n && p[i] == '/')
			i++;
		size_t s = i;
		while (i < n && p[i] != '/')
			i++;
		size_t l = i - s;
		if (l == 0 || (l == 1 && p[s] == '.'))
			continue;
		if (l == 2 && p[s] == '.' && p[s + 1] == '.') {
			while (w > 1 && o[w - 1] != '/')
				w--;
			if (w > 1)
				w--;
			continue;
		}
		if (w > 1)
			o[w++] = '/';
		memcpy(o + w, p + s, l);
		w += l;
	}
	o[w] = '\0';
	return o;
}

static char *path_join(const char *dir, const char *p)
{
	if (p[0] == '/')
		return path_clean(p);
	char *j = xconcat(dir, "/", p);
	char *r = path_clean(j);
	free(j);
	return r;
}

/* ---- steps ---- */

static struct df_step *step_new(struct ctx *c, enum df_step_kind kind)
{
	struct stage *s = cur(c);
	if (s->out.nsteps == s->capsteps) {
		s->capsteps = s->capsteps ? s->capsteps * 2 : 8;
		s->out.steps = xrealloc(s->out.steps, s->capsteps * sizeof *s->out.steps);
	}
	struct df_step *st = &s->out.steps[s->out.nsteps++];
	memset(st, 0, sizeof *st);
	st->kind = kind;
	st->line = c->in->line;
	st->from_stage = -1;
	char kw[16];
	upper(kw, sizeof kw, c->in->cmd);
	st->display = c->in->rest[0] ? xconcat(kw, " ", c->in->rest) : xstrdup(kw);
	struct vec env = { 0 };
	for (size_t i = 0; i < s->env.n; i++) {
		vec_push(&env, xconcat(s->env.a[i].k, "=", s->env.a[i].v));
		c->budget += strlen(env.v[env.n - 1]);
	}
	for (size_t i = 0; i < s->args.n; i++) {
		const struct kv *a = &s->args.a[i];
		if (!a->v || vars_find(&s->env, a->k, strlen(a->k)))
			continue;
		vec_push(&env, xconcat(a->k, "=", a->v));
		c->budget += strlen(env.v[env.n - 1]);
	}
	st->env = env.v ? env.v : xmalloc(sizeof(char *));
	st->env[env.n] = NULL;
	st->nenv = env.n;
	st->workdir = xstrdup(s->workdir);
	st->user = xstrdup(s->user);
	c->budget += strlen(st->display) + 64 * 2;
	if (c->budget > DF_BUDGET)
		return err(c, "the Dockerfile expands to more than %u bytes", DF_BUDGET), NULL;
	return st;
}

static void step_free(struct df_step *st)
{
	free(st->display);
	strv_free(st->env, st->nenv);
	free(st->workdir);
	free(st->user);
	strv_free(st->argv, st->argc);
	strv_free(st->src, st->nsrc);
	for (size_t i = 0; i < st->ninl; i++) {
		free(st->inl[i].name);
		free(st->inl[i].body);
	}
	free(st->inl);
	free(st->dest);
	free(st->chown);
	free(st->chmod);
}

static void stage_free(struct stage *s)
{
	free(s->out.name);
	free(s->out.base);
	for (size_t i = 0; i < s->out.nsteps; i++)
		step_free(&s->out.steps[i]);
	free(s->out.steps);
	vars_free(&s->env);
	vars_free(&s->args);
	vars_free(&s->labels);
	free(s->workdir);
	free(s->user);
	free(s->stopsignal);
	free(s->maintainer);
	strv_free(s->shell.v, s->shell.n);
	strv_free(s->entry.v, s->entry.n);
	strv_free(s->cmd.v, s->cmd.n);
	strv_free(s->volumes.v, s->volumes.n);
	strv_free(s->hc.v, s->hc.n);
	strv_free(s->hcopts.v, s->hcopts.n);
	memset(s, 0, sizeof *s);
}

static void vec_set(struct vec *d, char *const *v, size_t n)
{
	strv_free(d->v, d->n);
	memset(d, 0, sizeof *d);
	for (size_t i = 0; i < n; i++)
		vec_push(d, xstrdup(v[i]));
}

static void vec_clear(struct vec *d)
{
	strv_free(d->v, d->n);
	memset(d, 0, sizeof *d);
}

/* The SHELL in effect followed by text. */
static void shell_wrap(const struct stage *s, const char *text, struct vec *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < s->shell.n; i++)
		vec_push(out, xstrdup(s->shell.v[i]));
	vec_push(out, xstrdup(text));
}

/* Exec form (a JSON array of strings) or NULL. */
static int exec_form(const char *args, struct vec *out)
{
	char **v;
	size_t n;
	memset(out, 0, sizeof *out);
	if (dfjson_strarray(args, strlen(args), &v, &n) < 0)
		return 0;
	out->v = v;
	out->n = out->cap = n;
	/* vec_push needs room for n+1: dfjson allocated n+1 exactly */
	if (n == 0) {
		free(v);
		out->v = NULL;
	}
	return 1;
}

/* ---- instructions ---- */

static int words_of(struct ctx *c, const char *args, int quoted, char **store, char ***w,
		    size_t *n)
{
	int r = quoted ? dfword_split_quoted(args, strlen(args), c->esc, store, w, n)
		       : dfword_split_blank(args, strlen(args), store, w, n);
	if (r < 0)
		abort();
	return 0;
}

static int valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int stage_by_name(const struct ctx *c, const char *name, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		if (c->st[i].out.name && !strcmp(c->st[i].out.name, name))
			return (int)i;
	return -1;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static int do_from(struct ctx *c)
{
	static const char *const allowed[] = { "platform", NULL };
	struct flags f;
	char *store, **w, *base = NULL;
	size_t n;
	int rc = -1;
	if (flags_parse(c, &f, allowed) < 0)
		goto out_f;
	words_of(c, f.args, 0, &store, &w, &n);
	if (!(n == 1 || (n == 3 && !strcasecmp(w[1], "as")))) {
		err(c, "FROM requires either one or three arguments (image [AS name])");
		goto out;
	}
	if (c->nst == DF_MAX_STAGES) {
		err(c, "more than %d stages", DF_MAX_STAGES);
		goto out;
	}
	/* FROM sees only the ARGs declared before the first FROM. */
	size_t saved = c->nst;
	c->nst = 0;
	rc = expand(c, w[0], &base);
	c->nst = saved;
	if (rc < 0)
		goto out;
	rc = -1;
	if (!base[0]) {
		err(c, "base name (%s) should not be blank", w[0]);
		goto out;
	}
	char *name = NULL;
	if (n == 3) {
		name = xstrdup(w[2]);
		lower(name);
		if (!valid_stage_name(name)) {
			err(c, "invalid name for build stage: \"%s\"", w[2]);
			free(name);
			goto out;
		}
		if (stage_by_name(c, name, c->nst) >= 0) {
			err(c, "duplicate stage name \"%s\"", name);
			free(name);
			goto out;
		}
	}
	/* Only the host's platform can be built: the builder is a microVM of it. */
	const char *plat = flag(&f, "platform", NULL);
	if (plat) {
		char *ep;
		saved = c->nst;
		c->nst = 0;
		rc = expand(c, plat, &ep);
		c->nst = saved;
		if (rc < 0) {
			free(name);
			goto out;
		}
		rc = -1;
		if (strcmp(ep, builtin_arg("TARGETPLATFORM"))) {
			err(c, "FROM --platform=%.64s: only %s can be built", ep,
			    builtin_arg("TARGETPLATFORM"));
			free(ep);
			free(name);
			goto out;
		}
		free(ep);
	}
	char *lbase = xstrdup(base);
	lower(lbase);
	int bs = stage_by_name(c, lbase, c->nst);
	free(lbase);
	struct stage *s = &c->st[c->nst++];
	memset(s, 0, sizeof *s);
	s->out.name = name;
	s->out.base = base;
	base = NULL;
	s->out.base_stage = bs;
	s->out.line = c->in->line;
	if (bs >= 0) {
		/* A stage built on another inherits its image config, not its ARGs. */
		const struct stage *b = &c->st[bs];
		vars_copy(&s->env, &b->env);
		vars_copy(&s->labels, &b->labels);
		s->workdir = xstrdup(b->workdir);
		s->user = xstrdup(b->user);
		s->stopsignal = b->stopsignal ? xstrdup(b->stopsignal) : NULL;
		s->maintainer = b->maintainer ? xstrdup(b->maintainer) : NULL;
		vec_set(&s->shell, b->shell.v, b->shell.n);
		vec_set(&s->entry, b->entry.v, b->entry.n);
		vec_set(&s->cmd, b->cmd.v, b->cmd.n);
		vec_set(&s->volumes, b->volumes.v, b->volumes.n);
		vec_set(&s->hc, b->hc.v, b->hc.n);
		vec_set(&s->hcopts, b->hcopts.v, b->hcopts.n);
		s->entry_set = b->entry_set;
		s->entry_shell = b->entry_shell;
		s->cmd_set = b->cmd_set;
		memcpy(s->ports, b->ports, sizeof s->ports);
		s->nports = b->nports;
	} else {
		/* The managed bases (Debian, busybox) set PATH as their Docker images do. */
		const char *eq = strchr(DF_DEFAULT_PATH, '=');
		char *k = xstrndup(DF_DEFAULT_PATH, (size_t)(eq - DF_DEFAULT_PATH));
		vars_set(&s->env, k, eq + 1);
		free(k);
		s->workdir = xstrdup("/");
		s->user = xstrdup("");
		vec_push(&s->shell, xstrdup("/bin/sh"));
		vec_push(&s->shell, xstrdup("-c"));
	}
	rc = 0;
out:
	free(base);
	free(store);
	free(w);
out_f:
	flags_free(&f);
	return rc;
}

/* ENV, LABEL (and ARG's K=V words): "K=V ..." or the legacy "K V". */
static int name_vals(struct ctx *c, const char *what, struct vec *keys, struct vec *vals)
{
	char *store, **w;
	size_t n;
	const char *rest = c->in->rest;
	memset(keys, 0, sizeof *keys);
	memset(vals, 0, sizeof *vals);
	words_of(c, rest, 1, &store, &w, &n);
	int rc = 0;
	if (n == 0) {
		rc = err(c, "%s requires at least one argument", what);
	} else if (!strchr(w[0], '=')) {
		const char *sp = rest;
		while (*sp && *sp != ' ' && *sp != '\t')
			sp++;
		const char *v = sp;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!*v) {
			rc = err(c, "%s must have two arguments", what);
		} else {
			char *k = xstrndup(rest, (size_t)(sp - rest)), *ek, *ev;
			if (expand(c, k, &ek) == 0) {
				if (expand(c, v, &ev) == 0) {
					vec_push(keys, ek);
					vec_push(vals, ev);
				} else {
					free(ek);
					rc = -1;
				}
			} else {
				rc = -1;
			}
			free(k);
		}
	} else {
		/* Every word sees the variables as they were before this instruction. */
		for (size_t i = 0; i < n && rc == 0; i++) {
			char *eq = strchr(w[i], '=');
			if (!eq) {
				rc = err(c, "Syntax error - can't find = in \"%.64s\". Must be of the form: name=value", w[i]);
				break;
			}
			*eq = '\0';
			char *ek, *ev;
			if (expand(c, w[i], &ek) < 0) {
				rc = -1;
				break;
			}
			if (expand(c, eq + 1, &ev) < 0) {
				free(ek);
				rc = -1;
				break;
			}
			vec_push(keys, ek);
			vec_push(vals, ev);
		}
	}
	for (size_t i = 0; rc == 0 && i < keys->n; i++)
		if (!keys->v[i][0])
			rc = err(c, "%s names can not be blank", what);
	free(store);
	free(w);
	if (rc < 0) {
		vec_clear(keys);
		vec_clear(vals);
	}
	return rc;
}

static int do_env(struct ctx *c)
{
	struct vec k, v;
	if (name_vals(c, "ENV", &k, &v) < 0)
		return -1;
	for (size_t i = 0; i < k.n; i++)
		vars_set(&cur(c)->env, k.v[i], v.v[i]);
	vec_clear(&k);
	vec_clear(&v);
	return 0;
}

static int do_label(struct ctx *c)
{
	struct vec k, v;
	if (name_vals(c, "LABEL", &k, &v) < 0)
		return -1;
	for (size_t i = 0; i < k.n; i++)
		vars_set(&cur(c)->labels, k.v[i], v.v[i]);
	vec_clear(&k);
	vec_clear(&v);
	return 0;
}

static int do_arg(struct ctx *c)
{
	char *store, **w;
	size_t n;
	struct stage *s = cur(c);
	words_of(c, c->in->rest, 1, &store, &w, &n);
	int rc = 0;
	if (n == 0)
		rc = err(c, "ARG requires at least one argument");
	struct vec keys = { 0 }, vals = { 0 };
	/* In a stage every default sees the variables before this ARG; before
	 * FROM each one is final before the next (as BuildKit's meta args). */
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *eq = strchr(w[i], '=');
		char *ek = NULL, *ev = NULL;
		if (eq)
			*eq = '\0';
		if (expand(c, w[i], &ek) < 0 || (eq && expand(c, eq + 1, &ev) < 0)) {
			free(ek);
			rc = -1;
			break;
		}
		if (!ek[0]) {
			free(ek);
			free(ev);
			rc = err(c, "ARG names can not be blank");
			break;
		}
		const char *b = build_arg(c, ek);
		if (b) {
			free(ev);
			ev = xstrdup(b);
		} else if (!ev) {
			const struct kv *g = s ? vars_find(&c->meta, ek, strlen(ek)) : NULL;
			const char *bi = builtin_arg(ek);
			if (g && g->v)
				ev = xstrdup(g->v);
			else if (bi)
				ev = xstrdup(bi);
		}
		if (!s) {
			vars_set(&c->meta, ek, ev);
			free(ek);
			free(ev);
		} else {
			vec_push(&keys, ek);
			vec_push(&vals, ev); /* NULL: declared, no value */
		}
	}
	for (size_t i = 0; rc == 0 && i < keys.n; i++)
		vars_set(&s->args, keys.v[i], vals.v[i]);
	for (size_t i = 0; i < keys.n; i++) {
		free(keys.v[i]);
		free(vals.v[i]);
	}
	free(keys.v);
	free(vals.v);
	free(store);
	free(w);
	return rc;
}

/* The script of a single "RUN <<EOF" whose body starts with "#!": BuildKit
 * runs it as an executable file; here a temporary file in the builder. */
static const char shebang_runner[] =
	"f=$(mktemp) && printf '%s' \"$1\" > \"$f\" && chmod 755 \"$f\" && \"$f\"; "
	"r=$?; rm -f \"$f\"; exit $r";

static int do_run(struct ctx *c)
{
	static const char *const allowed[] = { NULL };
	struct flags f;
	struct vec argv;
	int rc = -1;
	if (flags_parse(c, &f, allowed) < 0)
		goto out;
	struct stage *s = cur(c);
	const struct dflex_instr *in = c->in;
	if (exec_form(f.args, &argv)) {
		/* exec form: no shell, no expansion by the builder */
	} else if (in->nhd) {
		/* "RUN <<EOF" alone: the body is the script (BuildKit's simple case). */
		struct dflex_heredoc h = { 0 };
		char *store, **w;
		size_t nw;
		words_of(c, f.args, 1, &store, &w, &nw);
		int alone = nw == 1 && dflex_heredoc_word(w[0], &h) == 1;
		free(h.name);
		free(store);
		free(w);
		if (alone && in->nhd == 1) {
			char *body = in->hd[0].chomp ? dflex_chomp(in->hd[0].body)
						     : xstrdup(in->hd[0].body);
			if (!body)
				abort();
			if (!strncmp(body, "#!", 2)) {
				memset(&argv, 0, sizeof argv);
				vec_push(&argv, xstrdup("/bin/sh"));
				vec_push(&argv, xstrdup("-c"));
				vec_push(&argv, xstrdup(shebang_runner));
				vec_push(&argv, xstrdup("sh"));
				vec_push(&argv, body);
			} else {
				shell_wrap(s, body, &argv);
				free(body);
			}
		} else {
			/* The shell gets the heredocs back as written and reads them itself. */
			char *full = xstrdup(f.args);
			for (size_t i = 0; i < in->nhd; i++) {
				char *a = xconcat(full, "\n", in->hd[i].body);
				char *b = xconcat(a, in->hd[i].name, "");
				free(full);
				free(a);
				full = b;
			}
			shell_wrap(s, full, &argv);
			free(full);
		}
	} else {
		if (!f.args[0]) {
			err(c, "RUN requires at least one argument");
			goto out;
		}
		shell_wrap(s, f.args, &argv);
	}
	if (argv.n == 0) {
		free(argv.v);
		err(c, "RUN requires at least one argument");
		goto out;
	}
	struct df_step *st = step_new(c, DF_STEP_RUN);
	if (!st) {
		strv_free(argv.v, argv.n);
		goto out;
	}
	st->argv = argv.v;
	st->argc = argv.n;
	rc = 0;
out:
	flags_free(&f);
	return rc;
}

/* CMD and ENTRYPOINT: exec form as is, shell form wrapped in the SHELL. */
static int cmdline(struct ctx *c, const char *what, struct vec *out, int *shell_form)
{
	const char *a = c->in->rest;
	*shell_form = 0;
	if (exec_form(a, out))
		return 0;
	if (!a[0])
		return err(c, "%s requires at least one argument", what);
	*shell_form = 1;
	shell_wrap(cur(c), a, out);
	return 0;
}

static int do_cmd(struct ctx *c)
{
	struct stage *s = cur(c);
	struct vec v;
	int sh;
	if (cmdline(c, "CMD", &v, &sh) < 0)
		return -1;
	vec_clear(&s->cmd);
	s->cmd = v;
	s->cmd_set = s->cmd_here = 1;
	return 0;
}

static int do_entrypoint(struct ctx *c)
{
	struct stage *s = cur(c);
	struct vec v;
	int sh;
	if (cmdline(c, "ENTRYPOINT", &v, &sh) < 0)
		return -1;
	vec_clear(&s->entry);
	s->entry = v;
	s->entry_set = 1;
	s->entry_shell = sh;
	/* ENTRYPOINT drops a CMD inherited from the base, not one of this stage. */
	if (!s->cmd_here) {
		vec_clear(&s->cmd);
		s->cmd_set = 0;
	}
	return 0;
}

static int do_shell(struct ctx *c)
{
	struct vec v;
	if (!exec_form(c->in->rest, &v))
		return err(c, "SHELL requires the arguments to be in JSON form");
	if (v.n == 0)
		return err(c, "SHELL requires at least one argument");
	vec_clear(&cur(c)->shell);
	cur(c)->shell = v;
	return 0;
}

static int do_workdir(struct ctx *c)
{
	struct stage *s = cur(c);
	char *p;
	if (!c->in->rest[0])
		return err(c, "WORKDIR requires exactly one argument");
	if (expand(c, c->in->rest, &p) < 0)
		return -1;
	if (!p[0]) {
		free(p);
		return err(c, "WORKDIR cannot be empty");
	}
	char *w = path_join(s->workdir, p);
	free(p);
	free(s->workdir);
	s->workdir = w;
	return step_new(c, DF_STEP_WORKDIR) ? 0 : -1;
}

static int do_user(struct ctx *c)
{
	struct stage *s = cur(c);
	char *u;
	if (!c->in->rest[0])
		return err(c, "USER requires exactly one argument");
	if (expand(c, c->in->rest, &u) < 0)
		return -1;
	if (!u[0] || strchr(u, ' ') || strchr(u, '\t')) {
		free(u);
		return err(c, "USER requires exactly one argument (name[:group] or uid[:gid])");
	}
	free(s->user);
	s->user = u;
	return 0;
}

static int is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8) ||
	       !strncasecmp(s, "git://", 6) || !strncasecmp(s, "git@", 4) ||
	       !strncasecmp(s, "ssh://", 6);
}

static int is_octal_mode(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 4)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '7')
			return 0;
	return 1;
}

static int copy_from(struct ctx *c, const char *v)
{
	size_t me = c->nst - 1;
	char *name;
	if (expand(c, v, &name) < 0)
		return -2;
	int idx = -1;
	if (name[0] && strspn(name, "0123456789") == strlen(name)) {
		if (strlen(name) < 4)
			idx = atoi(name);
		if (idx < 0 || (size_t)idx >= me) {
			err(c, "COPY --from=%s: no earlier stage with that index", name);
			free(name);
			return -2;
		}
	} else {
		lower(name);
		idx = stage_by_name(c, name, me);
		if (idx < 0) {
			if (cur(c)->out.name && !strcmp(cur(c)->out.name, name))
				err(c, "COPY --from=%s: a stage cannot copy from itself", name);
			else
				err(c, "COPY --from=%s: not an earlier stage of this Dockerfile "
				       "(copying from an image is not supported)", name);
			free(name);
			return -2;
		}
	}
	free(name);
	return idx;
}

static int do_copy_add(struct ctx *c, int add)
{
	static const char *const copy_flags[] = { "from", "chown", "chmod", "link", "parents", NULL };
	static const char *const add_flags[] = { "chown", "chmod", "link", NULL };
	const char *what = add ? "ADD" : "COPY";
	struct flags f;
	struct vec args = { 0 };
	char *store = NULL, **w = NULL;
	int rc = -1, json = 0;
	if (flags_parse(c, &f, add ? add_flags : copy_flags) < 0)
		goto out;
	json = exec_form(f.args, &args);
	if (!json) {
		size_t n;
		words_of(c, f.args, 0, &store, &w, &n);
		args.v = w;
		args.n = n;
	}
	if (args.n < 2) {
		err(c, "%s requires at least two arguments, but only %zu provided", what, args.n);
		goto out;
	}
	struct stage *s = cur(c);
	struct df_step tmp;
	memset(&tmp, 0, sizeof tmp);
	tmp.from_stage = -1;
	struct vec src = { 0 };
	struct df_inline *inl = NULL;
	size_t ninl = 0, hd = 0;
	const char *destw = args.v[args.n - 1];
	struct dflex_heredoc h;
	if (!json && dflex_heredoc_word(destw, &h) == 1) {
		free(h.name);
		err(c, "%s cannot have a heredoc as a destination", what);
		goto out;
	}
	for (size_t i = 0; i + 1 < args.n; i++) {
		const char *a = args.v[i];
		if (!json && dflex_heredoc_word(a, &h) == 1) {
			free(h.name);
			if (hd >= c->in->nhd) {
				/* dflex splits with quotes, COPY on blanks: "a\\ <<X" differs */
				err(c, "%s: heredoc %.64s has no body", what, a);
				goto bad;
			}
			const struct dflex_heredoc *d = &c->in->hd[hd++];
			char *body = d->chomp ? dflex_chomp(d->body) : xstrdup(d->body), *eb;
			if (!body)
				abort();
			if (d->expand) {
				/* Heredoc bodies expand with '\' and no quote processing. */
				int r = expand_flags(c, body, DFWORD_NOQUOTES, '\\', &eb);
				free(body);
				if (r < 0)
					goto bad;
				body = eb;
			}
			inl = xrealloc(inl, (ninl + 1) * sizeof *inl);
			inl[ninl].name = xstrdup(d->name);
			inl[ninl].body = body;
			ninl++;
			continue;
		}
		char *e;
		if (expand(c, a, &e) < 0)
			goto bad;
		if (add && is_url(e)) {
			free(e);
			err(c, "ADD from a URL is not supported");
			goto bad;
		}
		vec_push(&src, e);
	}
	if (hd != c->in->nhd) {
		err(c, "%s: a heredoc body belongs to no source", what);
		goto bad;
	}
	char *dest;
	if (expand(c, destw, &dest) < 0)
		goto bad;
	size_t dl = strlen(dest);
	int dir = dl == 0 || dest[dl - 1] == '/' || !strcmp(dest, ".") ||
		  (dl >= 2 && !strcmp(dest + dl - 2, "/."));
	char *abs = path_join(s->workdir, dest);
	free(dest);
	if (dir && strcmp(abs, "/")) {
		char *d2 = xconcat(abs, "/", "");
		free(abs);
		abs = d2;
	}
	tmp.dest = abs;
	int given;
	const char *v = flag(&f, "from", &given);
	if (given) {
		if (!v || !v[0]) {
			err(c, "COPY --from needs a stage name or index");
			goto bad;
		}
		int idx = copy_from(c, v);
		if (idx < 0)
			goto bad;
		tmp.from_stage = idx;
	}
	v = flag(&f, "chown", &given);
	if (given) {
		if (!v || !v[0]) {
			err(c, "%s --chown needs a value", what);
			goto bad;
		}
		if (expand(c, v, &tmp.chown) < 0)
			goto bad;
	}
	v = flag(&f, "chmod", &given);
	if (given) {
		if (!v || expand(c, v, &tmp.chmod) < 0 || !is_octal_mode(tmp.chmod)) {
			if (!c->e->msg[0] || v)
				err(c, "%s --chmod=%s: only octal modes (e.g. 0755) are supported", what,
				    v ? v : "");
			goto bad;
		}
	}
	v = flag(&f, "parents", &given);
	if (given)
		tmp.parents = !v || !strcasecmp(v, "true");
	struct df_step *st = step_new(c, add ? DF_STEP_ADD : DF_STEP_COPY);
	if (!st)
		goto bad;
	st->src = src.v ? src.v : xmalloc(sizeof(char *));
	st->src[src.n] = NULL;
	st->nsrc = src.n;
	st->inl = inl;
	st->ninl = ninl;
	st->dest = tmp.dest;
	st->from_stage = tmp.from_stage;
	st->chown = tmp.chown;
	st->chmod = tmp.chmod;
	st->parents = tmp.parents;
	rc = 0;
	goto out;
bad:
	strv_free(src.v, src.n);
	for (size_t i = 0; i < ninl; i++) {
		free(inl[i].name);
		free(inl[i].body);
	}
	free(inl);
	free(tmp.dest);
	free(tmp.chown);
	free(tmp.chmod);
out:
	if (json)
		strv_free(args.v, args.n);
	free(store);
	free(w);
	flags_free(&f);
	return rc;
}

static int do_copy(struct ctx *c)
{
	return do_copy_add(c, 0);
}

static int do_add(struct ctx *c)
{
	return do_copy_add(c, 1);
}

static int add_port(struct ctx *c, struct stage *s, unsigned p)
{
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i] == p)
			return 0;
	if (s->nports == DF_MAX_PORTS)
		return err(c, "EXPOSE: more than %d ports", DF_MAX_PORTS);
	s->ports[s->nports++] = (uint16_t)p;
	return 0;
}

static int parse_port(const char *s, const char **end, unsigned *p)
{
	unsigned v = 0;
	const char *q = s;
	while (*q >= '0' && *q <= '9' && q - s < 6)
		v = v * 10 + (unsigned)(*q++ - '0');
	if (q == s || v == 0 || v > 65535)
		return -1;
	*p = v;
	*end = q;
	return 0;
}

/* EXPOSE port[/proto] or a range lo-hi[/proto]; ranges are expanded. */
static int do_expose(struct ctx *c)
{
	char *store, **w;
	size_t n;
	struct stage *s = cur(c);
	words_of(c, c->in->rest, 0, &store, &w, &n);
	int rc = 0;
	if (n == 0)
		rc = err(c, "EXPOSE requires at least one argument");
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *e;
		if (expand(c, w[i], &e) < 0) {
			rc = -1;
			break;
		}
		const char *q;
		unsigned lo, hi;
		if (parse_port(e, &q, &lo) < 0) {
			rc = err(c, "EXPOSE: invalid port \"%.32s\"", e);
		} else {
			hi = lo;
			if (*q == '-' && (parse_port(q + 1, &q, &hi) < 0 || hi < lo))
				rc = err(c, "EXPOSE: invalid port range \"%.32s\"", e);
			const char *proto = *q == '/' ? q + 1 : q;
			if (rc == 0 && *q && *q != '/')
				rc = err(c, "EXPOSE: invalid port \"%.32s\"", e);
			else if (rc == 0 && *proto && strcasecmp(proto, "tcp") &&
				 strcasecmp(proto, "udp") && strcasecmp(proto, "sctp"))
				rc = err(c, "EXPOSE: invalid protocol \"%.16s\"", proto);
			/* Only TCP ports are kept: the platform waits on and routes TCP. */
			if (rc == 0 && (!*proto || !strcasecmp(proto, "tcp")))
				for (unsigned p = lo; p <= hi && rc == 0; p++)
					rc = add_port(c, s, p);
		}
		free(e);
	}
	free(store);
	free(w);
	return rc;
}

static int do_volume(struct ctx *c)
{
	struct stage *s = cur(c);
	struct vec v;
	char *store = NULL, **w = NULL;
	int json = exec_form(c->in->rest, &v), rc = 0;
	if (!json) {
		size_t n;
		words_of(c, c->in->rest, 0, &store, &w, &n);
		v.v = w;
		v.n = n;
	}
	if (v.n == 0)
		rc = err(c, "VOLUME requires at least one argument");
	for (size_t i = 0; i < v.n && rc == 0; i++) {
		char *e;
		if (expand(c, v.v[i], &e) < 0) {
			rc = -1;
			break;
		}
		if (!e[0]) {
			free(e);
			rc = err(c, "VOLUME specified can not be an empty string");
			break;
		}
		int dup = 0;
		for (size_t k = 0; k < s->volumes.n; k++)
			dup |= !strcmp(s->volumes.v[k], e);
		if (dup)
			free(e);
		else
			vec_push(&s->volumes, e);
	}
	if (json)
		strv_free(v.v, v.n);
	free(store);
	free(w);
	return rc;
}

static int do_stopsignal(struct ctx *c)
{
	char *v;
	if (!c->in->rest[0])
		return err(c, "STOPSIGNAL requires exactly one argument");
	if (expand(c, c->in->rest, &v) < 0)
		return -1;
	free(cur(c)->stopsignal);
	cur(c)->stopsignal = v;
	return 0;
}

static int do_maintainer(struct ctx *c)
{
	if (!c->in->rest[0])
		return err(c, "MAINTAINER requires exactly one argument");
	free(cur(c)->maintainer);
	cur(c)->maintainer = xstrdup(c->in->rest);
	return 0;
}

static int do_healthcheck(struct ctx *c)
{
	static const char *const allowed[] = { "interval", "timeout", "start-period",
					       "start-interval", "retries", NULL };
	struct stage *s = cur(c);
	struct flags f;
	int rc = -1;
	if (flags_parse(c, &f, allowed) < 0)
		goto out;
	const char *a = f.args;
	size_t k = strcspn(a, " \t");
	const char *rest = a + k;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	struct vec test = { 0 }, opts = { 0 };
	if (k == 4 && !strncasecmp(a, "NONE", 4)) {
		if (*rest || f.nf) {
			err(c, "HEALTHCHECK NONE takes no arguments or options");
			goto out;
		}
		vec_push(&test, xstrdup("NONE"));
	} else if (k == 3 && !strncasecmp(a, "CMD", 3)) {
		struct vec ex;
		if (exec_form(rest, &ex)) {
			test.v = xmalloc((ex.n + 2) * sizeof *test.v);
			test.cap = ex.n + 2;
			test.v[test.n++] = xstrdup("CMD");
			for (size_t i = 0; i < ex.n; i++)
				test.v[test.n++] = ex.v[i];
			test.v[test.n] = NULL;
			free(ex.v);
		} else if (*rest) {
			vec_push(&test, xstrdup("CMD-SHELL"));
			vec_push(&test, xstrdup(rest));
		} else {
			err(c, "HEALTHCHECK CMD requires a command");
			goto out;
		}
	} else {
		err(c, "unknown type \"%.*s\" in HEALTHCHECK (try CMD or NONE)", (int)(k > 32 ? 32 : k), a);
		goto out;
	}
	for (size_t i = 0; i < f.nf; i++) {
		if (!f.val[i] || !f.val[i][0]) {
			strv_free(test.v, test.n);
			strv_free(opts.v, opts.n);
			err(c, "HEALTHCHECK --%s needs a value", f.name[i]);
			goto out;
		}
		vec_push(&opts, xconcat(f.name[i], "=", f.val[i]));
	}
	vec_clear(&s->hc);
	vec_clear(&s->hcopts);
	s->hc = test;
	s->hcopts = opts;
	rc = 0;
out:
	flags_free(&f);
	return rc;
}

static int do_onbuild(struct ctx *c)
{
	return err(c, "ONBUILD is not supported");
}

struct instr {
	const char *name;
	int (*fn)(struct ctx *);
};

static const struct instr instrs[] = {
	{ "from", do_from },	   { "arg", do_arg },
	{ "env", do_env },	   { "label", do_label },
	{ "run", do_run },	   { "cmd", do_cmd },
	{ "entrypoint", do_entrypoint }, { "shell", do_shell },
	{ "workdir", do_workdir }, { "user", do_user },
	{ "copy", do_copy },	   { "add", do_add },
	{ "expose", do_expose },   { "volume", do_volume },
	{ "stopsignal", do_stopsignal }, { "maintainer", do_maintainer },
	{ "healthcheck", do_healthcheck }, { "onbuild", do_onbuild },
};

static int dispatch(struct ctx *c)
{
	const struct dflex_instr *in = c->in;
	for (size_t i = 0; i < sizeof instrs / sizeof instrs[0]; i++) {
		if (strcmp(instrs[i].name, in->cmd))
			continue;
		/* instrs[0..1] are FROM and ARG, the only ones allowed before a stage */
		if (!c->nst && i > 1) {
			char kw[16];
			upper(kw, sizeof kw, in->cmd);
			return err(c, "%s before the first FROM (only ARG may come before FROM)", kw);
		}
		if (in->nhd && strcmp(in->cmd, "run") && strcmp(in->cmd, "copy") &&
		    strcmp(in->cmd, "add"))
			return err(c, "heredocs are only supported in RUN, COPY and ADD");
		return instrs[i].fn(c);
	}
	char kw[24];
	upper(kw, sizeof kw, in->kw);
	return err(c, "unknown instruction %s", kw);
}

/* ---- the plan ---- */

static char **vars_kv(const struct vars *t, size_t *n)
{
	char **v = xmalloc((t->n + 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->a[i].v)
			v[k++] = xconcat(t->a[i].k, "=", t->a[i].v);
	v[k] = NULL;
	*n = k;
	return v;
}

static char **vec_take(struct vec *x, size_t *n)
{
	char **v = x->v ? x->v : xmalloc(sizeof(char *));
	v[x->n] = NULL;
	*n = x->n;
	memset(x, 0, sizeof *x);
	return v;
}

static void config_of(struct stage *s, struct df_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	/* The reference's ENTRYPOINT/CMD table. */
	struct vec argv = { 0 };
	if (s->entry_set) {
		for (size_t i = 0; i < s->entry.n; i++)
			vec_push(&argv, xstrdup(s->entry.v[i]));
		if (!s->entry_shell && s->cmd_set)
			for (size_t i = 0; i < s->cmd.n; i++)
				vec_push(&argv, xstrdup(s->cmd.v[i]));
	} else if (s->cmd_set) {
		for (size_t i = 0; i < s->cmd.n; i++)
			vec_push(&argv, xstrdup(s->cmd.v[i]));
	}
	cfg->argv = vec_take(&argv, &cfg->argc);
	cfg->entrypoint_set = s->entry_set;
	cfg->entrypoint = vec_take(&s->entry, &cfg->nentrypoint);
	cfg->cmd_set = s->cmd_set;
	cfg->cmd = vec_take(&s->cmd, &cfg->ncmd);
	cfg->env = vars_kv(&s->env, &cfg->nenv);
	cfg->labels = vars_kv(&s->labels, &cfg->nlabels);
	cfg->workdir = s->workdir;
	s->workdir = NULL;
	cfg->user = s->user;
	s->user = NULL;
	cfg->ports = xmalloc((s->nports ? s->nports : 1) * sizeof *cfg->ports);
	memcpy(cfg->ports, s->ports, s->nports * sizeof *cfg->ports);
	cfg->nports = s->nports;
	cfg->stopsignal = s->stopsignal;
	s->stopsignal = NULL;
	cfg->maintainer = s->maintainer;
	s->maintainer = NULL;
	cfg->shell = vec_take(&s->shell, &cfg->nshell);
	cfg->volumes = vec_take(&s->volumes, &cfg->nvolumes);
	cfg->healthcheck = vec_take(&s->hc, &cfg->nhealthcheck);
	cfg->healthcheck_opts = vec_take(&s->hcopts, &cfg->nhealthcheck_opts);
}

/* Keep the stages the last one needs (FROM <stage>, COPY --from), in order. */
static void prune(struct ctx *c, struct df_plan *p)
{
	int need[DF_MAX_STAGES] = { 0 }, map[DF_MAX_STAGES];
	size_t last = c->nst - 1, k = 0;
	need[last] = 1;
	for (size_t i = c->nst; i-- > 0;) {
		if (!need[i])
			continue;
		const struct df_stage *s = &c->st[i].out;
		if (s->base_stage >= 0)
			need[s->base_stage] = 1;
		for (size_t j = 0; j < s->nsteps; j++)
			if (s->steps[j].from_stage >= 0)
				need[s->steps[j].from_stage] = 1;
	}
	p->stages = xmalloc(c->nst * sizeof *p->stages);
	for (size_t i = 0; i < c->nst; i++) {
		map[i] = need[i] ? (int)k : -1;
		if (need[i])
			p->stages[k++] = c->st[i].out;
		else
			stage_free(&c->st[i]);
		memset(&c->st[i].out, 0, sizeof c->st[i].out);
	}
	p->nstages = k;
	for (size_t i = 0; i < k; i++) {
		struct df_stage *s = &p->stages[i];
		if (s->base_stage >= 0)
			s->base_stage = map[s->base_stage];
		for (size_t j = 0; j < s->nsteps; j++)
			if (s->steps[j].from_stage >= 0)
				s->steps[j].from_stage = map[s->steps[j].from_stage];
	}
}

int df_plan_build(const char *text, size_t len, const char *const *build_args, size_t nargs,
		  struct df_plan *out, struct df_err *e)
{
	struct dflex_file f;
	memset(out, 0, sizeof *out);
	if (!text)
		len = 0;
	if (dflex_parse(text ? text : "", len, &f, e) < 0)
		return -1;
	struct ctx c = { .e = e, .esc = f.escape, .bargs = build_args, .nbargs = build_args ? nargs : 0 };
	c.st = xmalloc(DF_MAX_STAGES * sizeof *c.st);
	int rc = 0;
	for (size_t i = 0; i < f.n && rc == 0; i++) {
		c.in = &f.ins[i];
		rc = dispatch(&c);
	}
	c.in = NULL;
	if (rc == 0 && c.nst == 0) {
		e->line = 0;
		snprintf(e->msg, sizeof e->msg, "%s",
			 f.n ? "no FROM instruction" : "the Dockerfile is empty (no FROM instruction)");
		rc = -1;
	}
	if (rc == 0) {
		config_of(&c.st[c.nst - 1], &out->cfg);
		prune(&c, out);
		out->escape = f.escape;
	}
	for (size_t i = 0; i < c.nst; i++)
		stage_free(&c.st[i]);
	free(c.st);
	vars_free(&c.meta);
	dflex_free(&f);
	return rc;
}

void df_plan_free(struct df_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstages; i++) {
		struct df_stage *s = &p->stages[i];
		free(s->name);
		free(s->base);
		for (size_t j = 0; j < s->nsteps; j++)
			step_free(&s->steps[j]);
		free(s->steps);
	}
	free(p->stages);
	struct df_config *g = &p->cfg;
	strv_free(g->entrypoint, g->nentrypoint);
	strv_free(g->cmd, g->ncmd);
	strv_free(g->argv, g->argc);
	strv_free(g->env, g->nenv);
	free(g->workdir);
	free(g->user);
	free(g->ports);
	free(g->stopsignal);
	strv_free(g->labels, g->nlabels);
	strv_free(g->shell, g->nshell);
	free(g->maintainer);
	strv_free(g->volumes, g->nvolumes);
	strv_free(g->healthcheck, g->nhealthcheck);
	strv_free(g->healthcheck_opts, g->nhealthcheck_opts);
	memset(p, 0, sizeof *p);
}
