/*
 * argsplit.h - split one typed command line into words (pure, no I/O), for
 * the `hearth` prompt. Quoting only, no expansion: blanks separate words,
 * '...' is literal, "..." honours \" \\ \$ \` and a backslash outside
 * quotes keeps the next character. Every word is written NUL-terminated into
 * a caller buffer and never past it.
 */
#ifndef HEARTH_ARGSPLIT_H
#define HEARTH_ARGSPLIT_H

#include <stddef.h>

enum argsplit_result {
	ARGSPLIT_OK = 0,
	ARGSPLIT_E_QUOTE = -1,  /* a quote or a trailing backslash is not closed */
	ARGSPLIT_E_WORDS = -2,  /* more than maxwords words */
	ARGSPLIT_E_SPACE = -3,  /* the words do not fit in store */
	ARGSPLIT_E_NUL = -4,    /* a NUL byte inside the line */
};

/*
 * Split line[0..len) into at most maxwords words. Word i is words[i], a
 * string inside store[0..cap); words[*nwords] is NULL (so words needs
 * maxwords + 1 slots). cap >= len + maxwords + 1 is always enough.
 * Returns ARGSPLIT_OK or a negative argsplit_result (*nwords is then 0).
 */
int argsplit(const char *line, size_t len, char *store, size_t cap, char **words,
	     size_t maxwords, size_t *nwords);

/* A short English text for a result. */
const char *argsplit_strerror(int r);

#endif
