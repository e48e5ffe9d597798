/* dflex.c - lines to instructions, following BuildKit's parser.Parse. */
#include "protocol/dflex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dfjson.h"
#include "protocol/dfword.h"

struct src {
	const char *s;
	size_t len, pos;
	int line; /* of the last line taken */
};

/* The next line without its '\n'; 0 at the end of the text. */
static int take(struct src *r, const char **p, size_t *n)
{
	if (r->pos >= r->len)
		return 0;
	const char *s = r->s + r->pos;
	const char *nl = memchr(s, '\n', r->len - r->pos);
	size_t l = nl ? (size_t)(nl - s) : r->len - r->pos;
	r->pos += l + (nl ? 1 : 0);
	r->line++;
	*p = s;
	*n = l;
	return 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_blank(**p))
		(*p)++, (*n)--;
	while (*n && is_blank((*p)[*n - 1]))
		(*n)--;
}

static int is_comment(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && is_blank(p[i]))
		i++;
	return i < n && p[i] == '#';
}

static int errf(struct df_err *e, int line, const char *fmt, ...)
{
	va_list ap;
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static char *dupn(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* A parser directive line: "# name = value" (name [A-Za-z][A-Za-z0-9]*). */
static int directive(const char *p, size_t n, char *name, size_t ncap, const char **v,
		     size_t *vn)
{
	trim(&p, &n);
	if (!n || p[0] != '#')
		return 0;
	size_t i = 1, k = 0;
	while (i < n && is_blank(p[i]))
		i++;
	if (i >= n || !((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z'))
		return 0;
	while (i < n && (((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z') || (p[i] >= '0' && p[i] <= '9'))) {
		if (k + 1 < ncap)
			name[k++] = (char)(p[i] | 32);
		i++;
	}
	name[k] = '\0';
	while (i < n && is_blank(p[i]))
		i++;
	if (i >= n || p[i] != '=')
		return 0;
	i++;
	const char *vs = p + i;
	size_t vl = n - i;
	trim(&vs, &vl);
	if (!vl)
		return 0;
	*v = vs;
	*vn = vl;
	return 1;
}

/* Strip "<esc>[ \t]*" at the end: 1 if the line continues. */
static int continues(const char *p, size_t *n, char esc)
{
	size_t l = *n;
	while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
		l--;
	if (l && p[l - 1] == esc) {
		*n = l - 1;
		return 1;
	}
	return 0;
}

struct sbuf {
	char *p;
	size_t n, cap;
};

static int sb_put(struct sbuf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static const char *no_vars(void *ctx, const char *name, size_t len)
{
	return NULL;
}

char *dflex_chomp(const char *body)
{
	size_t n = strlen(body), o = 0;
	char *out = malloc(n + 1);
	int bol = 1;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (bol && body[i] == '\t')
			continue;
		bol = body[i] == '\n';
		out[o++] = body[i];
	}
	out[o] = '\0';
	return out;
}

static size_t count_quotes(const char *s)
{
	size_t q = 0;
	for (; *s; s++)
		q += *s == '\'' || *s == '"';
	return q;
}

int dflex_heredoc_word(const char *w, struct dflex_heredoc *h)
{
	const char *p = w;
	memset(h, 0, sizeof *h);
	while (*p >= '0' && *p <= '9')
		p++;
	if (p[0] != '<' || p[1] != '<')
		return 0;
	p += 2;
	if (*p == '-') {
		h->chomp = 1;
		p++;
	}
	if (!*p || strchr(p, '<'))
		return 0;
	char err[128], *name;
	/* The delimiter is lexed with '\' whatever the escape directive says. */
	if (dfword_expand(p, strlen(p), '\\', 0, no_vars, NULL, DF_MAX_WORD, &name, err,
			  sizeof err) < 0)
		return 0;
	if (!name[0]) {
		free(name);
		return 0;
	}
	/* Quotes removed by the lexer mean some part was quoted: no expansion. */
	h->expand = count_quotes(name) == count_quotes(p);
	h->name = name;
	return 1;
}

/* Skip leading --flags (blank separated) of an instruction's arguments. */
static const char *after_flags(const char *rest)
{
	const char *p = rest;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (p[0] != '-' || p[1] != '-')
			return p;
		while (*p && !is_blank(*p))
			p++;
	}
}

static void heredocs_free(struct dflex_heredoc *hd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hd[i].name);
		free(hd[i].body);
	}
	free(hd);
}

/* Find the heredoc words of a RUN/COPY/ADD in shell form and read their bodies. */
static int heredocs(struct src *r, struct dflex_instr *in, struct df_err *e)
{
	const char *args = after_flags(in->rest);
	char **v, *store, **words;
	size_t nv, nw;
	if (!strstr(args, "<<"))
		return 0;
	if (dfjson_strarray(args, strlen(args), &v, &nv) == 0) {
		dfjson_free(v, nv);
		return 0;
	}
	if (dfword_split_quoted(args, strlen(args), '\\', &store, &words, &nw) < 0)
		return errf(e, in->line, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < nw && rc == 0; i++) {
		struct dflex_heredoc h;
		int k = dflex_heredoc_word(words[i], &h);
		if (k <= 0) {
			if (k < 0)
				rc = errf(e, in->line, "out of memory");
			continue;
		}
		struct dflex_heredoc *nh = realloc(in->hd, (in->nhd + 1) * sizeof *nh);
		if (!nh) {
			free(h.name);
			rc = errf(e, in->line, "out of memory");
			break;
		}
		in->hd = nh;
		in->hd[in->nhd++] = h;
		struct sbuf b = { 0 };
		const char *p;
		size_t n;
		int done = 0;
		if (sb_put(&b, "", 0) < 0)
			rc = errf(e, in->line, "out of memory");
		while (rc == 0 && take(r, &p, &n)) {
			const char *t = p;
			size_t tn = n;
			if (tn && t[tn - 1] == '\r')
				tn--;
			if (h.chomp)
				while (tn && *t == '\t')
					t++, tn--;
			if (tn == strlen(h.name) && memcmp(t, h.name, tn) == 0) {
				done = 1;
				break;
			}
			if (sb_put(&b, p, n) < 0 || sb_put(&b, "\n", 1) < 0)
				rc = errf(e, in->line, "out of memory");
		}
		in->hd[in->nhd - 1].body = b.p;
		if (rc == 0 && !done)
			rc = errf(e, in->line, "unterminated heredoc %s", h.name);
	}
	free(store);
	free(words);
	return rc;
}

static void instr_free(struct dflex_instr *in)
{
	free(in->kw);
	free(in->cmd);
	free(in->rest);
	heredocs_free(in->hd, in->nhd);
}

void dflex_free(struct dflex_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		instr_free(&f->ins[i]);
	free(f->ins);
	f->ins = NULL;
	f->n = 0;
}

static int is_heredoc_cmd(const char *cmd)
{
	return !strcmp(cmd, "run") || !strcmp(cmd, "copy") || !strcmp(cmd, "add");
}

/* Cut the joined text of one instruction into keyword and arguments. */
static int instr_new(struct dflex_instr *in, const char *p, size_t n, int line)
{
	memset(in, 0, sizeof *in);
	in->line = line;
	trim(&p, &n);
	size_t k = 0;
	while (k < n && !is_blank(p[k]))
		k++;
	const char *rest = p + k;
	size_t rn = n - k;
	trim(&rest, &rn);
	in->kw = dupn(p, k);
	in->cmd = dupn(p, k);
	in->rest = dupn(rest, rn);
	if (!in->kw || !in->cmd || !in->rest)
		return -1;
	for (char *c = in->cmd; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	return 0;
}

int dflex_parse(const char *text, size_t len, struct dflex_file *f, struct df_err *e)
{
	struct src r = { .s = text, .len = len };
	const char *p;
	size_t n, cap = 0;
	int in_directives = 1, seen_escape = 0, seen_syntax = 0, seen_check = 0;
	memset(f, 0, sizeof *f);
	f->escape = '\\';
	e->line = 0;
	e->msg[0] = '\0';
	if (len > DF_MAX_TEXT)
		return errf(e, 0, "Dockerfile larger than %d bytes", DF_MAX_TEXT);
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return errf(e, line, "NUL byte in the Dockerfile");
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		r.pos = 3;
	while (take(&r, &p, &n)) {
		if (in_directives) {
			char name[16];
			const char *v;
			size_t vn;
			if (directive(p, n, name, sizeof name, &v, &vn)) {
				int *seen = !strcmp(name, "escape") ? &seen_escape
					    : !strcmp(name, "syntax") ? &seen_syntax
					    : !strcmp(name, "check") ? &seen_check : NULL;
				if (seen) {
					if (*seen) {
						dflex_free(f);
						return errf(e, r.line, "only one %s parser directive can be used", name);
					}
					*seen = 1;
					if (seen == &seen_escape) {
						if (vn != 1 || (v[0] != '\\' && v[0] != '`')) {
							dflex_free(f);
							return errf(e, r.line, "invalid escape token '%.*s' does not match ` or \\", (int)(vn > 8 ? 8 : vn), v);
						}
						f->escape = v[0];
					}
					continue;
				}
			}
			in_directives = 0;
		}
		if (is_comment(p, n))
			continue;
		int start = r.line;
		struct sbuf b = { 0 };
		const char *t = p;
		size_t tn = n;
		while (tn && is_blank(*t))
			t++, tn--;
		int more = continues(t, &tn, f->escape);
		if (sb_put(&b, t, tn) < 0)
			goto oom_b;
		while (more && take(&r, &p, &n)) {
			if (is_comment(p, n))
				continue;
			const char *q = p;
			size_t qn = n;
			trim(&q, &qn);
			if (!qn)
				continue;
			qn = n;
			if (qn && p[qn - 1] == '\r')
				qn--;
			more = continues(p, &qn, f->escape);
			if (sb_put(&b, p, qn) < 0)
				goto oom_b;
		}
		const char *jt = b.p;
		size_t jn = b.n;
		trim(&jt, &jn);
		if (!jn) {
			free(b.p);
			continue;
		}
		if (f->n == DF_MAX_LINES) {
			free(b.p);
			dflex_free(f);
			return errf(e, start, "more than %d instructions", DF_MAX_LINES);
		}
		if (f->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct dflex_instr *ni = realloc(f->ins, nc * sizeof *ni);
			if (!ni)
				goto oom_b;
			f->ins = ni;
			cap = nc;
		}
		struct dflex_instr *in = &f->ins[f->n];
		int rc = instr_new(in, jt, jn, start);
		free(b.p);
		f->n++;
		if (rc < 0)
			goto oom;
		if (is_heredoc_cmd(in->cmd) && heredocs(&r, in, e) < 0) {
			dflex_free(f);
			return -1;
		}
		continue;
oom_b:
		free(b.p);
oom:
		dflex_free(f);
		return errf(e, r.line, "out of memory");
	}
	return 0;
}
