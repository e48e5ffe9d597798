/*
 * tlsfront.h - the ingress listener and hearthd's own TLS for HTTP/2 by ALPN.
 *
 * hearthd accepts every ingress connection itself and peeks (MSG_PEEK: the
 * bytes stay in the socket) at the TLS ClientHello (protocol/tlshello.h):
 *  - a client that offers "h2" in ALPN, for a microVM's name (SNI) or by
 *    address (no SNI), gets TLS from hearthd (OpenSSL,
 *    non-blocking, in the event loop; certificate by SNI as certcache.h
 *    picks it; ALPN selects h2) and its decrypted bytes go to ingress.c's
 *    front end (ingress_front.h), which hands the HTTP/2 preface to h2srv;
 *  - every other connection (no ALPN, http/1.1 only, another name such as
 *    localhost, the web terminal's origin; not TLS at all) is
 *    handed untouched to libwebsockets' ingress vhost, which does TLS,
 *    HTTP/1.1 and WebSocket as before.
 * libwebsockets 4.1.6 cannot serve the first kind itself: it moves any TLS
 * connection that negotiated h2 to its own h2 role (see h2srv.h).
 * Limits: the ClientHello and the TLS handshake must come within
 * TLSFRONT_HANDSHAKE_S; at most TLSFRONT_MAX_HANDSHAKES are in progress
 * (past that the oldest is closed once it has stalled TLSFRONT_EVICT_MS:
 * stalled clients cannot lock others out; until then new connections wait
 * in the listen backlog, so a burst of honest clients is never dropped)
 * and at most TLSFRONT_MAX_CONNS h2 connections are open (past that, new
 * ones go to libwebsockets and HTTP/1.1).
 */
#ifndef HEARTH_TLSFRONT_H
#define HEARTH_TLSFRONT_H

#include <stddef.h>

#include "session/hearthd.h"

#define TLSFRONT_HANDSHAKE_S 10
#define TLSFRONT_MAX_HANDSHAKES 256
#define TLSFRONT_EVICT_MS 1000
#define TLSFRONT_MAX_CONNS 1024

struct lws_vhost;

/* Listen on host:port; hand non-h2 connections to vh's protocol proto (a
 * raw-skt TLS vhost without a listener of its own). cert/key: the default certificate (PEM files);
 * per_vm: pick leaves by SNI (certcache.h). 0, or -1 with err. */
int tlsfront_start(struct hearthd *hd, const char *host, int port, const char *cert,
		   const char *key, int per_vm, struct lws_vhost *vh, const char *proto, char *err,
		   size_t errlen);

#endif
