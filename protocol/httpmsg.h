/*
 * httpmsg.h - one parsed HTTP/1.1 request as a server's handlers see it.
 *
 * The contract between the server core that frames requests (strict:
 * protocol/httpsrv.h) and what decides on them (the API router, the SigV4
 * check in session/auth.h). Every string is NUL-terminated and points into
 * the parser's own bounded copy of the head; it lives until the next request
 * on the connection. Header names are as sent (compare case-insensitively);
 * values have their surrounding whitespace removed. Repeated headers appear
 * once per line, in order.
 */
#ifndef HEARTH_HTTPMSG_H
#define HEARTH_HTTPMSG_H

#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#define HTTPMSG_HEADERS_MAX 64

struct httpmsg_header {
	const char *name;
	const char *value;
};

struct httpmsg_request {
	const char *method;    /* as sent: "GET", "POST", ... */
	const char *target;    /* the raw request-target, as sent */
	const char *raw_path;  /* the target up to '?', not decoded */
	const char *raw_query; /* after '?' (empty when none), not decoded */
	const char *path;      /* raw_path decoded (checked: no NUL, no encoded '/', no dot segments) */
	unsigned nheaders;
	struct httpmsg_header headers[HTTPMSG_HEADERS_MAX];
	const uint8_t *body;   /* the whole body (de-chunked), body_len bytes */
	size_t body_len;
	int body_streamed;     /* the body is handed on as it comes (httpsrv_stream), not here */
};

/* The first value of a header (case-insensitive name), or NULL. */
static inline const char *httpmsg_get(const struct httpmsg_request *r, const char *name)
{
	for (unsigned i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

#endif
