/*
 * ingress.h - the HTTPS front end of the microVM endpoints: a TLS
 * libwebsockets vhost (raw role: HTTP and WebSocket are spoken by
 * protocol/wsproto) on --ingress-listen in hearthd's event loop.
 *
 * Each connection's request head is routed by a dispatch table in
 * ingress.c (Host "<microvm-id>.<domain>[:port]" or, by address, the VM
 * the token names; upgrade, token kind) to
 * a handler that then owns the connection through ingress_conn.h: the
 * shell WebSocket (shellws.h, PROTOCOL.md section 2), the app proxy
 * (proxy.h) or, for a Host that names no VM, the web terminal (webterm.h).
 * Handlers reach a VM's agent through agentlink.h.
 */
#ifndef HEARTH_INGRESS_H
#define HEARTH_INGRESS_H

#include <stddef.h>

#include "session/hearthd.h"

/*
 * Add the ingress vhost to hd->lws: cert and key from --tls-cert/--tls-key,
 * else hearthd's own CA and certificate in <state>/tls/ (made on first
 * start). 0, or -1 with err (the API keeps working without the ingress).
 */
int ingress_start(struct hearthd *hd, char *err, size_t errlen);

/* The VM a request is for, as the ingress routes it (its Host
 * "<microvm-id>.localhost[:port]"), "" for none: the HTTP/2 front end
 * (h2srv.c) routes each stream by it. */
struct wsp_request;
void ingress_vm_of(struct hearthd *hd, const struct wsp_request *r, char *id, size_t idlen);

#endif
