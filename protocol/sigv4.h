/*
 * sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256), both sides: parse
 * and verify a request's signature, and sign a request (pure: no I/O, no
 * clock; libcrypto for SHA-256 and HMAC).
 *
 * The signature covers the canonical request:
 *   METHOD \n canonical URI \n canonical query \n canonical headers \n
 *   signed headers \n payload hash
 * with the canonical URI the raw path with dot segments and empty segments
 * removed, then every byte outside A-Z a-z 0-9 - _ . ~ / percent-encoded
 * again (the non-S3 rule: an already encoded path is encoded twice, as
 * botocore and the JS SDK do); the query decoded, re-encoded the same way
 * ('/' too), sorted by name then value; the signed headers' names lowercase
 * and their values trimmed with inner runs of blanks collapsed, repeated
 * headers joined by ','; the payload hash sha256(body) in hex (a
 * x-amz-content-sha256 header must equal it). The key is derived by the HMAC
 * chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
 * Never log a secret or a signature.
 */
#ifndef HEARTH_SIGV4_H
#define HEARTH_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/httpmsg.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_SKEW 300            /* seconds a signed request's date may be off */
#define SIGV4_PRESIGN_MAX 604800  /* longest X-Amz-Expires (7 days, as AWS) */
#define SIGV4_FIELD_MAX 128       /* access key id, region, service */
#define SIGV4_SIGNED_MAX 2048     /* the SignedHeaders list */
#define SIGV4_CREQ_MAX (1u << 20) /* longest canonical request built */

enum sigv4_status {
	SIGV4_OK = 0,
	SIGV4_MISSING,   /* neither an Authorization header nor X-Amz-Algorithm */
	SIGV4_MALFORMED, /* present but incomplete or not parseable */
	SIGV4_MISMATCH,  /* well-formed, but the signature or payload hash is wrong */
	SIGV4_EXPIRED,   /* the date is outside the skew window, or presign expired */
};

/* What a request says about its signature. */
struct sigv4_auth {
	int presigned; /* from the X-Amz-* query parameters */
	char access_key[SIGV4_FIELD_MAX];
	char scope_date[9]; /* YYYYMMDD */
	char region[SIGV4_FIELD_MAX];
	char service[SIGV4_FIELD_MAX];
	char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
	int64_t time;      /* amz_date, epoch seconds */
	int64_t expires;   /* presigned: X-Amz-Expires seconds */
	char signed_headers[SIGV4_SIGNED_MAX]; /* "host;x-amz-date", lowercase, sorted */
	char signature[65];                    /* lowercase hex */
};

/*
 * Find and parse the signature of rq. SIGV4_OK, SIGV4_MISSING or
 * SIGV4_MALFORMED (why says what, without secrets).
 */
enum sigv4_status sigv4_parse(const struct httpmsg_request *rq, struct sigv4_auth *au, char *why,
			      size_t whylen);

/* SIGV4_OK when au's date is within SIGV4_SKEW of now (and a presigned
 * request has not expired), else SIGV4_EXPIRED with AWS's message in why. */
enum sigv4_status sigv4_check_time(const struct sigv4_auth *au, int64_t now, char *why,
				   size_t whylen);

/* SIGV4_OK when au's signature over rq is right for secret (compared in
 * constant time); SIGV4_MISMATCH or SIGV4_MALFORMED otherwise. */
enum sigv4_status sigv4_verify(const struct httpmsg_request *rq, const struct sigv4_auth *au,
			       const char *secret, char *why, size_t whylen);

/*
 * Sign rq with every header it carries (it must carry Host and X-Amz-Date
 * = amz_date; Authorization is never signed) and write the Authorization
 * header's value to out. 0, or -1 (bad input, or out too small).
 */
int sigv4_sign(const struct httpmsg_request *rq, const char *access_key, const char *secret,
	       const char *region, const char *service, const char *amz_date, char *out,
	       size_t outlen);

/* The canonical request of rq under au (for tests and debugging): its
 * length, or -1 when it does not fit outlen. */
int sigv4_canonical_request(const struct httpmsg_request *rq, const struct sigv4_auth *au,
			    char *out, size_t outlen);

/* "YYYYMMDDTHHMMSSZ" <-> epoch seconds. Parse: 0 or -1. */
int sigv4_time_parse(const char *s, int64_t *t);
void sigv4_time_format(int64_t t, char out[17]);

/* Lowercase hex sha256 of data into out (65 bytes). */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
