/*
 * httpd.h - the API's HTTP/1.1 listener: libwebsockets only for the socket
 * and the event loop (a raw-socket vhost); the bytes go to our own strict
 * connection core (session/httpconn.h over protocol/httpsrv.h).
 */
#ifndef HEARTH_HTTPD_H
#define HEARTH_HTTPD_H

#include <stddef.h>

#include "protocol/api_json.h"
#include "protocol/httpmsg.h"
#include "session/hearthd.h"

/*
 * Who may call: run on every well-framed request before it is routed. 0 lets
 * it through; -1 (e filled) answers 403 with e->type and e->msg, and the
 * connection stays open.
 */
typedef int (*httpd_auth_fn)(void *ctx, const struct httpmsg_request *rq, struct api_err *e);
/* Set (or with NULL, clear) the check; before or after the listener starts. */
void httpd_set_auth(httpd_auth_fn fn, void *ctx);

struct lws_protocols;
struct lws_context_creation_info;
/* The API protocol (first in the vhost's list: it also gets the event-loop
 * wake-ups that carry worker results). */
extern const struct lws_protocols *httpd_protocol_list(void);
/* Make info (the context's own vhost) the API listener: its protocols, and
 * accepted sockets adopted raw. Call after info->options is set. */
void httpd_vhost_info(struct lws_context_creation_info *info);
/* Split "host:port"; 0 or -1. */
int httpd_parse_listen(const char *s, char *host, size_t hostlen, int *port);

#endif
