/*
 * shellws.h - the shell WebSocket (PROTOCOL.md section 2): the compatible
 * core (one shell per connection, lambda-microvms) and, for clients that
 * offer the subprotocol hearth.v1, the extensions of 2.3 (open, attach with
 * replay, several viewers, exec, signals, keepalive). The ingress routes a
 * WebSocket upgrade at / or /shell carrying a shell token of the Host's VM
 * here; shells live in shellhub.h, commands run through execchan.h.
 */
#ifndef HEARTH_SHELLWS_H
#define HEARTH_SHELLWS_H

#include <stddef.h>

#include "session/ingress_conn.h"

#define SHELLWS_PROTO "lambda-microvms"
#define SHELLWS_PROTO_V1 "hearth.v1"
#define SHELLWS_REQUEST_MS 30000    /* v1: the first request must come by then */
#define SHELLWS_PING_MS 20000       /* v1: WebSocket PING interval */
#define SHELLWS_IDLE_MS 60000       /* v1: close when nothing arrived for this long */
/* After hearthd's CLOSE is written out: hang up when the client has neither
 * answered it nor sent anything for this long (RFC 6455 7.1.1). */
#define SHELLWS_CLOSE_WAIT_MS 30000
/* ... and after a framing error, when the client's answer cannot be parsed:
 * hang up this long after hearthd's CLOSE is written out. */
#define SHELLWS_LOST_WAIT_MS 5000

/* The ingress handler (ingress_handler_fn) of the shell WebSocket. */
void shellws_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		    size_t headlen, const char *vm_id);

#endif
