/*
 * apicreds.h - the key the hearth client signs API requests with (AWS
 * SigV4), found as the AWS SDKs find theirs: $AWS_ACCESS_KEY_ID and
 * $AWS_SECRET_ACCESS_KEY, else profile $AWS_PROFILE (default "hearth",
 * which hearthd writes) of $AWS_SHARED_CREDENTIALS_FILE (default
 * ~/.aws/credentials). Never print the secret.
 */
#ifndef HEARTH_APICREDS_H
#define HEARTH_APICREDS_H

#include <stddef.h>

#include "protocol/awsini.h"

#define APICREDS_DEFAULT_PROFILE "hearth"
#define APICREDS_SERVICE "lambda" /* the signing name; hearthd accepts any */

struct apicreds {
	char key_id[AWSINI_NAME_MAX];
	char secret[AWSINI_SECRET_MAX + 1];
	char region[AWSINI_NAME_MAX];
};

/* 0, or -1 with err saying where it looked and how to fix it. */
int apicreds_load(struct apicreds *c, char *err, size_t errlen);

#endif
