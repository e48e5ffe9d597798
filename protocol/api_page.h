/*
 * api_page.h - maxResults/nextToken paging (pure).
 *
 * nextToken is opaque to clients and tamper-checked: base64url of
 * u8 version | u8 list | u64 after | u64 filter hash | 16-byte truncated
 * HMAC-SHA256 over the rest, with the installation key.
 */
#ifndef HEARTH_API_PAGE_H
#define HEARTH_API_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "api_json.h"

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 100
#define API_PAGE_TOKEN_MAX 64 /* encoded length, NUL excluded */

struct api_page {
	uint8_t list;    /* which listing (caller's constant) */
	uint64_t after;  /* position: resume after this key */
	uint64_t filter; /* hash of the listing's filters; must match on reuse */
};

int api_page_encode(const uint8_t *key, size_t keylen, const struct api_page *p, char *out,
		    size_t outlen);
/* Refuses with ValidationException when the token is malformed, forged, or
 * belongs to another listing or other filters. */
int api_page_decode(const uint8_t *key, size_t keylen, const char *tok, uint8_t list,
		    uint64_t filter, struct api_page *out, struct api_err *e);
/* maxResults from a query value: decimal 1..max, else ValidationException. */
int api_page_max_results(const char *s, int max, int *out, struct api_err *e);
/* Hash filter strings (NULL allowed) for api_page.filter. */
uint64_t api_page_filter_hash(const char *const *vals, size_t n);

#endif
