/*
 * api_imgreq.h - the CreateMicrovmImage / UpdateMicrovmImage request model
 * and its validation (pure), and UpdateMicrovmImageVersion's body.
 *
 * hearth's choices: codeArtifact.uri is file:///abs, an absolute path or
 * s3://bucket/key (artifact.h); cpuConfigurations accept ARM_64 and X86_64
 * (the build is always for this host's x86_64) and a hearth member "vcpus"
 * (1..API_IMGREQ_MAX_VCPUS); resources[0].minimumMemoryInMiB sizes the VMs.
 */
#ifndef HEARTH_API_IMGREQ_H
#define HEARTH_API_IMGREQ_H

#include "api_image.h"
#include "api_json.h"
#include "api_run.h"

#define API_IMGREQ_MAX_URI 2048
#define API_IMGREQ_MAX_DESC 256
#define API_IMGREQ_MAX_ENV 64        /* environment variables */
#define API_IMGREQ_MAX_ENV_TEXT 16384 /* their JSON text (builder.h BUILDER_ENV_JSON) */
#define API_IMGREQ_MIN_MEM 128
#define API_IMGREQ_MAX_MEM 32768
#define API_IMGREQ_MAX_VCPUS 16
#define API_IMGREQ_MAX_TAGS 50
/* The request fields a version keeps (api_imgreq_echo as text) fit this. */
#define API_IMGREQ_MAX_ECHO 32768

struct api_imgreq {
	const char *name;           /* CreateMicrovmImage only */
	const char *base_image_arn; /* required */
	const char *base_image_version;
	const char *build_role_arn; /* required (recorded; no IAM here) */
	const char *description;
	const char *uri;            /* codeArtifact.uri (required) */
	struct api_hooks hooks;     /* port 0: none */
	int has_hooks;
	int os_caps_all;
	unsigned mem_mib; /* 0: the base image's */
	unsigned vcpus;   /* 0: 1 */
	const char *egress[API_MAX_CONNECTORS];
	unsigned n_egress;
	const char *client_token;
	const char *logging_kind;
	/* Echo of the validated request fields (the API's version shape): a new
	 * reference owned by the request; api_imgreq_free drops it. */
	struct json_object *echo;
	struct json_object *tags; /* borrowed from the body, or NULL */
};

/* Validate a parsed body; update=1 for UpdateMicrovmImage (no name). Strings
 * point into body. 0, or -1 with e (echo freed). */
int api_imgreq_parse(struct json_object *body, int update, struct api_imgreq *r,
		     struct api_err *e);
void api_imgreq_free(struct api_imgreq *r);
/* An image name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. */
int api_imgreq_name(const char *s, struct api_err *e);
/* A fingerprint of the name, the echo and the tags (not clientToken). */
uint64_t api_imgreq_fingerprint(const struct api_imgreq *r);
/* The environmentVariables object's JSON text ("" when none). 0 or -1. */
int api_imgreq_env_text(const struct api_imgreq *r, char *out, size_t n);
/* UpdateMicrovmImageVersion: {"status": "ACTIVE"|"INACTIVE"}; *active set. */
int api_imgreq_version_status(struct json_object *body, int *active, struct api_err *e);

/* The build log extension's query (PROTOCOL.md 9): offset (NULL: 0, else
 * 0..API_IMGREQ_MAX_OFFSET) and maxBytes (NULL: API_IMGREQ_LOG_DEFAULT, else
 * 1..API_IMGREQ_LOG_MAX), decimal digits only. 0 or -1 with e. */
#define API_IMGREQ_MAX_OFFSET (INT64_MAX / 2)
#define API_IMGREQ_LOG_DEFAULT (64 * 1024)
#define API_IMGREQ_LOG_MAX (1024 * 1024)
int api_imgreq_logs_query(const char *offset, const char *max_bytes, int64_t *off,
			  int64_t *max, struct api_err *e);

#endif
