/*
 * api_page.c - signed paging cursors.
 */
#include "api_page.h"

#include <openssl/crypto.h>
#include <string.h>

#include "buf.h"
#include "token.h"

#define PAGE_VERSION 1
#define PAGE_BODY 18 /* version, list, after, filter */
#define PAGE_MAC 16

int api_page_encode(const uint8_t *key, size_t keylen, const struct api_page *p, char *out,
		    size_t outlen)
{
	uint8_t raw[PAGE_BODY + TOKEN_MAC_LEN];
	raw[0] = PAGE_VERSION;
	raw[1] = p->list;
	put_be64(raw + 2, p->after);
	put_be64(raw + 10, p->filter);
	if (token_mac(key, keylen, raw, PAGE_BODY, raw + PAGE_BODY) < 0)
		return -1;
	return token_b64url_encode(raw, PAGE_BODY + PAGE_MAC, out, outlen);
}

int api_page_decode(const uint8_t *key, size_t keylen, const char *tok, uint8_t list,
		    uint64_t filter, struct api_page *out, struct api_err *e)
{
	uint8_t raw[PAGE_BODY + PAGE_MAC + 3], mac[TOKEN_MAC_LEN];
	size_t n = strlen(tok);
	if (n > API_PAGE_TOKEN_MAX ||
	    token_b64url_decode(tok, n, raw, sizeof raw) != PAGE_BODY + PAGE_MAC)
		return api_fail(e, API_E_VALIDATION, "nextToken is invalid");
	if (token_mac(key, keylen, raw, PAGE_BODY, mac) < 0 ||
	    CRYPTO_memcmp(mac, raw + PAGE_BODY, PAGE_MAC) != 0 || raw[0] != PAGE_VERSION)
		return api_fail(e, API_E_VALIDATION, "nextToken is invalid");
	out->list = raw[1];
	out->after = get_be64(raw + 2);
	out->filter = get_be64(raw + 10);
	if (out->list != list || out->filter != filter)
		return api_fail(e, API_E_VALIDATION,
				"nextToken does not belong to this request's parameters");
	return 0;
}

int api_page_max_results(const char *s, int max, int *out, struct api_err *e)
{
	int v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 6)
		return api_fail(e, API_E_VALIDATION, "maxResults must be between 1 and %d", max);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return api_fail(e, API_E_VALIDATION, "maxResults must be an integer");
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > max)
		return api_fail(e, API_E_VALIDATION, "maxResults must be between 1 and %d", max);
	*out = v;
	return 0;
}

uint64_t api_page_filter_hash(const char *const *vals, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		const char *s = vals[i] ? vals[i] : "";
		unsigned char tag = vals[i] ? 1 : 0;
		h = (h ^ tag) * 1099511628211ull;
		for (; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h;
}
