/*
 * httphead.h - the pieces every HTTP/1.1 head parser here shares (pure: no
 * I/O, no allocation): where a head ends, its CRLF lines, "name: value"
 * lines, names compared case-insensitively, comma-separated token lists and
 * bounded copies of field values. wsproto.c (upgrade requests), wsclient.c
 * (upgrade answers) and httpreq.c (the app proxy's heads) build on it; each
 * keeps its own first-line parser and its own limits.
 *
 * Every function reads only the bytes it is given a length for; none needs
 * a NUL terminator.
 */
#ifndef HEARTH_HTTPHEAD_H
#define HEARTH_HTTPHEAD_H

#include <stddef.h>
#include <stdint.h>

/* Results, matching the head parsers built on this: > 0 is a head's length. */
enum {
	HTTPHEAD_MORE = 0,      /* incomplete: more input needed */
	HTTPHEAD_E_BAD = -1,    /* malformed */
	HTTPHEAD_E_TOOBIG = -2, /* the head, a line count or a field over its limit */
};

/*
 * The length of the head at the start of p[0..n) through its first blank
 * line (the first CRLF CRLF), when that lies within the first max bytes
 * (max <= INT_MAX). HTTPHEAD_MORE when there is none yet and n < max,
 * HTTPHEAD_E_TOOBIG when there is none within max bytes, HTTPHEAD_E_BAD as
 * soon as a bare LF or bare CR shows before the end (such a head would
 * otherwise wait for an end that never comes).
 */
int httphead_end(const char *p, size_t n, size_t max);

/*
 * The lines of a complete head, each without its CRLF, up to (not including)
 * the blank line. head/len is a head as httphead_end measures it: every line
 * ends in CRLF, the last one is empty.
 */
struct httphead_lines {
	const char *pos, *end; /* next line; start of the blank line */
};

void httphead_lines_init(struct httphead_lines *it, const char *head, size_t len);
/*
 * Take the next line: 1 with *line and *len set, 0 when only the blank line is
 * left, HTTPHEAD_E_BAD when the line holds a CR or LF that is not its line
 * end (a bare CR or LF) or lacks a CRLF altogether.
 */
int httphead_lines_next(struct httphead_lines *it, const char **line, size_t *len);

/*
 * A whole head parsed line by line: first_line gets the request or status
 * line, field each "name: value" line after it (the name is everything
 * before the first colon and not empty; value is untrimmed).
 */
struct httphead_parser {
	size_t head_max; /* bytes, first line through the blank line */
	int fields_max;  /* header lines after the first line */
	/* 0, or HTTPHEAD_E_BAD / HTTPHEAD_E_TOOBIG, passed on. */
	int (*first_line)(void *ctx, const char *line, size_t len);
	/* 0, or < 0 (a value over its size): HTTPHEAD_E_TOOBIG. */
	int (*field)(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen);
};

/*
 * Parse the head at the start of p[0..n) with hp. Returns the head's length,
 * HTTPHEAD_MORE, HTTPHEAD_E_TOOBIG (the head over hp->head_max, more than
 * hp->fields_max fields, or what a callback says) or HTTPHEAD_E_BAD (a NUL,
 * bare CR or bare LF in a line, a line without a colon or with an empty
 * name, or what first_line says). clear (clear_len bytes, may be NULL) is
 * zeroed once a whole head is there, before the first callback; nothing is
 * touched while the head is incomplete or too long.
 */
int httphead_parse(const struct httphead_parser *hp, void *ctx, void *clear, size_t clear_len,
		   const char *p, size_t n);

/* Trim spaces and tabs (RFC 9110 OWS) off both ends of [*p, *p + *n). */
void httphead_trim(const char **p, size_t *n);

/* 1 when byte c is an RFC 9110 tchar, a byte a token (a field name, a method)
 * may hold; 0 for NUL. */
int httphead_is_tchar(int c);

/* The value of hex digit c (either case), or -1 when c is none. */
int httphead_hexval(int c);

/*
 * [s, s+n) as a decimal number no larger than max: 0 with *out set, -1 (*out
 * untouched) when empty, not all digits, over 19 digits or over max.
 */
int httphead_dec(const char *s, size_t n, uint64_t max, uint64_t *out);

/* 1 when [s, s+n) is want, compared case-insensitively (ASCII). */
int httphead_name_is(const char *s, size_t n, const char *want);

/*
 * Walk a comma-separated list [*p, *p + *n): each call takes the next item,
 * trimmed (possibly empty), into *item and *ilen and returns 1; 0 once the list
 * is used up (an empty list has no items, "a," has one).
 */
int httphead_list_next(const char **p, size_t *n, const char **item, size_t *ilen);

/* 1 when the comma-separated list [p, p+n) holds token (case-insensitive). */
int httphead_list_has(const char *p, size_t n, const char *token);

/*
 * Copy [p, p+n), trimmed, into out as a string. 0, or -1 (out untouched)
 * when it does not fit in outlen bytes with its NUL.
 */
int httphead_copy(char *out, size_t outlen, const char *p, size_t n);

#endif
