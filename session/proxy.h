/*
 * proxy.h - the app proxy of the ingress (spec/ingress.md, PROTOCOL.md 3):
 * HTTP/1.1 and WebSocket from a client to a TCP port inside the VM, over a
 * MUX_KIND_TCP channel of the VM's shared agent link (agentlink.h).
 *
 * Every request on a connection is parsed, authorized (a proxy token for
 * this VM whose allowedPorts hold the target port) and rewritten
 * (protocol/httpreq.h) before it reaches the application; response bytes go
 * to the client as they come, acknowledged to the agent only as the client
 * connection takes them. One request is in flight at a time: the next one
 * waits in the (bounded) input until the response has ended, so a request
 * for another port closes the channel and opens a new one in between. After
 * a 101 the connection is a raw two-way pipe.
 */
#ifndef HEARTH_PROXY_H
#define HEARTH_PROXY_H

#include <stddef.h>

#include "session/ingress_conn.h"

#define PROXY_DEFAULT_PORT 8080
#define PROXY_WINDOW (256u * 1024)   /* output window granted per channel */
#define PROXY_IN_MAX (128u * 1024)   /* client bytes not yet forwarded */
#define PROXY_UP_MAX (64u * 1024)    /* forwarded bytes waiting for the agent's window */
#define PROXY_IDLE_MS 60000          /* a kept-alive connection without a request ends */

struct mux_frame;

/* The client's text for an app channel the agent refused (OPEN_FAIL) or
 * broke (ERROR), from frame f, on port; shared by HTTP/1.1 and h2. */
void proxy_fail_text(const struct mux_frame *f, unsigned port, char *msg, size_t n);

/* The ingress handler (ingress_handler_fn) for every request to a VM's Host
 * that is not the shell. */
void proxy_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		  size_t headlen, const char *vm_id);

#endif
