/*
 * api_ident.h - resource identifiers and ARNs (pure).
 *
 * hearth's ARNs: arn:hearth:lambda:local:000000000000:microvm:ID,
 * arn:hearth:lambda:local:000000000000:microvm-image:NAME and, for managed
 * images, arn:hearth:lambda:local:aws:microvm-image:NAME. Any partition and
 * region are accepted on input (so AWS ARNs resolve); the account "aws"
 * marks a managed image.
 */
#ifndef HEARTH_API_IDENT_H
#define HEARTH_API_IDENT_H

#include <stddef.h>

#include "api_json.h"

#define API_ID_MAX 64
#define API_NAME_MAX 128
#define API_ARN_PREFIX "arn:hearth:lambda:local:"
#define API_ACCOUNT "000000000000"
#define API_MANAGED_ACCOUNT "aws"

enum api_res_kind { API_RES_MICROVM = 1, API_RES_IMAGE = 2 };

struct api_ident {
	int kind;     /* enum api_res_kind */
	int managed;  /* image ARN in the "aws" account */
	int is_arn;
	char name[API_NAME_MAX + 1]; /* VM id or image name */
};

/* A microVM identifier (id or ARN). Bad syntax is a ValidationException. */
int api_ident_microvm(const char *s, struct api_ident *out, struct api_err *e);
/* An image identifier (name or ARN). */
int api_ident_image(const char *s, struct api_ident *out, struct api_err *e);
/* Any taggable resource ARN (microvm or microvm-image). */
int api_ident_resource(const char *s, struct api_ident *out, struct api_err *e);
/* An image version string: [A-Za-z0-9._-]{1,64}. */
int api_ident_version(const char *s, struct api_err *e);
/* Build ARNs. */
int api_ident_microvm_arn(const char *id, char *out, size_t n);
int api_ident_image_arn(const char *name, int managed, char *out, size_t n);

#endif
