/*
 * httpresp.h - parse an HTTP/1.1 response (status line, headers, body with
 * Content-Length, chunked or read-until-close framing) from bytes a server
 * sent. Pure: no I/O, no allocation; the caller owns every buffer.
 */
#ifndef HEARTH_HTTPRESP_H
#define HEARTH_HTTPRESP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/httpreq.h"

/* The proxy's limits: one parser, one set of bounds. */
#define HTTPRESP_MAX_HEADERS HTTPREQ_RESP_HEADERS_MAX
#define HTTPRESP_MAX_HEAD HTTPREQ_RESP_HEAD_MAX     /* status line plus headers */
#define HTTPRESP_ERRTYPE_MAX 128

enum httpresp_result {
	HTTPRESP_OK = 0,          /* a whole response was parsed */
	HTTPRESP_INCOMPLETE = 1,  /* well-formed so far; more bytes needed */
	HTTPRESP_ERROR = -1,      /* malformed, or larger than the caller allows */
};

struct httpresp {
	int status;                          /* 100..999 */
	char error_type[HTTPRESP_ERRTYPE_MAX]; /* x-amzn-ErrorType, "" if absent */
	size_t body_len;                     /* bytes written to the body buffer */
	size_t consumed;                     /* bytes of input the response used */
	const char *why;                     /* on HTTPRESP_ERROR: a short reason */
};

/*
 * Parse the response in in[0..len). eof says the connection has ended (so a
 * body without framing ends here). The decoded body goes to body[0..body_cap);
 * a body longer than body_cap is an error. head_only: the request was HEAD
 * (no body whatever the headers say). Call again with more bytes after
 * HTTPRESP_INCOMPLETE; parsing restarts from the beginning each time.
 */
enum httpresp_result httpresp_parse(const uint8_t *in, size_t len, int eof, int head_only,
				    uint8_t *body, size_t body_cap, struct httpresp *out);

#endif
