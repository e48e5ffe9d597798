/*
 * auth.c - the API's keys and the SigV4 check (session/auth.h).
 *
 * hearthd's own key pair lives in STATE/credentials, an AWS
 * shared-credentials file with one profile [hearth] (0600, made once with
 * getrandom). `--credentials FILE` replaces it: every profile of FILE with
 * both aws_access_key_id and aws_secret_access_key is a key. With
 * write_profile the own pair is copied as profile [hearth] into the user's
 * shared credentials file, and [profile hearth] with a region into the
 * config file, other profiles kept byte for byte, so AWS_PROFILE=hearth
 * works for every SDK.
 */
#include "session/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/awsini.h"
#include "protocol/sigv4.h"
#include "session/identity.h"
#include "session/hearthd.h"

#define AUTH_PROFILE "hearth"
#define AUTH_REGION "us-east-1"
#define AUTH_KEYS_MAX 64
#define AUTH_FILE_MAX (1u << 20) /* largest credentials/config file read */
#define AUTH_SECRET_MAX AWSINI_SECRET_MAX

struct auth_key {
	char id[SIGV4_FIELD_MAX];
	char secret[AUTH_SECRET_MAX + 1];
};

struct auth {
	struct auth_key keys[AUTH_KEYS_MAX];
	size_t nkeys;
};

/* ---- small file helpers ---- */

/* The whole file, NUL-terminated (malloc'd); NULL with errno (ENOENT too). */
static char *slurp(const char *path, size_t *len, int need_private)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)AUTH_FILE_MAX ||
	    (need_private && (st.st_mode & 077))) {
		close(fd);
		errno = need_private && (st.st_mode & 077) ? EPERM : EINVAL;
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* Write data to path atomically (tmp + rename) with mode. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX + 16];
	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
fail:;
	int e = errno;
	close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/* mkdir -p of path's parent directory (new directories 0700). */
static int mkparent(const char *path)
{
	char d[PATH_MAX];
	if (snprintf(d, sizeof d, "%s", path) >= (int)sizeof d)
		return -1;
	char *slash = strrchr(d, '/');
	if (!slash || slash == d)
		return 0;
	*slash = '\0';
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(d, 0700) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(d, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- the shared-credentials (INI) format ---- */

static int add_key(struct auth *a, const char *id, const char *secret, char *err, size_t errlen)
{
	if (!*id || !*secret)
		return 0;
	if (strlen(id) >= sizeof a->keys[0].id || strlen(secret) > AUTH_SECRET_MAX) {
		snprintf(err, errlen, "an access key id or secret is too long");
		return -1;
	}
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9'))) {
			snprintf(err, errlen, "access key id %s: only letters and digits", id);
			return -1;
		}
	for (size_t i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i].id, id) == 0) {
			if (strcmp(a->keys[i].secret, secret) != 0) {
				snprintf(err, errlen, "access key id %s is listed twice with "
						      "different secrets", id);
				return -1;
			}
			return 0;
		}
	if (a->nkeys >= AUTH_KEYS_MAX) {
		snprintf(err, errlen, "more than %d keys", AUTH_KEYS_MAX);
		return -1;
	}
	snprintf(a->keys[a->nkeys].id, sizeof a->keys[0].id, "%s", id);
	snprintf(a->keys[a->nkeys].secret, sizeof a->keys[0].secret, "%s", secret);
	a->nkeys++;
	return 0;
}

/* Every profile of an AWS shared-credentials file with both keys. */
static int load_keys(struct auth *a, const char *path, int need_private, char *err,
		     size_t errlen)
{
	size_t len, pos = 0;
	char *text = slurp(path, &len, need_private);
	if (!text) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == EPERM ? "must not be readable by others (chmod 600)"
					: strerror(errno));
		return -1;
	}
	struct awsini_profile p;
	int rc = 0;
	while (rc == 0 && awsini_next(text, len, &pos, &p)) {
		if (p.too_long) {
			snprintf(err, errlen, "%s: profile %s: a value is too long", path, p.name);
			rc = -1;
		} else {
			rc = add_key(a, p.key_id, p.secret, err, errlen);
		}
	}
	OPENSSL_cleanse(&p, sizeof p);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc == 0 && a->nkeys == 0) {
		snprintf(err, errlen, "%s: no profile with aws_access_key_id and "
				      "aws_secret_access_key", path);
		rc = -1;
	}
	return rc;
}

static int update_file(const char *path, const char *section, const char *body,
		       int keep_existing, char *err, size_t errlen)
{
	size_t len = 0;
	char *old = slurp(path, &len, 0);
	if (!old && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = awsini_set_section(old ? old : "", section, body, keep_existing);
	int rc = -1;
	if (!text)
		snprintf(err, errlen, "out of memory");
	else if (mkparent(path) < 0 || write_atomic(path, text, strlen(text), 0600) < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		rc = 0;
	if (old)
		OPENSSL_cleanse(old, len);
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(old);
	free(text);
	return rc;
}

/* $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; $AWS_CONFIG_FILE or ~/.aws/config. */
static int aws_path(const char *env, const char *base, char *out, size_t outlen)
{
	return awsini_path(getenv(env), getenv("HOME"), base, out, outlen);
}

static int write_profile_files(const struct auth_key *k, char *err, size_t errlen)
{
	char path[PATH_MAX], body[512];
	if (aws_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path) < 0) {
		snprintf(err, errlen, "no $HOME or $AWS_SHARED_CREDENTIALS_FILE for the AWS profile");
		return -1;
	}
	snprintf(body, sizeof body, "aws_access_key_id = %s\naws_secret_access_key = %s\n", k->id,
		 k->secret);
	int rc = update_file(path, AUTH_PROFILE, body, 0, err, errlen);
	OPENSSL_cleanse(body, sizeof body);
	if (rc < 0)
		return -1;
	if (aws_path("AWS_CONFIG_FILE", "config", path, sizeof path) < 0) {
		snprintf(err, errlen, "no $HOME or $AWS_CONFIG_FILE for the AWS profile");
		return -1;
	}
	/* A [profile hearth] the user edited (region, output) is theirs. */
	return update_file(path, "profile " AUTH_PROFILE, "region = " AUTH_REGION "\n", 1, err,
			   errlen);
}

/* ---- hearthd's own key pair ---- */

/* n characters of alphabet (a power-of-two size) from getrandom. */
static int random_chars(char *out, size_t n, const char *alphabet, unsigned mask)
{
	unsigned char r[64];
	if (n > sizeof r || getrandom(r, n, 0) != (ssize_t)n)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[r[i] & mask];
	out[n] = '\0';
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}

static int create_own_key(const char *path, char *err, size_t errlen)
{
	char id[21], secret[41], text[256];
	memcpy(id, "AKIA", 4);
	if (random_chars(id + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 31) < 0 ||
	    random_chars(secret, 40,
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
			 63) < 0) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	int n = snprintf(text, sizeof text,
			 "# hearthd's API key (AWS shared-credentials format)\n[%s]\n"
			 "aws_access_key_id = %s\naws_secret_access_key = %s\n",
			 AUTH_PROFILE, id, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ok = fd >= 0 && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	int e = errno;
	OPENSSL_cleanse(text, sizeof text);
	if (fd >= 0)
		close(fd);
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(e));
		return -1;
	}
	/* link() fails when another hearthd made the key meanwhile: theirs wins. */
	if (link(tmp, path) < 0 && errno != EEXIST) {
		e = errno;
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	unlink(tmp);
	return 0;
}

int auth_open(const char *state_dir, const char *credentials_file, int write_profile,
	      struct auth **out, char *err, size_t errlen)
{
	struct auth *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (credentials_file && *credentials_file) {
		if (load_keys(a, credentials_file, 0, err, errlen) < 0)
			goto fail;
		*out = a;
		return 0;
	}
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/credentials", state_dir) >= (int)sizeof path) {
		snprintf(err, errlen, "state directory path too long");
		goto fail;
	}
	if (access(path, F_OK) < 0 && create_own_key(path, err, errlen) < 0)
		goto fail;
	if (load_keys(a, path, 1, err, errlen) < 0)
		goto fail;
	if (write_profile && write_profile_files(&a->keys[0], err, errlen) < 0) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, " (hearthd --no-aws-profile does not write it)");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	auth_close(a);
	return -1;
}

void auth_close(struct auth *a)
{
	if (!a)
		return;
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

int auth_check(const struct auth *a, const struct httpmsg_request *rq, int64_t now,
	       struct api_err *e)
{
	struct sigv4_auth au;
	char why[API_ERR_MSG];
	switch (sigv4_parse(rq, &au, why, sizeof why)) {
	case SIGV4_OK:
		break;
	case SIGV4_MISSING:
		return api_fail(e, "MissingAuthenticationTokenException",
				"Missing Authentication Token");
	default:
		return api_fail(e, "IncompleteSignatureException", "%s", why);
	}
	const struct auth_key *k = NULL;
	for (size_t i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i].id, au.access_key) == 0)
			k = &a->keys[i];
	if (!k)
		return api_fail(e, "UnrecognizedClientException",
				"The security token included in the request is invalid.");
	if (sigv4_check_time(&au, now, why, sizeof why) != SIGV4_OK)
		return api_fail(e, "InvalidSignatureException", "%s", why);
	switch (sigv4_verify(rq, &au, k->secret, why, sizeof why)) {
	case SIGV4_OK:
		return 0;
	case SIGV4_MISMATCH:
		return api_fail(e, "InvalidSignatureException", "%s", why);
	default:
		return api_fail(e, "IncompleteSignatureException", "%s", why);
	}
}

int auth_httpd_hook(void *ctx, const struct httpmsg_request *rq, struct api_err *e)
{
	if (identity_public(rq))
		return 0; /* the identity keys are public by design (JWKS, discovery) */
	if (auth_check(ctx, rq, hd_now(), e) == 0)
		return 0;
	/* The error names the refusal; never the signature or a secret. */
	hd_log("api: refused %s %s: %s", rq->method ? rq->method : "?",
	       rq->raw_path ? rq->raw_path : "?", e->type);
	return -1;
}
