/*
 * wsclient.h - the client side of RFC 6455 (pure, no I/O): the upgrade
 * request with a subprotocol list, the server's answer (101 checks:
 * Sec-WebSocket-Accept, Upgrade, Connection, the selected subprotocol), and
 * frames (masked out, unmasked in). The caller supplies the random bytes
 * (key and masks), so everything here is deterministic and fuzzable.
 * Accept keys come from wsproto.c (wsp_accept).
 */
#ifndef HEARTH_WSCLIENT_H
#define HEARTH_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

#define WSC_HEAD_MAX 16384      /* the server's answer head, status line to blank line */
#define WSC_HEADERS_MAX 100     /* header lines in it */
#define WSC_KEY_LEN 24          /* base64 of 16 random bytes */
#define WSC_PROTOCOLS_MAX 8     /* subprotocols one request offers */
#define WSC_PROTOCOL_MAX 1024   /* one subprotocol name (a shell token is ~200 bytes) */
#define WSC_FRAME_HDR_MAX 14

enum wsc_opcode {
	WSC_CONT = 0x0,
	WSC_TEXT = 0x1,
	WSC_BINARY = 0x2,
	WSC_CLOSE = 0x8,
	WSC_PING = 0x9,
	WSC_PONG = 0xa,
};

/* Base64 of the 16 random bytes raw: the Sec-WebSocket-Key. */
void wsc_key(const uint8_t raw[16], char out[WSC_KEY_LEN + 1]);

struct wsc_request {
	const char *host;  /* Host header value, "name[:port]" */
	const char *path;  /* "/" */
	const char *key;   /* from wsc_key */
	const char *protocols[WSC_PROTOCOLS_MAX];
	size_t nprotocols;
};

/*
 * Write the GET upgrade request into out. Every protocol must be an RFC 7230
 * token (so it cannot break the list or the head), host and path printable
 * without spaces. Returns the length, or -1 (invalid field or out too small).
 */
int wsc_request(char *out, size_t cap, const struct wsc_request *r);

struct wsc_response {
	int status;                    /* 100..599 */
	char accept[64];               /* Sec-WebSocket-Accept */
	char protocol[WSC_PROTOCOL_MAX]; /* Sec-WebSocket-Protocol ("" none) */
	int nprotocol_lines;           /* how many Sec-WebSocket-Protocol headers */
	int upgrade_websocket;         /* Upgrade: websocket */
	int connection_upgrade;        /* Connection: ... upgrade ... */
	int extensions;                /* a Sec-WebSocket-Extensions header (none offered) */
};

/*
 * Parse the answer head from the start of p. Returns its length (through the
 * blank line) when complete, 0 when more input is needed, -1 when malformed,
 * -2 when over WSC_HEAD_MAX or a field over its size.
 */
int wsc_parse_response(const char *p, size_t n, struct wsc_response *r);

enum wsc_verdict {
	WSC_OK = 0,
	WSC_E_STATUS = -1,     /* not 101: a refusal (the body says why) */
	WSC_E_UPGRADE = -2,    /* Upgrade/Connection headers missing */
	WSC_E_ACCEPT = -3,     /* Sec-WebSocket-Accept does not match the key */
	WSC_E_PROTOCOL = -4,   /* a subprotocol we did not offer, or more than one */
	WSC_E_EXTENSION = -5,  /* an extension we did not offer */
};

/* Check a parsed answer against the request. */
enum wsc_verdict wsc_verify(const struct wsc_response *r, const struct wsc_request *req);
/* A short English reason for a verdict. */
const char *wsc_verdict_str(enum wsc_verdict v);

/*
 * Append one client frame (FIN, masked with mask) to b: all or nothing.
 * BUF_OK, or BUF_E_FULL (b's bound), or -3 for a control frame over 125 bytes.
 */
int wsc_put_frame(struct buf *b, uint8_t opcode, const void *payload, size_t len,
		  const uint8_t mask[4]);

struct wsc_frame {
	uint8_t fin, opcode;
	const uint8_t *payload; /* inside the caller's buffer */
	size_t len;
};

/*
 * Take one server frame from the start of p. Returns its total length, 0 when
 * incomplete, -1 when it breaks the protocol (masked, reserved bits, unknown
 * opcode, fragmented or long control frame), -2 when its payload is over max.
 */
long wsc_frame_take(const uint8_t *p, size_t n, size_t max, struct wsc_frame *f);

/*
 * A CLOSE payload: code (1005 when empty) and reason (not NUL-terminated).
 * 0, or -1 when malformed (one byte, or a code outside 1000..4999).
 */
int wsc_close_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
		    size_t *rlen);

#endif
