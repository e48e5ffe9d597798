/*
 * auth.h - who may call the API: AWS Signature Version 4, verified by hearthd.
 *
 * Keys: hearthd's own access key pair, made at first start in the state
 * directory (0600) and written as the AWS shared-credentials profile
 * "hearth"; or the keys of `hearthd --credentials FILE` (several may exist).
 * A request is accepted when it is signed (Authorization header, or the
 * X-Amz-* query parameters) by a known key within the clock-skew window,
 * with the payload hash it names matching the body. Secrets are compared in
 * constant time and never logged.
 */
#ifndef HEARTH_AUTH_H
#define HEARTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/api_json.h"
#include "protocol/httpmsg.h"

struct auth;

/*
 * Load (or, when missing, create) the key pair in state_dir; with
 * credentials_file (may be NULL) use the keys listed there instead. With
 * write_profile, write/update the profile "hearth" in the user's AWS shared
 * credentials file. 0, or -1 with err filled.
 */
int auth_open(const char *state_dir, const char *credentials_file, int write_profile,
	      struct auth **out, char *err, size_t errlen);
void auth_close(struct auth *a);

/*
 * 0 when rq is signed by a known key; otherwise -1 with e filled
 * (MissingAuthenticationTokenException, UnrecognizedClientException,
 * InvalidSignatureException, ...; all answered with 403). now is epoch
 * seconds. Never changes state.
 */
int auth_check(const struct auth *a, const struct httpmsg_request *rq, int64_t now,
	       struct api_err *e);

/*
 * The API server's hook (httpd_auth_fn in session/httpd.h), registered by
 * hearthd with ctx = the struct auth: auth_check at hd_now(); a refusal is
 * logged by method, path and error name only.
 */
int auth_httpd_hook(void *ctx, const struct httpmsg_request *rq, struct api_err *e);

#endif
