/* token_out.h - print an {"authToken": {header: token}} answer. */
#ifndef HEARTH_TOKEN_OUT_H
#define HEARTH_TOKEN_OUT_H

#include "shell/client/api.h"

/* --json: the document; otherwise the token alone (one entry) or
 * "HEADER: token" lines. Returns 0, or API_EXIT_FAIL if there is no token. */
int token_out_print(const struct api *a, json_object *doc);

#endif
