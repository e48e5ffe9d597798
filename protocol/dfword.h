/*
 * dfword.h - the Dockerfile reference's word processing (pure, bounded):
 * "Environment replacement" ($VAR, ${VAR}, ${VAR:-w}, ${VAR:+w}, ${VAR-w},
 * ${VAR+w}, ${VAR:?w}, ${VAR?w}), quote removal ('...' literal, "..." with
 * $ expansion and escapes of " $ and the escape char) and the escape char
 * outside quotes, as BuildKit's shell lexer does; plus the two ways the
 * reference splits an instruction's arguments into words.
 */
#ifndef HEARTH_DFWORD_H
#define HEARTH_DFWORD_H

#include <stddef.h>

#define DFWORD_MAX_DEPTH 16 /* nested ${a:-${b:-...}} */

/* A variable's value, or NULL when unset. */
typedef const char *(*dfword_lookup)(void *ctx, const char *name, size_t len);

enum dfword_flags {
	DFWORD_NOQUOTES = 1, /* quotes are plain characters (COPY heredoc bodies) */
};

/*
 * Expand one word (in[0..len)) into *out (malloc'd, NUL-terminated, at most
 * maxout bytes). 0, or -1 with err ("unexpected end of statement while
 * looking for matching double-quote", "syntax error: bad substitution", ...).
 */
int dfword_expand(const char *in, size_t len, char esc, int flags, dfword_lookup look,
		  void *ctx, size_t maxout, char **out, char *err, size_t errcap);

/*
 * Split as the reference's parser does for ENV/LABEL/ARG (quote-aware, the
 * quotes and escapes kept for dfword_expand): words stored NUL-separated in
 * *store (malloc'd), (*words)[i] pointing into it; -1 on allocation failure.
 */
int dfword_split_quoted(const char *in, size_t len, char esc, char **store, char ***words,
			size_t *n);

/* Split on blanks only (COPY, EXPOSE, FROM, VOLUME shell forms), same output. */
int dfword_split_blank(const char *in, size_t len, char **store, char ***words, size_t *n);

#endif
