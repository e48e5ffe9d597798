/*
 * ingress_front.h - a transport under struct ingress_conn other than
 * libwebsockets' raw TLS socket: hearthd's own TLS front (tlsfront.c), which
 * terminates TLS for clients that negotiate h2 by ALPN. ingress.c keeps the
 * request-head reading, routing and the output queue for both; the front
 * moves bytes and keeps time. Everything runs on hearthd's event-loop thread.
 */
#ifndef HEARTH_INGRESS_FRONT_H
#define HEARTH_INGRESS_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "session/ingress_conn.h"

struct ingress_front_ops {
	/* Bytes were queued (or the conn hangs up): write when the socket takes them. */
	void (*want_write)(void *t);
	/* ingress_conn_deadline's meaning: drop unless ended within secs; 0 lifts it. */
	void (*deadline)(void *t, unsigned secs);
	void (*rx_pause)(void *t, int paused);
	/* Drop the connection soon (never from inside this call):
	 * ingress_conn_gone follows. */
	void (*abort)(void *t);
};

#define INGRESS_HEAD_S 30 /* seconds to send the request head */

/* A connection on front t; NULL when out of memory. */
struct ingress_conn *ingress_conn_new(struct hearthd *hd, const struct ingress_front_ops *fo,
				      void *t);
/* Client bytes; -1: drop the connection. */
int ingress_conn_rx(struct ingress_conn *c, const uint8_t *p, size_t n);
/* The queued output: up to max bytes at *p (0: nothing). */
size_t ingress_conn_out(struct ingress_conn *c, const uint8_t **p, size_t max);
/* n of them were written; the handler refills when the queue runs low. */
void ingress_conn_sent(struct ingress_conn *c, size_t n);
/* 1 once a hang-up was asked for and everything queued is written. */
int ingress_conn_finished(const struct ingress_conn *c);
/* The client connection is gone: tell the handler, free c. */
void ingress_conn_gone(struct ingress_conn *c);

#endif
