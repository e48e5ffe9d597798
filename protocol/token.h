/*
 * token.h - signed shell and proxy tokens (pure: no I/O, no clock, no RNG).
 *
 * A token is "hth1.<payload>.<mac>", both parts base64url without padding.
 * payload (big-endian): u8 version(1) | u8 kind | u8 idlen | id | u32 generation
 *   | u64 issued | u64 expires | u8 nranges | nranges * (u16 lo, u16 hi) | 8 nonce bytes
 * mac = HMAC-SHA256(key, "hth1." + payload part).
 * The caller supplies the installation key, the clock and the nonce, so
 * verification is a pure function of its inputs. Never log a token.
 */
#ifndef HEARTH_TOKEN_H
#define HEARTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX "hth1."
#define TOKEN_MAX_ID 64
#define TOKEN_MAX_RANGES 16
#define TOKEN_MAX_LIFETIME 3600 /* seconds: tokens live at most 60 minutes */
#define TOKEN_MAX_LEN 512       /* longest encoded token, NUL excluded */
#define TOKEN_NONCE_LEN 8
#define TOKEN_MAC_LEN 32
#define TOKEN_MIN_KEY 16

enum token_kind { TOKEN_KIND_SHELL = 1, TOKEN_KIND_PROXY = 2 };

enum {
	TOKEN_OK = 0,
	TOKEN_E_FORMAT = -1,  /* not a token, bad encoding or payload */
	TOKEN_E_SIG = -2,     /* signature does not match */
	TOKEN_E_EXPIRED = -3, /* past its expiry, or issued in the future */
	TOKEN_E_ARG = -4,     /* bad claims or key given to token_sign */
	TOKEN_E_SPACE = -5,   /* output buffer too small */
};

struct token_range {
	uint16_t lo, hi; /* inclusive */
};

struct token_claims {
	uint8_t kind;
	char vm_id[TOKEN_MAX_ID + 1];
	uint32_t generation; /* run generation of the VM: a new run kills old tokens */
	uint64_t issued, expires; /* epoch seconds */
	unsigned nranges;
	struct token_range ranges[TOKEN_MAX_RANGES];
	uint8_t nonce[TOKEN_NONCE_LEN];
};

/* Encode and sign; writes a NUL-terminated token. Returns its length or < 0. */
int token_sign(const uint8_t *key, size_t keylen, const struct token_claims *c, char *out,
	       size_t outlen);
/* Check format, signature (constant time) and expiry against `now`. */
int token_verify(const uint8_t *key, size_t keylen, const char *tok, size_t len, uint64_t now,
		 struct token_claims *out);
/* Verified claims still within their time at `now`: TOKEN_OK or TOKEN_E_EXPIRED
 * (token_verify's own check, for a caller that keeps verified claims). */
int token_current(const struct token_claims *c, uint64_t now);
/* 1 when the claims allow `port`. */
int token_allows_port(const struct token_claims *c, uint16_t port);
const char *token_strerror(int err);

/* Helpers shared with other signed blobs (paging tokens). */
int token_mac(const uint8_t *key, size_t keylen, const void *data, size_t len,
	      uint8_t out[TOKEN_MAC_LEN]);
/* base64url without padding. encode returns the length written (NUL added) or -1. */
int token_b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* decode returns the byte count or -1 on a bad character, length or overflow. */
int token_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen);

#endif
