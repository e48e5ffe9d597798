/*
 * api_run.h - the RunMicrovm request model and its validation (pure).
 */
#ifndef HEARTH_API_RUN_H
#define HEARTH_API_RUN_H

#include "api_json.h"

#define API_MAX_HOOK_PAYLOAD 16384
#define API_MAX_DURATION 28800 /* seconds: default and cap of maximumDurationInSeconds */
#define API_MIN_IDLE 60        /* spec minimum of maxIdleDurationSeconds */
#define API_MAX_IDLE INT32_MAX      /* the spec sets only a minimum */
#define API_MAX_SUSPENDED INT32_MAX
#define API_MAX_CONNECTORS 10
#define API_MAX_ARN 2048
#define API_MAX_CLIENT_TOKEN 64

struct api_run_req {
	const char *image;          /* imageIdentifier (required) */
	const char *image_version;  /* optional */
	const char *execution_role; /* optional */
	int has_idle;
	int64_t max_idle, suspended;
	int auto_resume;
	const char *hook_payload; /* optional, length hook_payload_len */
	size_t hook_payload_len;
	int64_t max_duration;     /* API_MAX_DURATION when absent */
	int has_max_duration;
	const char *ingress[API_MAX_CONNECTORS];
	unsigned n_ingress;
	const char *egress[API_MAX_CONNECTORS];
	unsigned n_egress;
	const char *logging_kind; /* "disabled", "cloudWatch" or NULL */
	const char *client_token; /* optional */
};

/*
 * Validate a parsed body. min_idle is API_MIN_IDLE except in test
 * configurations. Strings point into `body` and live as long as it does.
 */
int api_run_parse(struct json_object *body, int64_t min_idle, struct api_run_req *out,
		  struct api_err *e);
/* A fingerprint of every field except clientToken, to detect a reused token. */
uint64_t api_run_fingerprint(const struct api_run_req *r);

#endif
