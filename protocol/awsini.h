/*
 * awsini.h - the profiles of an AWS shared-credentials or config file
 * (~/.aws/credentials, ~/.aws/config): "[name]" sections of "key = value"
 * lines, '#' and ';' comments (pure: the caller reads the file).
 */
#ifndef HEARTH_AWSINI_H
#define HEARTH_AWSINI_H

#include <stddef.h>

#define AWSINI_NAME_MAX 128
#define AWSINI_SECRET_MAX 256

struct awsini_profile {
	char name[AWSINI_NAME_MAX];          /* "hearth", or "profile hearth" in a config file */
	char key_id[AWSINI_NAME_MAX];        /* aws_access_key_id, "" when absent */
	char secret[AWSINI_SECRET_MAX + 1];  /* aws_secret_access_key, "" when absent */
	char region[AWSINI_NAME_MAX];        /* region, "" when absent */
	int too_long;                        /* a name or value did not fit: do not use it */
};

/*
 * Where the file lives: file_env (the value of $AWS_SHARED_CREDENTIALS_FILE
 * or $AWS_CONFIG_FILE) when set and not empty, else home/.aws/base (base is
 * "credentials" or "config"). 0, or -1 without a usable home or when the path
 * does not fit in outlen bytes. file_env and home may be NULL.
 */
int awsini_path(const char *file_env, const char *home, const char *base, char *out,
		size_t outlen);

/*
 * The next section of text[0..len) at or after *pos: 1 with out filled and
 * *pos advanced past it, 0 at the end. Lines before the first section are
 * skipped.
 */
int awsini_next(const char *text, size_t len, size_t *pos, struct awsini_profile *out);

/* The section named name: 1 found (out filled), 0 not. */
int awsini_find(const char *text, size_t len, const char *name, struct awsini_profile *out);

/*
 * text with section [name] replaced by (or, when missing, appended as)
 * "[name]\n" + body; every other byte is kept. With keep_existing an existing
 * section stays as it is. A new string (free it), or NULL.
 */
char *awsini_set_section(const char *text, const char *name, const char *body,
			 int keep_existing);

#endif
