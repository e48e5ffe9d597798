/*
 * dockerignore.c - .dockerignore patterns and COPY globs; see dockerignore.h.
 *
 * Follows moby's ignorefile.ReadAll + patternmatcher: each line trimmed,
 * '#' lines skipped, "!" marks an exception, the rest filepath.Clean'd and
 * stripped of a leading '/'. A pattern compiles as moby does to a regexp
 * ('*' = [^/]*, '?' = [^/], "**" at the end = .*, "**" elsewhere =
 * (.*\/)? eating one following '/', '\\' quotes the next character) with
 * filepath.Match's bracket classes. Matching is an NFA walk (states = token
 * positions), linear in pattern x path, so no input can make it explode.
 */
#include "protocol/dockerignore.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* G_GROUP + G_INSIDE are "(.*\/)?": the group consumes nothing and may be
 * skipped; inside it any character loops and a '/' may leave it. */
enum gkind { G_LIT, G_ANY1, G_CLASS, G_STAR, G_DSTAR, G_GROUP, G_INSIDE };

struct gtok {
	uint8_t kind;
	uint8_t c;   /* G_LIT */
	uint8_t neg; /* G_CLASS */
	uint32_t cls; /* G_CLASS: index into the class bitmaps */
};

struct gprog {
	struct gtok *t;
	size_t n;
	uint8_t (*cls)[32];
	size_t ncls;
};

struct dfpat {
	int excl;
	char *text; /* the cleaned pattern, for dfignore_may_reinclude */
	struct gprog g;
};

struct dfignore {
	struct dfpat *p;
	size_t n;
	int has_excl;
};

static void gprog_free(struct gprog *g)
{
	free(g->t);
	free(g->cls);
	g->t = NULL;
	g->cls = NULL;
}

/* One character of a class, with '\\' escapes; -1 on a bad pattern. */
static int class_char(const char *p, size_t *i)
{
	if (p[*i] == '\0' || p[*i] == '-' || p[*i] == ']')
		return -1;
	if (p[*i] == '\\') {
		(*i)++;
		if (p[*i] == '\0')
			return -1;
	}
	return (unsigned char)p[(*i)++];
}

/* Parse "[...]" starting after '['; fills bitmap; -1 on a bad class. */
static int parse_class(const char *p, size_t *i, uint8_t bm[32], uint8_t *neg)
{
	int nrange = 0;
	memset(bm, 0, 32);
	*neg = 0;
	if (p[*i] == '^') {
		*neg = 1;
		(*i)++;
	}
	for (;;) {
		if (p[*i] == ']' && nrange > 0) {
			(*i)++;
			return 0;
		}
		int lo = class_char(p, i), hi;
		if (lo < 0)
			return -1;
		hi = lo;
		if (p[*i] == '-') {
			(*i)++;
			if ((hi = class_char(p, i)) < 0)
				return -1;
			if (hi < lo)
				return -1;
		}
		for (int c = lo; c <= hi; c++)
			bm[c >> 3] |= (uint8_t)(1u << (c & 7));
		nrange++;
	}
}

static int gprog_compile(const char *p, struct gprog *g)
{
	size_t len = strlen(p), ncls = 0;
	memset(g, 0, sizeof *g);
	for (size_t i = 0; i < len; i++)
		ncls += p[i] == '[';
	g->t = calloc(2 * len + 1, sizeof *g->t);
	g->cls = calloc(ncls + 1, sizeof *g->cls);
	if (!g->t || !g->cls) {
		gprog_free(g);
		return -1;
	}
	size_t i = 0;
	while (i < len) {
		struct gtok *t = &g->t[g->n];
		char ch = p[i++];
		if (ch == '*') {
			if (p[i] == '*') {
				i++;
				if (p[i] == '/')
					i++;
				if (p[i] == '\0') {
					t->kind = G_DSTAR;
				} else {
					t->kind = G_GROUP;
					g->t[++g->n].kind = G_INSIDE;
				}
			} else {
				t->kind = G_STAR;
			}
		} else if (ch == '?') {
			t->kind = G_ANY1;
		} else if (ch == '[') {
			t->kind = G_CLASS;
			t->cls = (uint32_t)g->ncls;
			if (parse_class(p, &i, g->cls[g->ncls], &t->neg) < 0) {
				gprog_free(g);
				return -1;
			}
			g->ncls++;
		} else if (ch == '\\') {
			if (p[i] == '\0') {
				gprog_free(g);
				return -1;
			}
			t->kind = G_LIT;
			t->c = (uint8_t)p[i++];
		} else {
			t->kind = G_LIT;
			t->c = (uint8_t)ch;
		}
		g->n++;
	}
	return 0;
}

/* Add state i and what it reaches without consuming: past a star (which
 * may match nothing), into or over a group. */
static void nfa_add(const struct gprog *g, uint8_t *set, size_t i)
{
	while (!set[i]) {
		set[i] = 1;
		if (i >= g->n)
			return;
		uint8_t k = g->t[i].kind;
		if (k == G_GROUP) {
			set[i + 1] = 1; /* G_INSIDE: a consuming state */
			i += 2;
			continue;
		}
		if (k != G_STAR && k != G_DSTAR)
			return;
		i++;
	}
}

static int gprog_match(const struct gprog *g, const char *s)
{
	size_t n = g->n;
	uint8_t *cur = calloc(2 * (n + 1), 1);
	if (!cur)
		return 0;
	uint8_t *next = cur + n + 1;
	nfa_add(g, cur, 0);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int any = 0;
		memset(next, 0, n + 1);
		for (size_t i = 0; i < n; i++) {
			if (!cur[i])
				continue;
			const struct gtok *t = &g->t[i];
			switch (t->kind) {
			case G_LIT:
				if (c == t->c)
					nfa_add(g, next, i + 1);
				break;
			case G_ANY1:
				if (c != '/')
					nfa_add(g, next, i + 1);
				break;
			case G_CLASS:
				if (c != '/' && (((g->cls[t->cls][c >> 3] >> (c & 7)) & 1) ^ t->neg))
					nfa_add(g, next, i + 1);
				break;
			case G_STAR:
				if (c != '/')
					nfa_add(g, next, i);
				break;
			case G_DSTAR:
				nfa_add(g, next, i);
				break;
			case G_INSIDE:
				nfa_add(g, next, i);
				if (c == '/')
					nfa_add(g, next, i + 1);
				break;
			case G_GROUP:
				break;
			}
		}
		for (size_t i = 0; i <= n && !any; i++)
			any = next[i];
		uint8_t *tmp = cur;
		cur = next;
		next = tmp;
		if (!any)
			break;
	}
	int m = *s == '\0' && cur[n];
	free(cur < next ? cur : next);
	return m;
}

int dfignore_glob(const char *pattern, const char *path)
{
	struct gprog g;
	if (gprog_compile(pattern, &g) < 0)
		return -1;
	int m = gprog_match(&g, path);
	gprog_free(&g);
	return m;
}

/* Go's filepath.Clean into out (at least strlen(in) + 2 bytes). */
static void path_clean(const char *in, char *out)
{
	int rooted = in[0] == '/';
	size_t o = 0, dotdot = 0; /* out[0..dotdot) is the ".." prefix that cannot go back */
	if (rooted)
		out[o++] = '/', dotdot = 1;
	size_t i = 0, n = strlen(in);
	while (i < n) {
		if (in[i] == '/') {
			i++;
		} else if (in[i] == '.' && (i + 1 == n || in[i + 1] == '/')) {
			i++;
		} else if (in[i] == '.' && in[i + 1] == '.' && (i + 2 == n || in[i + 2] == '/')) {
			i += 2;
			if (o > dotdot) {
				o--;
				while (o > dotdot && out[o] != '/')
					o--;
			} else if (!rooted) {
				if (o > 0)
					out[o++] = '/';
				out[o++] = '.';
				out[o++] = '.';
				dotdot = o;
			}
		} else {
			if ((rooted && o != 1) || (!rooted && o != 0))
				out[o++] = '/';
			for (; i < n && in[i] != '/'; i++)
				out[o++] = in[i];
		}
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void *ign_fail(struct dfignore *ig, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void *ign_fail(struct dfignore *ig, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	dfignore_free(ig);
	return NULL;
}

struct dfignore *dfignore_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct dfignore *ig = calloc(1, sizeof *ig);
	if (!ig)
		return ign_fail(NULL, err, errlen, "out of memory");
	if (!text || len == 0)
		return ig;
	if (len > DFIGN_MAX_TEXT)
		return ign_fail(ig, err, errlen, ".dockerignore is larger than %d bytes",
				DFIGN_MAX_TEXT);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	size_t line = 0;
	for (size_t off = 0; off < len;) {
		const char *s = text + off, *nl = memchr(s, '\n', len - off);
		size_t l = nl ? (size_t)(nl - s) : len - off;
		off += l + (nl ? 1 : 0);
		line++;
		if (memchr(s, '\0', l))
			return ign_fail(ig, err, errlen, "line %zu: a NUL byte", line);
		if (l > 0 && s[0] == '#')
			continue;
		while (l > 0 && is_space(*s))
			s++, l--;
		while (l > 0 && is_space(s[l - 1]))
			l--;
		if (l == 0)
			continue;
		int excl = s[0] == '!';
		if (excl) {
			s++, l--;
			while (l > 0 && is_space(*s))
				s++, l--;
			if (l == 0)
				return ign_fail(ig, err, errlen, "line %zu: illegal exclusion pattern \"!\"",
						line);
		}
		if (ig->n == DFIGN_MAX_PATTERNS)
			return ign_fail(ig, err, errlen, "more than %d patterns", DFIGN_MAX_PATTERNS);
		char *raw = malloc(l + 1), *cl = malloc(l + 3);
		if (!raw || !cl) {
			free(raw);
			free(cl);
			return ign_fail(ig, err, errlen, "out of memory");
		}
		memcpy(raw, s, l);
		raw[l] = '\0';
		path_clean(raw, cl);
		free(raw);
		if (cl[0] == '/' && cl[1] != '\0')
			memmove(cl, cl + 1, strlen(cl));
		if (!ig->p) {
			ig->p = calloc(DFIGN_MAX_PATTERNS, sizeof *ig->p);
			if (!ig->p) {
				free(cl);
				return ign_fail(ig, err, errlen, "out of memory");
			}
		}
		struct dfpat *p = &ig->p[ig->n];
		if (gprog_compile(cl, &p->g) < 0) {
			free(cl);
			return ign_fail(ig, err, errlen, "line %zu: bad pattern", line);
		}
		p->excl = excl;
		p->text = cl;
		ig->has_excl |= excl;
		ig->n++;
	}
	return ig;
}

int dfignore_match(const struct dfignore *ig, const char *relpath)
{
	if (!ig || ig->n == 0)
		return 0;
	const char *last = strrchr(relpath, '/');
	size_t plen = last ? (size_t)(last - relpath) : 0;
	char *parent = plen ? malloc(plen + 1) : NULL;
	if (plen && !parent)
		return 1; /* out of memory: leave the file out rather than guess */
	int matched = 0;
	for (size_t i = 0; i < ig->n; i++) {
		const struct dfpat *p = &ig->p[i];
		/* an exception only matters once matched, an exclusion only before */
		if (p->excl != matched)
			continue;
		int m = gprog_match(&p->g, relpath);
		/* a pattern that matches a parent directory covers the path too */
		for (size_t j = 0; !m && j < plen; j++) {
			if (relpath[j + 1] != '/' && j + 1 != plen)
				continue;
			memcpy(parent, relpath, j + 1);
			parent[j + 1] = '\0';
			m = gprog_match(&p->g, parent);
		}
		if (m)
			matched = !p->excl;
	}
	free(parent);
	return matched;
}

int dfignore_may_reinclude(const struct dfignore *ig, const char *reldir)
{
	if (!ig || !ig->has_excl)
		return 0;
	size_t dl = strlen(reldir);
	for (size_t i = 0; i < ig->n; i++) {
		const struct dfpat *p = &ig->p[i];
		if (!p->excl)
			continue;
		/* the literal part before the first wildcard: if it and "reldir/"
		 * agree as far as both go, something below may match */
		size_t lit = strcspn(p->text, "*?[\\");
		size_t k = 0;
		while (k < lit && k < dl && p->text[k] == reldir[k])
			k++;
		if (k == lit)
			return 1; /* the wildcard starts within reldir */
		if (k == dl && (p->text[k] == '/' || k == lit))
			return 1; /* the pattern names something below reldir */
	}
	return 0;
}

void dfignore_free(struct dfignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->p[i].text);
		gprog_free(&ig->p[i].g);
	}
	free(ig->p);
	free(ig);
}
