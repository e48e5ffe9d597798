/*
 * api_hook.h - the lifecycle hook HTTP exchange (pure): the request hearthd
 * sends to the image's hook port and the parse of the answer's status line.
 * POST /aws/lambda-microvms/runtime/v1/{ready|validate|run|resume|suspend|terminate}
 */
#ifndef HEARTH_API_HOOK_H
#define HEARTH_API_HOOK_H

#include <stddef.h>

#include "buf.h"

#define API_HOOK_PATH "/aws/lambda-microvms/runtime/v1/"
#define API_HOOK_MAX_RESPONSE 65536

/* Append the whole request (Connection: close) to b; 0 or -1. */
int api_hook_request(struct buf *b, const char *hook, const void *body, size_t len);
/*
 * Look at the response bytes received so far. Returns 1 with *status set
 * once the status line is complete, 0 when more bytes are needed, -1 when
 * the bytes are not an HTTP/1.x response.
 */
int api_hook_status(const char *p, size_t n, int *status);

#endif
