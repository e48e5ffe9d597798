/* dfword.c - BuildKit's shell lexer (frontend/dockerfile/shell) for one word. */
#include "protocol/dfword.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct obuf {
	char *p;
	size_t n, cap;
};

struct lex {
	const char *s;
	size_t len, pos;
	char esc;
	int flags, depth;
	dfword_lookup look;
	void *ctx;
	size_t max;
	char *err;
	size_t errcap;
};

#define LEX_EOF (-1)

static int fail(struct lex *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errcap, fmt, ap);
	va_end(ap);
	return -1;
}

static int peek(const struct lex *l)
{
	return l->pos < l->len ? (unsigned char)l->s[l->pos] : LEX_EOF;
}

static int next(struct lex *l)
{
	return l->pos < l->len ? (unsigned char)l->s[l->pos++] : LEX_EOF;
}

static int put(struct lex *l, struct obuf *b, const char *p, size_t n)
{
	if (n > l->max || b->n + n > l->max)
		return fail(l, "word longer than %zu bytes after expansion", l->max);
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return fail(l, "out of memory");
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int putc_(struct lex *l, struct obuf *b, int c)
{
	char ch = (char)c;
	return put(l, b, &ch, 1);
}

static int is_alnum_(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int is_special(int c)
{
	return c != LEX_EOF && strchr("@*#?-$!0", c) != NULL;
}

/* A parameter name: digits, one special character, or [A-Za-z0-9_]+. */
static void name(struct lex *l, size_t *start, size_t *n)
{
	*start = l->pos;
	int c = peek(l);
	if (c >= '0' && c <= '9') {
		while (peek(l) >= '0' && peek(l) <= '9')
			l->pos++;
	} else if (is_special(c)) {
		l->pos++;
	} else {
		while (is_alnum_(peek(l)))
			l->pos++;
	}
	*n = l->pos - *start;
}

static int stop_on(struct lex *l, int stop, struct obuf *b);

static int dollar(struct lex *l, struct obuf *b)
{
	size_t ns, nn;
	next(l); /* '$' */
	if (peek(l) != '{') {
		name(l, &ns, &nn);
		if (nn == 0)
			return put(l, b, "$", 1);
		const char *v = l->look(l->ctx, l->s + ns, nn);
		return v ? put(l, b, v, strlen(v)) : 0;
	}
	next(l);
	int c = peek(l);
	if (c == LEX_EOF)
		return fail(l, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return fail(l, "syntax error: bad substitution");
	name(l, &ns, &nn);
	const char *v = l->look(l->ctx, l->s + ns, nn);
	c = next(l);
	if (c == '}')
		return v ? put(l, b, v, strlen(v)) : 0;
	if (c == LEX_EOF)
		return fail(l, "syntax error: missing '}'");
	int colon = c == ':';
	int mod = colon ? next(l) : c;
	if (mod != '-' && mod != '+' && mod != '?') {
		if (mod == LEX_EOF)
			return fail(l, "syntax error: missing '}'");
		return fail(l, "unsupported modifier (%s%c) in substitution", colon ? ":" : "",
			    mod);
	}
	if (l->depth >= DFWORD_MAX_DEPTH)
		return fail(l, "substitutions nested deeper than %d", DFWORD_MAX_DEPTH);
	struct obuf w = { 0 };
	l->depth++;
	int r = stop_on(l, '}', &w);
	l->depth--;
	if (r < 0) {
		free(w.p);
		return -1;
	}
	/* With ':' an empty value counts as unset, as in sh. */
	int set = v && (!colon || v[0] != '\0');
	const char *ws = w.p ? w.p : "";
	if (mod == '-')
		r = set ? put(l, b, v, strlen(v)) : put(l, b, ws, w.n);
	else if (mod == '+')
		r = set ? put(l, b, ws, w.n) : 0;
	else if (set)
		r = put(l, b, v, strlen(v));
	else if (w.n)
		r = fail(l, "%.*s: %s", (int)nn, l->s + ns, ws);
	else
		r = fail(l, "%.*s: is not allowed to be %s", (int)nn, l->s + ns,
			 colon ? "unset or empty" : "unset");
	free(w.p);
	return r;
}

static int single_quote(struct lex *l, struct obuf *b)
{
	next(l);
	for (;;) {
		int c = next(l);
		if (c == LEX_EOF)
			return fail(l, "unexpected end of statement while looking for matching "
				       "single-quote");
		if (c == '\'')
			return 0;
		if (putc_(l, b, c) < 0)
			return -1;
	}
}

static int double_quote(struct lex *l, struct obuf *b)
{
	next(l);
	for (;;) {
		int c = peek(l);
		if (c == LEX_EOF)
			return fail(l, "unexpected end of statement while looking for matching "
				       "double-quote");
		if (c == '"') {
			next(l);
			return 0;
		}
		if (c == '$') {
			if (dollar(l, b) < 0)
				return -1;
			continue;
		}
		c = next(l);
		if (c == (unsigned char)l->esc) {
			int n = peek(l);
			if (n == LEX_EOF)
				continue; /* a trailing escape is dropped */
			/* Only " $ and the escape char itself are escapable here. */
			if (n == '"' || n == '$' || n == (unsigned char)l->esc)
				c = next(l);
		}
		if (putc_(l, b, c) < 0)
			return -1;
	}
}

static int stop_on(struct lex *l, int stop, struct obuf *b)
{
	while (peek(l) != LEX_EOF) {
		int c = peek(l);
		if (stop != LEX_EOF && c == stop) {
			next(l);
			return 0;
		}
		int r;
		if (c == '$')
			r = dollar(l, b);
		else if (c == '\'' && !(l->flags & DFWORD_NOQUOTES))
			r = single_quote(l, b);
		else if (c == '"' && !(l->flags & DFWORD_NOQUOTES))
			r = double_quote(l, b);
		else {
			c = next(l);
			if (c == (unsigned char)l->esc) {
				c = next(l);
				if (c == LEX_EOF)
					break;
			}
			r = putc_(l, b, c);
		}
		if (r < 0)
			return -1;
	}
	if (stop != LEX_EOF)
		return fail(l, "syntax error: missing '}'");
	return 0;
}

int dfword_expand(const char *in, size_t len, char esc, int flags, dfword_lookup look,
		  void *ctx, size_t maxout, char **out, char *err, size_t errcap)
{
	struct lex l = { .s = in, .len = len, .esc = esc, .flags = flags, .look = look,
			 .ctx = ctx, .max = maxout, .err = err, .errcap = errcap };
	struct obuf b = { 0 };
	*out = NULL;
	if (stop_on(&l, LEX_EOF, &b) < 0 || put(&l, &b, "", 0) < 0) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

/* Shared tail of both splitters: words NUL-separated in store. */
struct words {
	char *store;
	size_t o;
	size_t *starts;
	size_t n;
};

static int words_finish(struct words *w, char **store, char ***words, size_t *n)
{
	char **v = malloc((w->n + 1) * sizeof *v);
	if (!v) {
		free(w->store);
		free(w->starts);
		return -1;
	}
	for (size_t i = 0; i < w->n; i++)
		v[i] = w->store + w->starts[i];
	v[w->n] = NULL;
	free(w->starts);
	*store = w->store;
	*words = v;
	*n = w->n;
	return 0;
}

static int words_init(struct words *w, size_t len)
{
	w->store = malloc(2 * len + 2);
	w->starts = malloc((len + 1) * sizeof *w->starts);
	w->o = w->n = 0;
	if (!w->store || !w->starts) {
		free(w->store);
		free(w->starts);
		return -1;
	}
	return 0;
}

static void word_end(struct words *w, size_t start)
{
	w->store[w->o++] = '\0';
	w->starts[w->n++] = start;
}

int dfword_split_quoted(const char *in, size_t len, char esc, char **store, char ***words,
			size_t *n)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } st = IN_SPACES;
	struct words w;
	if (words_init(&w, len) < 0)
		return -1;
	size_t start = 0;
	int blank_ok = 0;
	char quote = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? in[i] : 0;
		if (st == IN_SPACES) {
			if (i == len)
				break;
			if (is_space(c))
				continue;
			st = IN_WORD;
			start = w.o;
			blank_ok = 0;
		}
		if (i == len) {
			if (blank_ok || w.o > start)
				word_end(&w, start);
			break;
		}
		if (st == IN_WORD) {
			if (is_space(c)) {
				st = IN_SPACES;
				if (blank_ok || w.o > start)
					word_end(&w, start);
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = 1;
				st = IN_QUOTE;
			}
			if (c == esc) {
				if (i + 1 == len)
					continue; /* a trailing escape is dropped */
				/* The escape and the next char are both kept, even a quote. */
				w.store[w.o++] = c;
				c = in[++i];
			}
			w.store[w.o++] = c;
			continue;
		}
		/* IN_QUOTE */
		if (c == quote)
			st = IN_WORD;
		else if (c == esc && quote != '\'') {
			if (i + 1 == len) {
				st = IN_WORD;
				continue;
			}
			w.store[w.o++] = c;
			c = in[++i];
		}
		w.store[w.o++] = c;
	}
	return words_finish(&w, store, words, n);
}

int dfword_split_blank(const char *in, size_t len, char **store, char ***words, size_t *n)
{
	struct words w;
	if (words_init(&w, len) < 0)
		return -1;
	size_t i = 0;
	while (i < len) {
		while (i < len && is_space(in[i]))
			i++;
		if (i == len)
			break;
		size_t start = w.o;
		while (i < len && !is_space(in[i]))
			w.store[w.o++] = in[i++];
		word_end(&w, start);
	}
	return words_finish(&w, store, words, n);
}
