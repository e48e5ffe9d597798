/*
 * upstls.h - an application in the VM that speaks TLS itself (PROTOCOL.md
 * 3.5): a TLS client over the bytes of one agent tcp channel, shared by
 * every upstream path (proxy.c's HTTP/1.1 and WebSocket, h2srv.c's HTTP/1.1
 * upstream, h2up.c's h2).
 *
 * The client runs on memory BIOs: ciphertext from the channel goes in with
 * upstls_feed and is taken only as the owner reads plaintext (so the owner
 * credits the agent for what TLS consumed, and unread ciphertext stays
 * bounded by the window it granted); ciphertext towards the app leaves only
 * within the channel's send room, and upstls_room stops plaintext writes
 * while UPSTLS_OUT_MAX of it waits. No certificate verification: the
 * certificate is the user's own app's in their own VM (often self-signed)
 * and the channel never leaves the VM. SNI and ALPN are the caller's.
 *
 * Detection (upstls_probe): the first request of a channel goes in clear;
 * the owner records what it sent (bounded) until the app's first bytes. A
 * TLS record there or a TLS server's cleartext refusal (tlssniff.h), or a
 * close without a byte, means TLS: the owner
 * opens a new channel and sends the recorded bytes again inside TLS, unless
 * more than UPSTLS_REPLAY_MAX went out. Which (VM, port) spoke TLS is
 * remembered (upstls_known) so later channels start in TLS at once.
 */
#ifndef HEARTH_UPSTLS_H
#define HEARTH_UPSTLS_H

#include <stddef.h>
#include <stdint.h>

struct agentlink_chan;
struct hearthd;
struct upstls;

#define UPSTLS_OUT_MAX (32u * 1024)     /* ciphertext waiting for the channel before writes stop */
#define UPSTLS_REPLAY_MAX (64u * 1024)  /* cleartext kept to send again inside TLS */
#define UPSTLS_REMEMBER 256             /* (VM, port) pairs remembered as TLS */
#define UPSTLS_HANDSHAKE_MS 10000       /* longest TLS handshake with the app */
#define UPSTLS_ALPN_H2 "\x02h2"
#define UPSTLS_ALPN_HTTP11 "\x08http/1.1"

enum {
	UPSTLS_CLOSED = -2, /* upstls_read: the app ended TLS (close_notify) */
	UPSTLS_FAILED = -1,
};

/* What a path asks of its TLS client. */
struct upstls_cfg {
	const char *sni;  /* may be NULL */
	const char *alpn; /* ALPN list, wire format (UPSTLS_ALPN_*), NULL for none */
	/* The handshake did not end within UPSTLS_HANDSHAKE_MS (an app that is
	 * not TLS after all may wait for more of a "request" forever): the
	 * owner fails its request with upstls_error and frees the client. */
	void (*expired)(void *owner);
};

/*
 * A client towards vm_id:port as cfg says (cfg must outlive it), for owner;
 * first[0..firstlen) is plaintext sent as soon as the handshake is done
 * (copied; the replay of a probe). NULL with err. A completed handshake
 * remembers vm_id:port as TLS (upstls_known).
 */
struct upstls *upstls_new(struct hearthd *hd, const char *vm_id, unsigned port,
			  const struct upstls_cfg *cfg, void *owner, const void *first,
			  size_t firstlen, char *err, size_t errlen);
/* A client freed before its handshake completed (it failed, timed out, the
 * app closed, or the owner gave up) forgets vm_id:port. */
void upstls_free(struct upstls *t);

/* Ciphertext from the app (within the window its owner granted): 0, or -1. */
int upstls_feed(struct upstls *t, const uint8_t *p, size_t n);
/*
 * Plaintext from the app into b[0..cap): the byte count, 0 when none is
 * whole yet (or the handshake goes on), UPSTLS_CLOSED, or UPSTLS_FAILED (why
 * in upstls_error). The agent is credited on ch for the ciphertext TLS took
 * out of what was fed; handshake replies go to ch (ch may be NULL once the
 * agent closed it: records fed before are still read).
 */
long upstls_read(struct upstls *t, struct agentlink_chan *ch, uint8_t *b, size_t cap);
/*
 * Plaintext bytes upstls_write takes now: 0 while the handshake goes on or
 * ciphertext waits for ch's room, -1 when TLS failed. Moves what it can
 * to ch first.
 */
long upstls_room(struct upstls *t, struct agentlink_chan *ch);
/* Plaintext to the app (at most upstls_room, a few framing bytes aside): 0 or -1. */
int upstls_write(struct upstls *t, struct agentlink_chan *ch, const void *p, size_t n);
/* The handshake is done. */
int upstls_established(const struct upstls *t);
/* Why TLS failed (static text). */
const char *upstls_error(const struct upstls *t);

/* What an owner sent in clear while it waits for the app's first byte. */
struct upstls_probe {
	uint8_t *p;
	size_t len;
	int on;   /* the app has not answered yet */
	int over; /* more than UPSTLS_REPLAY_MAX went: TLS cannot be tried */
};
void upstls_probe_start(struct upstls_probe *pr);
/* n more bytes went to the app in clear. */
void upstls_probe_sent(struct upstls_probe *pr, const void *p, size_t n);
/* Over: the app answered in clear (or TLS took the replay). */
void upstls_probe_end(struct upstls_probe *pr);
/* The app's first answer bytes say TLS (protocol/tlssniff.h). */
int upstls_looks_tls(const uint8_t *p, size_t n);

/* Whether vm_id:port completed a TLS handshake last time; forget every port
 * of a VM (its agent link went down: suspended, stopped or restarted). */
int upstls_known(const char *vm_id, unsigned port);
void upstls_forget_vm(const char *vm_id);

#endif
