/*
 * token.c - signing and verification of shell/proxy tokens (see token.h).
 */
#include "token.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"

#define TOKEN_VERSION 1
/* version, kind, idlen, id, gen, issued, expires, nranges, ranges, nonce */
#define TOKEN_MAX_PAYLOAD (3 + TOKEN_MAX_ID + 4 + 8 + 8 + 1 + 4 * TOKEN_MAX_RANGES + TOKEN_NONCE_LEN)

static const char b64url_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	size_t need = (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (need + 1 > outlen)
		return -1;
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alpha[v >> 18 & 63];
		out[o++] = b64url_alpha[v >> 12 & 63];
		out[o++] = b64url_alpha[v >> 6 & 63];
		out[o++] = b64url_alpha[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64url_alpha[v >> 18 & 63];
		out[o++] = b64url_alpha[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alpha[v >> 18 & 63];
		out[o++] = b64url_alpha[v >> 12 & 63];
		out[o++] = b64url_alpha[v >> 6 & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int token_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
{
	if (n % 4 == 1)
		return -1;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outlen)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero so that each token has exactly one encoding. */
	if (acc != 0)
		return -1;
	return (int)o;
}

int token_mac(const uint8_t *key, size_t keylen, const void *data, size_t len,
	      uint8_t out[TOKEN_MAC_LEN])
{
	unsigned int outlen = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) ||
	    outlen != TOKEN_MAC_LEN)
		return -1;
	return 0;
}

static int claims_valid(const struct token_claims *c)
{
	size_t idlen = strnlen(c->vm_id, sizeof c->vm_id);
	if (c->kind != TOKEN_KIND_SHELL && c->kind != TOKEN_KIND_PROXY)
		return 0;
	if (idlen == 0 || idlen > TOKEN_MAX_ID)
		return 0;
	if (c->expires <= c->issued || c->expires - c->issued > TOKEN_MAX_LIFETIME)
		return 0;
	if (c->nranges > TOKEN_MAX_RANGES)
		return 0;
	if (c->kind == TOKEN_KIND_PROXY && c->nranges == 0)
		return 0;
	for (unsigned i = 0; i < c->nranges; i++)
		if (c->ranges[i].lo == 0 || c->ranges[i].lo > c->ranges[i].hi)
			return 0;
	return 1;
}

int token_sign(const uint8_t *key, size_t keylen, const struct token_claims *c, char *out,
	       size_t outlen)
{
	if (!key || keylen < TOKEN_MIN_KEY || !claims_valid(c))
		return TOKEN_E_ARG;
	struct buf b;
	buf_init(&b, TOKEN_MAX_PAYLOAD);
	size_t idlen = strlen(c->vm_id);
	int rc = buf_put_u8(&b, TOKEN_VERSION) | buf_put_u8(&b, c->kind) |
		 buf_put_u8(&b, (uint8_t)idlen) | buf_put(&b, c->vm_id, idlen) |
		 buf_put_u32(&b, c->generation) | buf_put_u64(&b, c->issued) |
		 buf_put_u64(&b, c->expires) | buf_put_u8(&b, (uint8_t)c->nranges);
	for (unsigned i = 0; i < c->nranges; i++)
		rc |= buf_put_u16(&b, c->ranges[i].lo) | buf_put_u16(&b, c->ranges[i].hi);
	rc |= buf_put(&b, c->nonce, TOKEN_NONCE_LEN);
	if (rc != BUF_OK) {
		buf_free(&b);
		return TOKEN_E_ARG;
	}
	char tmp[TOKEN_MAX_LEN + 1];
	size_t pl = strlen(TOKEN_PREFIX);
	memcpy(tmp, TOKEN_PREFIX, pl);
	int n = token_b64url_encode(buf_ptr(&b), buf_used(&b), tmp + pl, sizeof tmp - pl);
	buf_free(&b);
	if (n < 0)
		return TOKEN_E_SPACE;
	size_t signed_len = pl + (size_t)n;
	uint8_t mac[TOKEN_MAC_LEN];
	if (token_mac(key, keylen, tmp, signed_len, mac) < 0)
		return TOKEN_E_ARG;
	if (signed_len + 1 >= sizeof tmp)
		return TOKEN_E_SPACE;
	tmp[signed_len] = '.';
	int m = token_b64url_encode(mac, sizeof mac, tmp + signed_len + 1,
				    sizeof tmp - signed_len - 1);
	if (m < 0)
		return TOKEN_E_SPACE;
	size_t total = signed_len + 1 + (size_t)m;
	if (total + 1 > outlen)
		return TOKEN_E_SPACE;
	memcpy(out, tmp, total + 1);
	return (int)total;
}

static int decode_payload(const uint8_t *p, size_t n, struct token_claims *c)
{
	struct rd r = rd_make(p, n);
	uint8_t ver, idlen, nr;
	const uint8_t *id, *nonce;
	memset(c, 0, sizeof *c);
	if (rd_u8(&r, &ver) || ver != TOKEN_VERSION || rd_u8(&r, &c->kind) || rd_u8(&r, &idlen) ||
	    idlen == 0 || idlen > TOKEN_MAX_ID || rd_bytes(&r, idlen, &id))
		return TOKEN_E_FORMAT;
	for (unsigned i = 0; i < idlen; i++)
		if (id[i] == 0)
			return TOKEN_E_FORMAT;
	memcpy(c->vm_id, id, idlen);
	c->vm_id[idlen] = '\0';
	if (rd_u32(&r, &c->generation) || rd_u64(&r, &c->issued) || rd_u64(&r, &c->expires) ||
	    rd_u8(&r, &nr) || nr > TOKEN_MAX_RANGES)
		return TOKEN_E_FORMAT;
	c->nranges = nr;
	for (unsigned i = 0; i < nr; i++)
		if (rd_u16(&r, &c->ranges[i].lo) || rd_u16(&r, &c->ranges[i].hi))
			return TOKEN_E_FORMAT;
	if (rd_bytes(&r, TOKEN_NONCE_LEN, &nonce) || r.len != 0)
		return TOKEN_E_FORMAT;
	memcpy(c->nonce, nonce, TOKEN_NONCE_LEN);
	return claims_valid(c) ? TOKEN_OK : TOKEN_E_FORMAT;
}

int token_current(const struct token_claims *c, uint64_t now)
{
	/* A minute of slack for clock adjustments between signer and verifier. */
	return now >= c->expires || c->issued > now + 60 ? TOKEN_E_EXPIRED : TOKEN_OK;
}

int token_verify(const uint8_t *key, size_t keylen, const char *tok, size_t len, uint64_t now,
		 struct token_claims *out)
{
	size_t pl = strlen(TOKEN_PREFIX);
	if (!key || keylen < TOKEN_MIN_KEY || !tok || len > TOKEN_MAX_LEN || len < pl ||
	    memcmp(tok, TOKEN_PREFIX, pl) != 0)
		return TOKEN_E_FORMAT;
	const char *dot = memchr(tok + pl, '.', len - pl);
	if (!dot)
		return TOKEN_E_FORMAT;
	size_t signed_len = (size_t)(dot - tok);
	uint8_t mac[TOKEN_MAC_LEN + 3], want[TOKEN_MAC_LEN];
	int m = token_b64url_decode(dot + 1, len - signed_len - 1, mac, sizeof mac);
	if (m != TOKEN_MAC_LEN)
		return TOKEN_E_FORMAT;
	/* Check the signature before looking at the payload's contents. */
	if (token_mac(key, keylen, tok, signed_len, want) < 0)
		return TOKEN_E_FORMAT;
	if (CRYPTO_memcmp(mac, want, TOKEN_MAC_LEN) != 0)
		return TOKEN_E_SIG;
	uint8_t payload[TOKEN_MAX_PAYLOAD + 3];
	int n = token_b64url_decode(tok + pl, signed_len - pl, payload, sizeof payload);
	if (n < 0)
		return TOKEN_E_FORMAT;
	struct token_claims c;
	int rc = decode_payload(payload, (size_t)n, &c);
	if (rc != TOKEN_OK)
		return rc;
	if (token_current(&c, now) != TOKEN_OK)
		return TOKEN_E_EXPIRED;
	if (out)
		*out = c;
	return TOKEN_OK;
}

int token_allows_port(const struct token_claims *c, uint16_t port)
{
	for (unsigned i = 0; i < c->nranges && i < TOKEN_MAX_RANGES; i++)
		if (port >= c->ranges[i].lo && port <= c->ranges[i].hi)
			return 1;
	return 0;
}

const char *token_strerror(int err)
{
	switch (err) {
	case TOKEN_OK: return "ok";
	case TOKEN_E_FORMAT: return "malformed token";
	case TOKEN_E_SIG: return "bad token signature";
	case TOKEN_E_EXPIRED: return "token expired";
	case TOKEN_E_ARG: return "invalid token claims";
	case TOKEN_E_SPACE: return "token buffer too small";
	}
	return "unknown token error";
}
