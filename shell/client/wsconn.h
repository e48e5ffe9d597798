/*
 * wsconn.h - one client WebSocket over TLS to a microVM's shell endpoint
 * (protocol/PROTOCOL.md section 2): connect, verify the server, upgrade with
 * the shell token in the subprotocol list, then frames. Single-threaded and
 * non-blocking after the upgrade; the caller owns the poll loop.
 */
#ifndef HEARTH_WSCONN_H
#define HEARTH_WSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

#define WSCONN_FRAME_MAX (1024u * 1024)    /* largest server frame accepted */
#define WSCONN_TEXT_MAX (64u * 1024)       /* a reassembled TEXT message */
#define WSCONN_OUT_MAX (8u * 1024 * 1024)  /* frames queued, not yet written */

struct wsconn_opts {
	const char *endpoint;   /* "https://<id>.localhost:7443" from GetMicrovm */
	const char *connect_to; /* "HOST:PORT" to dial instead (NULL: the endpoint's) */
	const char *token;      /* shell token */
	const char *cacert;     /* PEM file to trust; NULL: wsconn_default_ca() + system */
	int v1;                 /* also offer hearth.v1 */
	int timeout_ms;         /* connect, TLS and upgrade together */
};

struct wsconn_refusal {
	int status;         /* HTTP status of a refused upgrade */
	char message[512];  /* the body's "message", or the body */
};

struct wsconn {
	int fd;
	void *ctx, *ssl;   /* SSL_CTX *, SSL * (kept opaque for the callers) */
	int v1;            /* the server selected hearth.v1 */
	struct buf out;    /* frames not yet written */
	uint8_t *in;       /* bytes read, not yet parsed: [in_off, in_len) */
	size_t in_len, in_off;
	uint8_t *text;     /* a fragmented message being reassembled */
	size_t text_len;
	int frag_op;       /* opcode of the fragmented message in progress, 0 none */
	int close_sent;
};

enum wsconn_rc {
	WSCONN_OK = 0,
	WSCONN_AGAIN = 1,      /* nothing complete; poll and call again */
	WSCONN_FAIL = -1,      /* err says why */
	WSCONN_REFUSED = -2,   /* the upgrade was answered with a non-101 status */
	WSCONN_EOF = -3,       /* the connection ended without a CLOSE */
};

/*
 * The CA file hearth trusts by default: $HEARTH_CACERT, else hearthd's own
 * CA (<hearthd's default state dir>/tls/ca.pem) if readable; "" for none.
 */
void wsconn_default_ca(char *out, size_t cap);

/* Dial, verify, upgrade. WSCONN_OK, WSCONN_REFUSED (ref filled) or WSCONN_FAIL. */
int wsconn_open(struct wsconn *c, const struct wsconn_opts *o, struct wsconn_refusal *ref,
		char *err, size_t errlen);
/* Send a CLOSE if none went yet, flush briefly, and free everything. */
void wsconn_close(struct wsconn *c, uint16_t code);

/* Queue one frame (masked with fresh random bytes). 0, or -1 when the queue is full. */
int wsconn_send(struct wsconn *c, uint8_t opcode, const void *p, size_t n);
/* Write what the socket takes. 0, or -1 with err set. */
int wsconn_flush(struct wsconn *c, char *err, size_t errlen);
/* 1 while queued output waits (poll for POLLOUT). */
int wsconn_pending(const struct wsconn *c);

struct wsconn_msg {
	uint8_t opcode;        /* WSC_TEXT, WSC_BINARY (possibly a fragment) or WSC_CLOSE */
	const uint8_t *p;      /* valid until the next call */
	size_t len;
	uint16_t close_code;   /* WSC_CLOSE: the code (1005 none) and p/len the reason */
};

/*
 * The next message, reading the socket as needed. PINGs are answered here.
 * WSCONN_OK with *m, WSCONN_AGAIN, WSCONN_EOF, or WSCONN_FAIL (err set).
 */
int wsconn_next(struct wsconn *c, struct wsconn_msg *m, char *err, size_t errlen);
/*
 * 1 while a frame already read from the socket waits to be taken: poll()
 * will not report it (the server may send nothing more), so call
 * wsconn_next() before polling again. A wait for the first message
 * (vmdial_wait_text) can leave the frames sent in the same TLS record
 * behind it here. 0 after wsconn_next() returned WSCONN_AGAIN.
 */
int wsconn_buffered(const struct wsconn *c);

#endif
