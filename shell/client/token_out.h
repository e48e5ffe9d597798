/* token_out.h - request a token and print the {"authToken": {header: token}} answer. */
#ifndef HEARTH_TOKEN_OUT_H
#define HEARTH_TOKEN_OUT_H

#include "shell/client/api.h"

/* POST req (released here) to path and print the token in the answer:
 * --json the document; otherwise the token alone (one entry) or
 * "HEADER: token" lines. Returns 0, the API error's exit code, or
 * API_EXIT_FAIL if the answer holds no token. */
int token_out_request(const struct api *a, const char *path, json_object *req);

#endif
