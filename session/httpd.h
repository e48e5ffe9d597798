/*
 * httpd.h - the API's HTTP front end on libwebsockets.
 */
#ifndef HEARTH_HTTPD_H
#define HEARTH_HTTPD_H

#include <stddef.h>

#include "protocol/api_json.h"
#include "protocol/httpmsg.h"
#include "session/hearthd.h"

#define HTTPD_DISCARD_MAX (16u * 1024 * 1024) /* larger bodies: answer at once and close */

struct lws_protocols;
extern const struct lws_protocols *httpd_protocol_list(void);
/* The API protocol (first in the vhost's list: it also gets the event-loop
 * wake-ups that carry worker results). */
/*
 * Called for every API request before routing: 0 lets it through, -1 refuses
 * it with e (answered with routes_status(e->type)). Registered by hearthd
 * (auth_httpd_hook); none registered lets everything through.
 */
typedef int (*httpd_auth_fn)(void *ctx, const struct httpmsg_request *rq, struct api_err *e);
void httpd_set_auth(httpd_auth_fn fn, void *ctx);

/* Split "host:port"; 0 or -1. */
int httpd_parse_listen(const char *s, char *host, size_t hostlen, int *port);

#endif
