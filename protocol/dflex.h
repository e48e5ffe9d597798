/*
 * dflex.h - a Dockerfile's text cut into instructions (pure, bounded): the
 * parser directives at the top (escape, syntax, check), comments, empty
 * lines, line continuation with the escape char (comment and blank lines
 * inside a continuation skipped, as BuildKit does) and the heredoc bodies
 * following RUN/COPY/ADD lines in shell form.
 */
#ifndef HEARTH_DFLEX_H
#define HEARTH_DFLEX_H

#include <stddef.h>

#include "protocol/dockerfile.h"

struct dflex_heredoc {
	char *name;  /* the delimiter word, quotes removed */
	char *body;  /* lines as written, each ending in '\n' (tabs not stripped) */
	int chomp;   /* <<- */
	int expand;  /* no part of the delimiter was quoted */
};

struct dflex_instr {
	int line;      /* 1-based first line */
	char *kw;      /* keyword as written ("run") */
	char *cmd;     /* keyword lower-cased */
	char *rest;    /* arguments: continuations joined, blanks around trimmed */
	struct dflex_heredoc *hd;
	size_t nhd;
};

struct dflex_file {
	char escape;   /* '\\' or '`' */
	struct dflex_instr *ins;
	size_t n;
};

int dflex_parse(const char *text, size_t len, struct dflex_file *f, struct df_err *e);
void dflex_free(struct dflex_file *f);

/* A heredoc word ("<<EOF", "<<-'EOF'", "3<<EOF")? 1 with h's name, chomp and
 * expand filled (name malloc'd), 0 if not one, -1 out of memory. */
int dflex_heredoc_word(const char *w, struct dflex_heredoc *h);
/* Body with leading tabs stripped from every line (<<-), malloc'd. */
char *dflex_chomp(const char *body);

#endif
