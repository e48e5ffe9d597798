/*
 * apicreds.c - find the client's API key (see apicreds.h).
 */
#include "shell/client/apicreds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (1u << 20)

/* The whole file (malloc'd, NUL-terminated) or NULL with errno. */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		close(fd);
		errno = EINVAL;
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
	if (buf) {
		buf[got] = '\0';
		*len = got;
	}
	return buf;
}

static int aws_path(const char *env, const char *base, char *out, size_t outlen)
{
	return awsini_path(getenv(env), getenv("HOME"), base, out, outlen);
}

/* region: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's in the config file, us-east-1. */
static void find_region(struct apicreds *c, const char *profile)
{
	const char *r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	snprintf(c->region, sizeof c->region, "%s", r && *r ? r : "us-east-1");
	if (r && *r)
		return;
	char path[4096], name[AWSINI_NAME_MAX + 8];
	size_t len;
	if (aws_path("AWS_CONFIG_FILE", "config", path, sizeof path) < 0)
		return;
	char *text = slurp(path, &len);
	if (!text)
		return;
	struct awsini_profile p;
	snprintf(name, sizeof name, "%s%s", strcmp(profile, "default") ? "profile " : "", profile);
	if (awsini_find(text, len, name, &p) && p.region[0] && !p.too_long)
		snprintf(c->region, sizeof c->region, "%s", p.region);
	free(text);
}

int apicreds_load(struct apicreds *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = APICREDS_DEFAULT_PROFILE;
	if (id && *id && secret && *secret) {
		if (strlen(id) >= sizeof c->key_id || strlen(secret) >= sizeof c->secret) {
			snprintf(err, errlen, "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is too long");
			return -1;
		}
		strcpy(c->key_id, id);
		strcpy(c->secret, secret);
		find_region(c, profile);
		return 0;
	}
	char path[4096];
	if (aws_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path) < 0) {
		snprintf(err, errlen, "no API credentials: set HOME, AWS_SHARED_CREDENTIALS_FILE, "
				      "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return -1;
	}
	size_t len;
	char *text = slurp(path, &len);
	struct awsini_profile p;
	int readable = text != NULL, e = errno;
	int found = text && awsini_find(text, len, profile, &p) && !p.too_long && p.key_id[0] &&
		    p.secret[0];
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (!found) {
		char where[4400];
		if (readable)
			snprintf(where, sizeof where, "%s has no profile [%s] with aws_access_key_id "
				 "and aws_secret_access_key", path, profile);
		else
			snprintf(where, sizeof where, "cannot read %s (%s)", path, strerror(e));
		snprintf(err, errlen,
			 "no API credentials: %s. hearthd writes profile [hearth] there at its "
			 "first start; or set AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, or "
			 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
			 where);
		return -1;
	}
	snprintf(c->key_id, sizeof c->key_id, "%s", p.key_id);
	snprintf(c->secret, sizeof c->secret, "%s", p.secret);
	explicit_bzero(&p, sizeof p);
	find_region(c, profile);
	return 0;
}
