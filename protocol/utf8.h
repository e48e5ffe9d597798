/*
 * utf8.h - UTF-8 as RFC 3629 defines it (pure: no I/O, no allocation):
 * shortest form only, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. The WebSocket server checks TEXT messages and close reasons with
 * it (RFC 6455 8.1: invalid UTF-8 fails the connection with 1007), and cuts
 * the text it sends to whole characters.
 */
#ifndef HEARTH_UTF8_H
#define HEARTH_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* An incremental check, so a message may arrive in pieces (fragments). */
struct utf8_check {
	uint8_t need;   /* continuation bytes still to come */
	uint8_t lo, hi; /* the range the next continuation byte must lie in */
	uint8_t bad;    /* an invalid byte was seen (sticky) */
};

void utf8_check_init(struct utf8_check *u);
/* Feed the next bytes: 0 while valid so far, -1 once invalid. */
int utf8_check_feed(struct utf8_check *u, const uint8_t *p, size_t n);
/* 1 when everything fed is valid and ends on a character boundary. */
int utf8_check_done(const struct utf8_check *u);

/* 1 when [p, p+n) is valid UTF-8. */
int utf8_valid(const uint8_t *p, size_t n);
/* The length of the longest valid UTF-8 prefix of [p, p+n) that ends on a
 * character boundary and is at most max bytes. */
size_t utf8_prefix(const uint8_t *p, size_t n, size_t max);

#endif
