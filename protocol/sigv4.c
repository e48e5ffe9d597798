/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * the HMAC key chain, parsing of the Authorization header and of presigned
 * query parameters, the skew window. See sigv4.h for the rules.
 */
#include "protocol/sigv4.h"
#include "protocol/httphead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 256
#define QUERY_PAIRS_MAX 256

/* ---- a bounded, growing string ---- */

struct sb {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		while (nc < b->len + n + 1)
			nc *= 2;
		if (nc > SIGV4_CREQ_MAX) {
			b->err = 1;
			return;
		}
		char *np = realloc(b->p, nc);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* URI-encode n bytes of s the SigV4 way (uppercase hex), '/' kept if asked. */
static void sb_encode(struct sb *b, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			sb_putn(b, (const char *)&s[i], 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_putn(b, e, 3);
		}
	}
}

/* Percent-decode n bytes into out (room for n + 1); a '%' not followed by
 * two hex digits stays literal, '+' stays '+'. Returns the length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n &&
		    (h = httphead_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = httphead_hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

static void fmt(char *why, size_t whylen, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *why, size_t whylen, const char *f, ...)
{
	if (!why || !whylen)
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(why, whylen, f, ap);
	va_end(ap);
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int64_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int sigv4_time_parse(const char *s, int64_t *t)
{
	int64_t y, mo, d, h, mi, se;
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || digits(s, 4, &y) ||
	    digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) || digits(s + 9, 2, &h) ||
	    digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

void sigv4_time_format(int64_t t, char out[17])
{
	int64_t z = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		z--;
	}
	/* civil_from_days */
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	if (y < 0 || y > 9999)
		y = 0;
	snprintf(out, 17, "%04d%02d%02dT%02d%02d%02dZ", (int)y, (int)m, (int)d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* ---- hashing ---- */

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data ? data : (const void *)"", len, md);
	to_hex(md, sizeof md, out);
}

static int hmac(const void *key, size_t keylen, const void *data, size_t len,
		unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int ol = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &ol) ||
	    ol != SHA256_DIGEST_LENGTH)
		return -1;
	return 0;
}

/* ---- the canonical request ---- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The raw path with empty and dot segments removed, each byte outside the
 * unreserved set (a '%' too) encoded once more. */
static void canonical_uri(struct sb *b, const char *path)
{
	if (!path || !*path) {
		sb_puts(b, "/");
		return;
	}
	size_t n = strlen(path), nseg = 0;
	size_t cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += path[i] == '/';
	struct seg {
		size_t off, len;
	} *segs = malloc(cap * sizeof *segs);
	if (!segs) {
		b->err = 1;
		return;
	}
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 0 || (l == 1 && path[i] == '.')) {
			/* skip */
		} else if (l == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg)
				nseg--;
		} else if (nseg < cap) {
			segs[nseg].off = i;
			segs[nseg].len = l;
			nseg++;
		}
		i = j + 1;
	}
	if (path[0] == '/')
		sb_puts(b, "/");
	for (size_t k = 0; k < nseg; k++) {
		if (k)
			sb_puts(b, "/");
		sb_encode(b, path + segs[k].off, segs[k].len, 0);
	}
	if (nseg && path[n - 1] == '/')
		sb_puts(b, "/");
	if (path[0] != '/' && nseg == 0)
		sb_puts(b, "/");
	free(segs);
}

struct qpair {
	char *name, *value; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* Encode the decoded form of n bytes of s into a new string. */
static char *reencode(const char *s, size_t n)
{
	char *dec = malloc(n + 1);
	struct sb b = { 0 };
	if (!dec)
		return NULL;
	size_t dl = pct_decode(s, n, dec);
	sb_encode(&b, dec, dl, 0);
	sb_putn(&b, "", 0);
	free(dec);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The query decoded, re-encoded strictly and sorted; X-Amz-Signature left
 * out when presigned. */
static int canonical_query(struct sb *b, const char *q, int presigned)
{
	struct qpair *pairs = NULL;
	size_t np = 0;
	int rc = -1;
	if (!q || !*q)
		return 0;
	pairs = calloc(QUERY_PAIRS_MAX, sizeof *pairs);
	if (!pairs)
		return -1;
	for (const char *p = q; *p;) {
		const char *amp = strchr(p, '&');
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		if (l) {
			const char *eq = memchr(p, '=', l);
			size_t nl = eq ? (size_t)(eq - p) : l;
			if (np >= QUERY_PAIRS_MAX)
				goto out;
			pairs[np].name = reencode(p, nl);
			pairs[np].value = eq ? reencode(eq + 1, l - nl - 1) : strdup("");
			np++;
			if (!pairs[np - 1].name || !pairs[np - 1].value)
				goto out;
			if (presigned && strcmp(pairs[np - 1].name, "X-Amz-Signature") == 0) {
				free(pairs[np - 1].name);
				free(pairs[np - 1].value);
				np--;
			}
		}
		p += l + (amp != NULL);
	}
	qsort(pairs, np, sizeof *pairs, qpair_cmp);
	for (size_t i = 0; i < np; i++) {
		if (i)
			sb_puts(b, "&");
		sb_puts(b, pairs[i].name);
		sb_puts(b, "=");
		sb_puts(b, pairs[i].value);
	}
	rc = 0;
out:
	for (size_t i = 0; i < np; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	return rc;
}

/* A header value trimmed, inner runs of blanks collapsed to one space. */
static void header_value(struct sb *b, const char *v)
{
	int pending = 0;
	while (is_blank(*v))
		v++;
	for (; *v; v++) {
		if (is_blank(*v)) {
			pending = 1;
			continue;
		}
		if (pending)
			sb_puts(b, " ");
		pending = 0;
		sb_putn(b, v, 1);
	}
}

static void canonical_headers(struct sb *b, const struct httpmsg_request *rq, const char *signed_)
{
	for (const char *p = signed_; *p;) {
		const char *semi = strchr(p, ';');
		size_t l = semi ? (size_t)(semi - p) : strlen(p);
		sb_putn(b, p, l);
		sb_puts(b, ":");
		int first = 1;
		for (unsigned i = 0; i < rq->nheaders && i < HTTPMSG_HEADERS_MAX; i++) {
			const char *n = rq->headers[i].name;
			if (strlen(n) != l || strncasecmp(n, p, l) != 0)
				continue;
			if (!first)
				sb_puts(b, ",");
			first = 0;
			header_value(b, rq->headers[i].value ? rq->headers[i].value : "");
		}
		sb_puts(b, "\n");
		p += l + (semi != NULL);
	}
}

/* The payload hash the request is signed with: sha256(body), which a
 * x-amz-content-sha256 header must name. Only a streamed body (handed on
 * as it comes, so its hash is known too late) is signed UNSIGNED-PAYLOAD. */
static enum sigv4_status payload_hash(const struct httpmsg_request *rq, char out[65], char *why,
				      size_t whylen)
{
	const char *h = httpmsg_get(rq, "x-amz-content-sha256");
	if (rq->body_streamed) {
		if (!h || strcmp(h, "UNSIGNED-PAYLOAD") != 0) {
			fmt(why, whylen, "a streamed body must be signed with "
					 "x-amz-content-sha256: UNSIGNED-PAYLOAD");
			return SIGV4_MISMATCH;
		}
		memcpy(out, "UNSIGNED-PAYLOAD", sizeof "UNSIGNED-PAYLOAD");
		return SIGV4_OK;
	}
	sigv4_sha256_hex(rq->body, rq->body_len, out);
	if (h) {
		if (strlen(h) != 64 || strcasecmp(h, out) != 0) {
			fmt(why, whylen,
			    "The provided 'x-amz-content-sha256' header does not match what was "
			    "computed.");
			return SIGV4_MISMATCH;
		}
		memcpy(out, h, 65); /* as sent: that is what the client hashed */
	}
	return SIGV4_OK;
}

static enum sigv4_status build_creq(const struct httpmsg_request *rq, const struct sigv4_auth *au,
				    struct sb *b, char *why, size_t whylen)
{
	char ph[65];
	enum sigv4_status st = payload_hash(rq, ph, why, whylen);
	if (st != SIGV4_OK)
		return st;
	sb_puts(b, rq->method ? rq->method : "");
	sb_puts(b, "\n");
	canonical_uri(b, rq->raw_path);
	sb_puts(b, "\n");
	if (canonical_query(b, rq->raw_query, au->presigned) < 0) {
		fmt(why, whylen, "the query string has too many parameters");
		return SIGV4_MALFORMED;
	}
	sb_puts(b, "\n");
	canonical_headers(b, rq, au->signed_headers);
	sb_puts(b, "\n");
	sb_puts(b, au->signed_headers);
	sb_puts(b, "\n");
	sb_puts(b, ph);
	if (b->err) {
		fmt(why, whylen, "the request is too large to sign");
		return SIGV4_MALFORMED;
	}
	return SIGV4_OK;
}

int sigv4_canonical_request(const struct httpmsg_request *rq, const struct sigv4_auth *au,
			    char *out, size_t outlen)
{
	struct sb b = { 0 };
	int rc = -1;
	if (build_creq(rq, au, &b, NULL, 0) == SIGV4_OK && b.len < outlen) {
		memcpy(out, b.p, b.len + 1);
		rc = (int)b.len;
	}
	free(b.p);
	return rc;
}

/* hex(HMAC(kSigning, string to sign)) */
static int compute_signature(const char *secret, const struct sigv4_auth *au, const char *creq,
			     size_t creqlen, char out[65])
{
	unsigned char k[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH], md[SHA256_DIGEST_LENGTH];
	char key0[4 + SECRET_MAX], chash[65];
	size_t sl = strlen(secret);
	int rc = -1;
	if (sl > SECRET_MAX)
		return -1;
	memcpy(key0, "AWS4", 4);
	memcpy(key0 + 4, secret, sl);
	sigv4_sha256_hex(creq, creqlen, chash);
	char sts[512];
	int n = snprintf(sts, sizeof sts, "%s\n%s\n%s/%s/%s/aws4_request\n%s", SIGV4_ALGORITHM,
			 au->amz_date, au->scope_date, au->region, au->service, chash);
	if (n < 0 || (size_t)n >= sizeof sts)
		goto out;
	if (hmac(key0, 4 + sl, au->scope_date, strlen(au->scope_date), k) ||
	    hmac(k, sizeof k, au->region, strlen(au->region), k2) ||
	    hmac(k2, sizeof k2, au->service, strlen(au->service), k) ||
	    hmac(k, sizeof k, "aws4_request", 12, k2) || hmac(k2, sizeof k2, sts, (size_t)n, md))
		goto out;
	to_hex(md, sizeof md, out);
	rc = 0;
out:
	OPENSSL_cleanse(key0, sizeof key0);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(k2, sizeof k2);
	return rc;
}

/* ---- parsing what the request says ---- */

static int scope_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Copy field [s, s+n) into out when 1..outlen-1 scope characters. */
static int take_field(const char *s, size_t n, char *out, size_t outlen)
{
	if (n == 0 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!scope_char(s[i]))
			return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* "AKID/YYYYMMDD/region/service/aws4_request" */
static int parse_credential(const char *s, size_t n, struct sigv4_auth *au)
{
	const char *parts[5];
	size_t lens[5];
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || s[i] == '/') {
			if (k == 5)
				return -1;
			parts[k] = s + start;
			lens[k++] = i - start;
			start = i + 1;
		}
	if (k != 5 || lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0)
		return -1;
	if (take_field(parts[0], lens[0], au->access_key, sizeof au->access_key) ||
	    take_field(parts[1], lens[1], au->scope_date, sizeof au->scope_date) ||
	    take_field(parts[2], lens[2], au->region, sizeof au->region) ||
	    take_field(parts[3], lens[3], au->service, sizeof au->service))
		return -1;
	int64_t v;
	if (lens[1] != 8 || digits(au->scope_date, 8, &v))
		return -1;
	return 0;
}

/* A tchar, lowercase: signed header names come lowercased. */
static int header_name_char(char c)
{
	return httphead_is_tchar((unsigned char)c) && !(c >= 'A' && c <= 'Z');
}

/* Lowercase, ';'-separated, strictly sorted, with host (and x-amz-date
 * when the date comes from a header). */
static int parse_signed_headers(const char *s, size_t n, int need_date, struct sigv4_auth *au)
{
	if (n == 0 || n >= sizeof au->signed_headers)
		return -1;
	memcpy(au->signed_headers, s, n);
	au->signed_headers[n] = '\0';
	const char *prev = NULL;
	size_t prevlen = 0;
	int host = 0, date = 0;
	for (const char *p = au->signed_headers; *p;) {
		const char *semi = strchr(p, ';');
		size_t l = semi ? (size_t)(semi - p) : strlen(p);
		if (l == 0)
			return -1;
		for (size_t i = 0; i < l; i++)
			if (!header_name_char(p[i]))
				return -1;
		if (prev) {
			size_t m = prevlen < l ? prevlen : l;
			int c = memcmp(prev, p, m);
			if (c > 0 || (c == 0 && prevlen >= l))
				return -1;
		}
		host |= l == 4 && memcmp(p, "host", 4) == 0;
		date |= l == 10 && memcmp(p, "x-amz-date", 10) == 0;
		prev = p;
		prevlen = l;
		if (semi && !semi[1])
			return -1;
		p += l + (semi != NULL);
	}
	return host && (date || !need_date) ? 0 : -1;
}

static int parse_signature(const char *s, size_t n, struct sigv4_auth *au)
{
	if (n != 64)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	memcpy(au->signature, s, 64);
	au->signature[64] = '\0';
	return 0;
}

/* The decoded value of query parameter name: 1 found, 0 not, -1 too long. */
static int query_get(const char *q, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	if (!q)
		return 0;
	for (const char *p = q; *p;) {
		const char *amp = strchr(p, '&');
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', l);
		if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
			size_t vl = l - nl - 1;
			if (vl >= outlen)
				return -1;
			pct_decode(eq + 1, vl, out);
			return 1;
		}
		p += l + (amp != NULL);
	}
	return 0;
}

static int parse_signed_headers_hdr(const char *s, size_t n, struct sigv4_auth *au)
{
	return parse_signed_headers(s, n, 1, au);
}

/* The components of the Authorization header, each required once. */
static const struct {
	const char *name;
	int (*parse)(const char *s, size_t n, struct sigv4_auth *au);
} header_parts[] = {
	{ "Credential", parse_credential },
	{ "SignedHeaders", parse_signed_headers_hdr },
	{ "Signature", parse_signature },
};
#define NPARTS (sizeof header_parts / sizeof header_parts[0])

static enum sigv4_status parse_header(const char *h, const struct httpmsg_request *rq,
				      struct sigv4_auth *au, char *why, size_t whylen)
{
	size_t al = strlen(SIGV4_ALGORITHM);
	if (strncmp(h, SIGV4_ALGORITHM, al) != 0 || !is_blank(h[al])) {
		fmt(why, whylen, "Authorization header must use the AWS4-HMAC-SHA256 algorithm.");
		return SIGV4_MALFORMED;
	}
	int seen[NPARTS] = { 0 };
	for (const char *p = h + al; *p;) {
		while (is_blank(*p) || *p == ',')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		while (l && is_blank(p[l - 1]))
			l--;
		const char *eq = memchr(p, '=', l);
		if (!eq) {
			fmt(why, whylen, "Authorization header has a component without '='.");
			return SIGV4_MALFORMED;
		}
		size_t kl = (size_t)(eq - p), k;
		for (k = 0; k < NPARTS; k++)
			if (strlen(header_parts[k].name) == kl &&
			    memcmp(header_parts[k].name, p, kl) == 0)
				break;
		if (k == NPARTS || seen[k]) {
			fmt(why, whylen, "Authorization header has an unknown or repeated component.");
			return SIGV4_MALFORMED;
		}
		seen[k] = 1;
		if (header_parts[k].parse(eq + 1, l - kl - 1, au) < 0) {
			fmt(why, whylen,
			    "Authorization header: %s is malformed (Credential=AKID/YYYYMMDD/"
			    "REGION/SERVICE/aws4_request, SignedHeaders with host and x-amz-date, "
			    "Signature of 64 hex digits).",
			    header_parts[k].name);
			return SIGV4_MALFORMED;
		}
		p += l;
	}
	if (!seen[0] || !seen[1] || !seen[2]) {
		fmt(why, whylen, "Authorization header requires 'Credential', 'SignedHeaders' and "
				 "'Signature' parameters.");
		return SIGV4_MALFORMED;
	}
	const char *d = httpmsg_get(rq, "x-amz-date");
	if (!d || strlen(d) != 16 || sigv4_time_parse(d, &au->time) < 0) {
		fmt(why, whylen, "Authorization header requires existence of a valid 'X-Amz-Date' "
				 "header (YYYYMMDDTHHMMSSZ).");
		return SIGV4_MALFORMED;
	}
	memcpy(au->amz_date, d, 17);
	return SIGV4_OK;
}

static enum sigv4_status parse_query(const struct httpmsg_request *rq, struct sigv4_auth *au,
				     char *why, size_t whylen)
{
	char v[SIGV4_SIGNED_MAX];
	au->presigned = 1;
	if (query_get(rq->raw_query, "X-Amz-Algorithm", v, sizeof v) != 1 ||
	    strcmp(v, SIGV4_ALGORITHM) != 0) {
		fmt(why, whylen, "X-Amz-Algorithm must be AWS4-HMAC-SHA256.");
		return SIGV4_MALFORMED;
	}
	if (query_get(rq->raw_query, "X-Amz-Credential", v, sizeof v) != 1 ||
	    parse_credential(v, strlen(v), au) < 0) {
		fmt(why, whylen, "X-Amz-Credential is missing or malformed.");
		return SIGV4_MALFORMED;
	}
	if (query_get(rq->raw_query, "X-Amz-SignedHeaders", v, sizeof v) != 1 ||
	    parse_signed_headers(v, strlen(v), 0, au) < 0) {
		fmt(why, whylen, "X-Amz-SignedHeaders is missing or malformed (it must name host).");
		return SIGV4_MALFORMED;
	}
	if (query_get(rq->raw_query, "X-Amz-Signature", v, sizeof v) != 1 ||
	    parse_signature(v, strlen(v), au) < 0) {
		fmt(why, whylen, "X-Amz-Signature is missing or malformed.");
		return SIGV4_MALFORMED;
	}
	if (query_get(rq->raw_query, "X-Amz-Date", v, sizeof v) != 1 ||
	    sigv4_time_parse(v, &au->time) < 0) {
		fmt(why, whylen, "X-Amz-Date is missing or malformed (YYYYMMDDTHHMMSSZ).");
		return SIGV4_MALFORMED;
	}
	memcpy(au->amz_date, v, 17);
	if (query_get(rq->raw_query, "X-Amz-Expires", v, sizeof v) != 1 ||
	    digits(v, (int)strlen(v), &au->expires) < 0 || !v[0] || strlen(v) > 7 ||
	    au->expires < 1 || au->expires > SIGV4_PRESIGN_MAX) {
		fmt(why, whylen, "X-Amz-Expires must be 1..%d seconds.", SIGV4_PRESIGN_MAX);
		return SIGV4_MALFORMED;
	}
	return SIGV4_OK;
}

enum sigv4_status sigv4_parse(const struct httpmsg_request *rq, struct sigv4_auth *au, char *why,
			      size_t whylen)
{
	char alg[64];
	memset(au, 0, sizeof *au);
	const char *h = httpmsg_get(rq, "authorization");
	int q = query_get(rq->raw_query, "X-Amz-Algorithm", alg, sizeof alg) != 0;
	if (h && q) {
		fmt(why, whylen, "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
				 "parameter or the Authorization header should be specified.");
		return SIGV4_MALFORMED;
	}
	if (h)
		return parse_header(h, rq, au, why, whylen);
	if (q)
		return parse_query(rq, au, why, whylen);
	fmt(why, whylen, "Missing Authentication Token");
	return SIGV4_MISSING;
}

enum sigv4_status sigv4_check_time(const struct sigv4_auth *au, int64_t now, char *why,
				   size_t whylen)
{
	char a[17], b[17];
	sigv4_time_format(now, b);
	if (au->presigned) {
		if (au->time - now > SIGV4_SKEW) {
			fmt(why, whylen, "Request is not yet valid (X-Amz-Date %s, now %s).",
			    au->amz_date, b);
			return SIGV4_EXPIRED;
		}
		if (now > au->time + au->expires) {
			fmt(why, whylen, "Request has expired (X-Amz-Date %s + %lld s, now %s).",
			    au->amz_date, (long long)au->expires, b);
			return SIGV4_EXPIRED;
		}
		return SIGV4_OK;
	}
	if (now - au->time > SIGV4_SKEW) {
		sigv4_time_format(now - SIGV4_SKEW, a);
		fmt(why, whylen, "Signature expired: %s is now earlier than %s (%s - 5 min.)",
		    au->amz_date, a, b);
		return SIGV4_EXPIRED;
	}
	if (au->time - now > SIGV4_SKEW) {
		sigv4_time_format(now + SIGV4_SKEW, a);
		fmt(why, whylen, "Signature not yet current: %s is still later than %s (%s + 5 min.)",
		    au->amz_date, a, b);
		return SIGV4_EXPIRED;
	}
	return SIGV4_OK;
}

enum sigv4_status sigv4_verify(const struct httpmsg_request *rq, const struct sigv4_auth *au,
			       const char *secret, char *why, size_t whylen)
{
	static const char mismatch[] =
		"The request signature we calculated does not match the signature you provided. "
		"Check your AWS Secret Access Key and signing method. Consult the service "
		"documentation for details.";
	if (memcmp(au->scope_date, au->amz_date, 8) != 0) {
		fmt(why, whylen, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
				 "version of date from HTTP: '%s' != '%.8s', from '%s'.",
		    au->scope_date, au->amz_date, au->amz_date);
		return SIGV4_MISMATCH;
	}
	struct sb b = { 0 };
	enum sigv4_status st = build_creq(rq, au, &b, why, whylen);
	if (st == SIGV4_OK) {
		char sig[65];
		if (compute_signature(secret, au, b.p, b.len, sig) < 0 ||
		    CRYPTO_memcmp(sig, au->signature, 64) != 0) {
			fmt(why, whylen, "%s", mismatch);
			st = SIGV4_MISMATCH;
		}
		OPENSSL_cleanse(sig, sizeof sig);
	}
	free(b.p);
	return st;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sigv4_sign(const struct httpmsg_request *rq, const char *access_key, const char *secret,
	       const char *region, const char *service, const char *amz_date, char *out,
	       size_t outlen)
{
	struct sigv4_auth au;
	char names[HTTPMSG_HEADERS_MAX][SIGV4_FIELD_MAX];
	const char *sorted[HTTPMSG_HEADERS_MAX];
	unsigned n = 0;
	memset(&au, 0, sizeof au);
	if (strlen(access_key) >= sizeof au.access_key || strlen(region) >= sizeof au.region ||
	    strlen(service) >= sizeof au.service || strlen(amz_date) != 16 ||
	    sigv4_time_parse(amz_date, &au.time) < 0)
		return -1;
	strcpy(au.access_key, access_key);
	strcpy(au.region, region);
	strcpy(au.service, service);
	memcpy(au.amz_date, amz_date, 17);
	memcpy(au.scope_date, amz_date, 8);
	for (unsigned i = 0; i < rq->nheaders && i < HTTPMSG_HEADERS_MAX; i++) {
		const char *hn = rq->headers[i].name;
		size_t l = strlen(hn);
		if (l == 0 || l >= SIGV4_FIELD_MAX || strcasecmp(hn, "authorization") == 0)
			continue;
		for (size_t k = 0; k <= l; k++)
			names[n][k] = (char)(hn[k] >= 'A' && hn[k] <= 'Z' ? hn[k] + 32 : hn[k]);
		sorted[n] = names[n];
		n++;
	}
	qsort(sorted, n, sizeof *sorted, name_cmp);
	size_t used = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		size_t l = strlen(sorted[i]);
		if (used + l + 2 > sizeof au.signed_headers)
			return -1;
		if (used)
			au.signed_headers[used++] = ';';
		memcpy(au.signed_headers + used, sorted[i], l + 1);
		used += l;
	}
	if (parse_signed_headers(au.signed_headers, strlen(au.signed_headers), 1, &au) < 0)
		return -1;
	const char *d = httpmsg_get(rq, "x-amz-date");
	if (!d || strcmp(d, amz_date) != 0)
		return -1;
	struct sb b = { 0 };
	char sig[65];
	int rc = -1;
	if (build_creq(rq, &au, &b, NULL, 0) == SIGV4_OK &&
	    compute_signature(secret, &au, b.p, b.len, sig) == 0) {
		int m = snprintf(out, outlen,
				 "%s Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
				 "Signature=%s",
				 SIGV4_ALGORITHM, au.access_key, au.scope_date, au.region,
				 au.service, au.signed_headers, sig);
		rc = m < 0 || (size_t)m >= outlen ? -1 : 0;
	}
	free(b.p);
	return rc;
}
