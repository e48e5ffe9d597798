/*
 * tlshello.h - what the ingress needs from a TLS ClientHello before it
 * decides who terminates the connection (pure: no I/O, no allocation).
 *
 * hearthd peeks at a new ingress connection's first bytes (MSG_PEEK: they
 * stay in the socket for whoever takes it) and reads the server name (SNI)
 * and the ALPN protocols offered: a client offering "h2" gets hearthd's own
 * TLS and HTTP/2, every other one goes to libwebsockets untouched.
 * The ClientHello may span several TLS records (RFC 8446 5.1: handshake
 * messages may be fragmented); it is reassembled into the caller's struct,
 * bounded by TLSHELLO_MAX.
 */
#ifndef HEARTH_TLSHELLO_H
#define HEARTH_TLSHELLO_H

#include <stddef.h>
#include <stdint.h>

#define TLSHELLO_MAX 16384      /* ClientHello bytes (handshake header included) */
#define TLSHELLO_PEEK_MAX (TLSHELLO_MAX + 4 * 5) /* ... plus a few record headers */
#define TLSHELLO_SNI_MAX 255
#define TLSHELLO_ALPN_MAX 32    /* protocols kept from the ALPN list */

enum {
	TLSHELLO_OK = 1,
	TLSHELLO_MORE = 0,       /* a prefix of a ClientHello: wait for more */
	TLSHELLO_E_NOTTLS = -1,  /* does not open with a TLS handshake record */
	TLSHELLO_E_BAD = -2,     /* a malformed ClientHello */
	TLSHELLO_E_TOOBIG = -3,  /* over TLSHELLO_MAX */
};

struct tlshello {
	char sni[TLSHELLO_SNI_MAX + 1]; /* host_name, "" without */
	unsigned nalpn;                 /* protocols offered (kept: up to TLSHELLO_ALPN_MAX) */
	struct {
		uint8_t len;
		char name[256];         /* NUL-terminated copy */
	} alpn[TLSHELLO_ALPN_MAX];
	size_t msglen;                  /* reassembled handshake bytes */
	uint8_t msg[TLSHELLO_MAX];
};

/* p[0..n): the connection's first bytes. One of the codes above; on
 * TLSHELLO_OK, h holds the SNI and ALPN list. */
int tlshello_parse(const uint8_t *p, size_t n, struct tlshello *h);

/* 1 when the ClientHello offered ALPN protocol name (exact bytes). */
int tlshello_offers(const struct tlshello *h, const char *name);

#endif
