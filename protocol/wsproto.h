/*
 * wsproto.h - the server side of RFC 6455 as the ingress needs it (pure,
 * no I/O): the HTTP upgrade request head, the accept key, and frames.
 *
 * hearthd speaks WebSocket itself on a raw TLS connection because
 * libwebsockets 4.1 refuses a Sec-WebSocket-Protocol list longer than 127
 * bytes, and the shell token travels in that list.
 */
#ifndef HEARTH_WSPROTO_H
#define HEARTH_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

#define WSP_HEAD_MAX 8192        /* request head, request line to blank line */
#define WSP_HEADERS_MAX 64       /* header lines */
#define WSP_FRAME_MAX (64u * 1024) /* largest client frame payload accepted */
#define WSP_FRAME_HDR_MAX 14
#define WSP_ACCEPT_LEN 28

enum wsp_opcode {
	WSP_CONT = 0x0,
	WSP_TEXT = 0x1,
	WSP_BINARY = 0x2,
	WSP_CLOSE = 0x8,
	WSP_PING = 0x9,
	WSP_PONG = 0xa,
};

struct wsp_request {
	char method[8];
	char path[4096];         /* request target: the app proxy passes long URLs on */
	char host[256];
	char key[64];            /* Sec-WebSocket-Key */
	char protocols[2048];    /* every Sec-WebSocket-Protocol line, joined with "," */
	char auth[1024];         /* X-aws-proxy-auth */
	int upgrade_websocket;   /* Upgrade: websocket */
	int connection_upgrade;  /* Connection: ... upgrade ... */
	int version13;           /* Sec-WebSocket-Version: 13 */
};

/*
 * Parse a request head from the start of p. Returns the head's length
 * (through the blank line) when complete, 0 when more input is needed,
 * -1 when malformed, -2 when longer than WSP_HEAD_MAX or a field over its size.
 */
int wsp_parse_request(const char *p, size_t n, struct wsp_request *r);
/* 1 when r is a WebSocket upgrade request (all the required headers). */
int wsp_is_upgrade(const struct wsp_request *r);
/* Sec-WebSocket-Accept for key; out gets WSP_ACCEPT_LEN chars and a NUL. 0 or -1. */
int wsp_accept(const char *key, char out[WSP_ACCEPT_LEN + 1]);
/*
 * Find "<prefix><value>" in a comma-separated subprotocol list; copies value.
 * 1 found, 0 not found, -1 value too long for out.
 */
int wsp_find_protocol(const char *list, const char *prefix, char *out, size_t outlen);
/* 1 when name is one of the offered subprotocols exactly. */
int wsp_offers_protocol(const char *list, const char *name);

struct wsp_frame {
	uint8_t fin, opcode;
	uint8_t *payload; /* unmasked in place, inside the caller's buffer */
	size_t len;
};

/*
 * Take one client frame from the start of p (unmasking its payload in
 * place). Returns the frame's total length, 0 when incomplete, -1 when it
 * breaks the protocol (unmasked, reserved bits, unknown opcode, fragmented
 * or long control frame), -2 when its payload is over max.
 */
long wsp_frame_take(uint8_t *p, size_t n, size_t max, struct wsp_frame *f);
/* Write a server frame header (FIN set, unmasked) for len bytes; returns its size. */
size_t wsp_frame_header(uint8_t *out, uint8_t opcode, size_t len);

/* Close codes (RFC 6455 7.4.1) hearthd sends. */
#define WSP_CLOSE_NORMAL 1000
#define WSP_CLOSE_PROTOCOL 1002 /* a frame or close code RFC 6455 does not allow */
#define WSP_CLOSE_BAD_DATA 1007 /* a TEXT message or close reason that is not UTF-8 */
#define WSP_CLOSE_TOO_BIG 1009
#define WSP_CLOSE_PAYLOAD_MAX 125 /* a control frame's payload: code and reason */

/*
 * 1 when code may be sent in a CLOSE frame: 1000-1003, 1007-1014 (RFC 6455
 * and the IANA registry), 3000-4999 (libraries, applications). Never 1004,
 * 1005, 1006, 1015 (reserved, not for the wire), 0-999, 1016-2999, 5000+.
 */
int wsp_close_code_ok(unsigned code);
/*
 * Check a peer's CLOSE payload (RFC 6455 5.5.1, 7.1.5, 8.1). Returns 0 when
 * it is valid, with *code its status code (1005, "none", when the payload is
 * empty); else the code to fail the connection with: 1002 for a one-byte
 * payload or a code that may not be sent, 1007 for a reason that is not UTF-8.
 */
unsigned wsp_close_check(const uint8_t *p, size_t n, unsigned *code);
/*
 * A CLOSE payload: code, then reason cut to whole UTF-8 characters (up to its
 * first invalid byte) within WSP_CLOSE_PAYLOAD_MAX. Returns its length.
 */
size_t wsp_close_payload(uint8_t out[WSP_CLOSE_PAYLOAD_MAX], unsigned code, const char *reason);

/*
 * Check the path of a request target (up to '?'), raw, before any decoding,
 * for what could make it mean something other than it says. NULL when it is
 * plain; else why not: no leading '/', a byte outside RFC 3986's path
 * characters (NUL and control bytes, space, '\', 8-bit bytes), ';'
 * parameters, a malformed %-escape, an encoded NUL or control byte, an
 * encoded '/' or '\', a dot segment ("." or "..", raw or encoded) or an empty
 * segment ("//"). The routes hearthd decides on itself (the shell, the web
 * terminal) refuse such paths; the app proxy passes targets on unchanged.
 */
#define WSP_PATH_MAX 4096 /* longer paths are refused */
const char *wsp_path_check(const char *target);

/* A frame header as wsp_frame_head reads it. */
struct wsp_head {
	uint8_t fin, opcode;
	uint64_t len; /* payload length */
};

/*
 * The checks both ends make on a frame header at the start of p (wsclient.c
 * reads server frames with it): masked says whether the mask bit must be set
 * (client frames) or clear (server frames). Fills h and returns the header's
 * size without a mask key (2, 4 or 10); 0 when incomplete, -1 when it breaks
 * the protocol (the mask bit, reserved bits, unknown opcode, a length of 2^63
 * or more, fragmented or long control frame).
 */
int wsp_frame_head(const uint8_t *p, size_t n, int masked, struct wsp_head *h);

#endif
