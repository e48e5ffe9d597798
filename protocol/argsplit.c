/* argsplit.c - the prompt's tokenizer: a small state machine over the line. */
#include "protocol/argsplit.h"

enum { S_BLANK, S_WORD, S_SINGLE, S_DOUBLE };

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int argsplit(const char *line, size_t len, char *store, size_t cap, char **words,
	     size_t maxwords, size_t *nwords)
{
	size_t o = 0, n = 0;
	int st = S_BLANK;
	*nwords = 0;
	words[0] = NULL;
/* Append one byte to the current word; fails when store is full. */
#define PUT(ch)                                   \
	do {                                      \
		if (o + 1 >= cap)                 \
			return ARGSPLIT_E_SPACE;  \
		store[o++] = (ch);                \
	} while (0)
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		if (c == '\0')
			return ARGSPLIT_E_NUL;
		if (st == S_BLANK) {
			if (is_blank(c))
				continue;
			if (n == maxwords)
				return ARGSPLIT_E_WORDS;
			if (o >= cap)
				return ARGSPLIT_E_SPACE;
			words[n++] = store + o;
			st = S_WORD;
		}
		if (st == S_WORD) {
			if (is_blank(c)) {
				PUT('\0');
				st = S_BLANK;
			} else if (c == '\'') {
				st = S_SINGLE;
			} else if (c == '"') {
				st = S_DOUBLE;
			} else if (c == '\\') {
				if (++i == len)
					return ARGSPLIT_E_QUOTE;
				if (line[i] == '\0')
					return ARGSPLIT_E_NUL;
				PUT(line[i]);
			} else {
				PUT(c);
			}
		} else if (st == S_SINGLE) {
			if (c == '\'')
				st = S_WORD;
			else
				PUT(c);
		} else { /* S_DOUBLE */
			if (c == '"') {
				st = S_WORD;
			} else if (c == '\\' && i + 1 < len &&
				   (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' ||
				    line[i + 1] == '`')) {
				PUT(line[++i]);
			} else {
				PUT(c);
			}
		}
	}
	if (st == S_SINGLE || st == S_DOUBLE)
		return ARGSPLIT_E_QUOTE;
	if (st == S_WORD)
		PUT('\0');
#undef PUT
	words[n] = NULL;
	*nwords = n;
	return ARGSPLIT_OK;
}

const char *argsplit_strerror(int r)
{
	switch (r) {
	case ARGSPLIT_OK: return "ok";
	case ARGSPLIT_E_QUOTE: return "unterminated quote or trailing backslash";
	case ARGSPLIT_E_WORDS: return "too many words";
	case ARGSPLIT_E_SPACE: return "line too long";
	case ARGSPLIT_E_NUL: return "NUL byte in line";
	}
	return "unknown error";
}
