/*
 * h2srv.h - HTTP/2 from clients at the ingress (PROTOCOL.md 3.4), on
 * nghttp2. A connection comes here from ingress.c's front end once its first
 * decrypted bytes are the HTTP/2 preface, over either transport of struct
 * ingress_conn: hearthd's own TLS (tlsfront.h: the client offered "h2" in
 * ALPN; libwebsockets 4.1.6 would move such a connection to its own h2 role,
 * rops_alpn_negotiated_h2, so hearthd terminates those itself), or
 * libwebsockets' raw TLS socket (ALPN http/1.1 or none, the preface with
 * prior knowledge, RFC 9113 3.3). HTTP/1.1 and WebSocket never come here.
 *
 * Every stream is one request, authorized on its own with the app proxy's
 * rules (a refusal is that stream's 401/403/409/502/503, the connection goes
 * on), rewritten to HTTP/1.1 (protocol/h2map.h, then protocol/httpreq.h:
 * x-aws-proxy-* removed) and sent to the application on an agent tcp
 * channel of its own while it runs (a new one, or one kept idle from an
 * earlier request to the same VM and port: uppool.h). Flow control is end to end: a stream's receive window is only
 * reopened as the agent takes its body, and the application's output is
 * acknowledged to the agent only as the client's stream window takes it.
 */
#ifndef HEARTH_H2SRV_H
#define HEARTH_H2SRV_H

#include <stddef.h>
#include <stdint.h>

#include "session/ingress_conn.h"

#define H2SRV_MAX_STREAMS 100          /* concurrent streams per connection */
#define H2SRV_HEADERS_MAX (16u * 1024) /* decoded header bytes of one request */
#define H2SRV_STREAM_WINDOW (64u * 1024)  /* request body bytes buffered per stream */
#define H2SRV_CONN_WINDOW (1024u * 1024)  /* ... and per connection */
#define H2SRV_RESETS_PER_S 100         /* client RST_STREAMs per second before GOAWAY */
#define H2SRV_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2SRV_PREFACE_LEN 24

/* p[0..n) against the HTTP/2 client preface: 1 it is the preface (all of
 * it), 0 a prefix of it (wait for more), -1 not HTTP/2. */
int h2srv_preface(const uint8_t *p, size_t n);

/* Take the connection: p[0..n) are the client's first bytes (the preface
 * among them). Binds c or drops it. */
void h2srv_handle(struct ingress_conn *c, const uint8_t *p, size_t n);

#endif
