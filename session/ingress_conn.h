/*
 * ingress_conn.h - one client connection of the ingress listener, as the
 * front end (ingress.c) hands it to the handler that serves it.
 *
 * The front end owns the TLS connection (a raw lws wsi), reads the HTTP
 * request head (protocol/wsproto), decides by Host and request which
 * handler serves it (a dispatch table: shell WebSocket, app proxy, web
 * terminal page) and then gives the connection to that handler for good.
 * The front end keeps the output queue and the hang-up logic, so a handler
 * only queues bytes and reacts to the four callbacks below. Everything runs
 * on hearthd's event-loop thread.
 */
#ifndef HEARTH_INGRESS_CONN_H
#define HEARTH_INGRESS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/token.h"
#include "protocol/wsproto.h"
#include "session/hearthd.h"

#define INGRESS_CONN_OUT_MAX (256u * 1024) /* bytes queued to the client */

struct ingress_conn;

struct ingress_handler_ops {
	/* Client bytes after the request head (the first call may carry bytes
	 * that arrived with the head). Return -1 to drop the connection. */
	int (*rx)(void *h, const uint8_t *p, size_t n);
	/* The output queue has room again (below half of INGRESS_CONN_OUT_MAX). */
	void (*writable)(void *h);
	/* The client connection is gone; the handler frees h (now or later)
	 * and must not touch the conn again. */
	void (*closed)(void *h);
};

struct hearthd *ingress_conn_hd(struct ingress_conn *c);
/* Give the connection to a handler: from now on ops get h. */
void ingress_conn_bind(struct ingress_conn *c, const struct ingress_handler_ops *ops, void *h);
/* Queue bytes to the client; -1 (nothing queued) when they do not fit. */
int ingress_conn_write(struct ingress_conn *c, const void *p, size_t n);
size_t ingress_conn_room(const struct ingress_conn *c);
/* Stop / restart reading the client (back-pressure). */
void ingress_conn_rx_pause(struct ingress_conn *c, int paused);
/* Hang up once the queued bytes are written (closed() follows). */
void ingress_conn_hangup(struct ingress_conn *c);
/* Drop the connection unless it has ended within secs from now (a client
 * that stops reading cannot hold it); 0 lifts the limit. */
void ingress_conn_deadline(struct ingress_conn *c, unsigned secs);
/* Drop the connection now (closed() follows). */
void ingress_conn_abort(struct ingress_conn *c);
/* Queue an HTTP error answer with the JSON body {"message":msg} and hang up. */
void ingress_conn_refuse(struct ingress_conn *c, unsigned status, const char *msg);

enum ingress_auth { INGRESS_AUTH_OK, INGRESS_AUTH_MISSING, INGRESS_AUTH_DENIED };
/*
 * The token of r (subprotocol "lambda-microvms.authentication.<token>", else
 * X-aws-proxy-auth) verified (constant time) for vm_id and the VM's current
 * run, unexpired; any kind: the caller checks cl->kind and the ports. Every
 * refusal past "no token" is INGRESS_AUTH_DENIED, whether or not the VM exists.
 */
enum ingress_auth ingress_authorize(struct hearthd *hd, const struct wsp_request *r,
				    const char *vm_id, struct token_claims *cl);

/*
 * One verified token a connection keeps, so its next requests with the same
 * token skip the signature (an HMAC per request): the same bytes (compared
 * in constant time) verified before. Expiry, the VM and its run generation
 * are still checked on every request. Zero it to start empty.
 */
struct ingress_authcache {
	size_t len; /* 0: empty */
	char tok[TOKEN_MAX_LEN + 1];
	struct token_claims cl;
};
/* ingress_authorize with the connection's cache (NULL: none). */
enum ingress_auth ingress_authorize_cached(struct hearthd *hd, const struct wsp_request *r,
					   const char *vm_id, struct token_claims *cl,
					   struct ingress_authcache *ac);

/*
 * A handler's entry: the request head is parsed into r and also given raw
 * (head, headlen: request line through the blank line), for a handler that
 * forwards it. The handler copies what it needs (both are gone after the
 * call), then binds the conn or refuses it. vm_id is the VM the Host names
 * ("" when the Host names none).
 */
typedef void (*ingress_handler_fn)(struct ingress_conn *c, const struct wsp_request *r,
				   const char *head, size_t headlen, const char *vm_id);

#endif
