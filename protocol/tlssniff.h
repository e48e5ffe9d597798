/*
 * tlssniff.h - is the application answering a cleartext request a TLS
 * server? (PROTOCOL.md 3.5; pure: no I/O, no allocation.) The app proxy
 * sends the first request of a channel in clear and looks at the first
 * bytes that come back (session/upstls.h does the rest).
 */
#ifndef HEARTH_TLSSNIFF_H
#define HEARTH_TLSSNIFF_H

#include <stddef.h>
#include <stdint.h>

enum {
	TLSSNIFF_CLEAR = 0, /* an answer in clear (HTTP/1.1, an h2 SETTINGS frame, anything else) */
	TLSSNIFF_TLS = 1,   /* a TLS server is answering */
};

/*
 * The app's first answer bytes p[0..n): TLSSNIFF_TLS when they open with a
 * TLS record header a server sends to a cleartext peer (content type alert
 * 21 or handshake 22, then major version 3 when that byte is there), or are
 * the cleartext refusal of TLS servers that answer a plain request in HTTP
 * (status 400 whose bytes here mention "HTTP request" and "HTTPS": nginx's
 * "The plain HTTP request was sent to HTTPS port", Go's "Client sent an HTTP
 * request to an HTTPS server"). Only the bytes given are looked at (at most
 * TLSSNIFF_SCAN_MAX); n == 0 is TLSSNIFF_CLEAR.
 */
#define TLSSNIFF_SCAN_MAX 4096
int tlssniff_answer(const uint8_t *p, size_t n);

#endif
