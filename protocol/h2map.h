/*
 * h2map.h - HTTP/2 <-> HTTP/1.1 message mapping for the ingress's h2 front
 * end (pure: no I/O, no allocation).
 *
 *  - A request stream's header fields (as nghttp2 hands them out, already
 *    HPACK-decoded and checked against RFC 9113's field rules) are gathered
 *    into a struct h2map, then written as an HTTP/1.1 request head, which the
 *    caller runs through the same parser and rewriter (httpreq.h) as a
 *    client's HTTP/1.1 request: one set of rules for tokens, ports and
 *    x-aws-proxy-* stripping.
 *  - An application's HTTP/1.1 response head (already checked by
 *    httpreq_parse_response) is split into lowercase h2 fields, without the
 *    connection-specific ones HTTP/2 forbids.
 * Every byte is checked again here (CR, LF, NUL), so a field nghttp2 let
 * through can never split the HTTP/1.1 head it is written into.
 */
#ifndef HEARTH_H2MAP_H
#define HEARTH_H2MAP_H

#include <stddef.h>
#include <stdint.h>

#define H2MAP_FIELDS_MAX 8192   /* regular fields of a request, as HTTP/1.1 lines */
#define H2MAP_PATH_MAX 4095     /* :path, as the ingress's head parser allows */
#define H2MAP_AUTH_MAX 255      /* :authority */

enum {
	H2MAP_OK = 0,
	H2MAP_E_BAD = -1,   /* malformed or forbidden field (400) */
	H2MAP_E_TOOBIG = -2 /* over a limit (431) */
};

struct h2map {
	char method[16];
	char path[H2MAP_PATH_MAX + 1];
	char authority[H2MAP_AUTH_MAX + 1];
	char fields[H2MAP_FIELDS_MAX]; /* "Name: value\r\n" lines */
	size_t flen;
	unsigned nfields;
	int has_length;        /* a content-length field came */
	int err;               /* the first error, kept until h2map_head */
};

void h2map_init(struct h2map *m);
/* Add one field (pseudo or regular). Errors stick (h2map_head reports them). */
int h2map_add(struct h2map *m, const uint8_t *name, size_t nlen, const uint8_t *value,
	      size_t vlen);
/*
 * Write the HTTP/1.1 request head: request line, Host (from :authority, else
 * the host field), the other fields in order, and "Transfer-Encoding:
 * chunked" when a body follows (has_body) without a content-length. Returns
 * its length, or H2MAP_E_*.
 */
int h2map_head(const struct h2map *m, int has_body, char *out, size_t cap);

struct h2map_field {
	const char *name, *value; /* name lowercased, in the caller's buffer */
	size_t nlen, vlen;
};
/*
 * The fields of a response head p[0..n) (status line skipped), names
 * lowercased into buf, without connection, keep-alive, proxy-connection,
 * transfer-encoding and upgrade. Returns how many went to f (at most fmax),
 * or H2MAP_E_* (buf too small, a line without a colon).
 */
int h2map_response_fields(const char *p, size_t n, char *buf, size_t cap,
			  struct h2map_field *f, size_t fmax);

/*
 * 1 when this request field asks for HTTP/2 to the application (h2up):
 * x-aws-proxy-force-h2: true, or content-type application/grpc, or
 * application/grpc+<codec> / ;<params> (any case). Else 0.
 */
int h2map_wants_h2(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen);

#endif
