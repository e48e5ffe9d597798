/* apiconn.h - one HTTP/1.1 request to the hearthd API over plain TCP, with a deadline. */
#ifndef HEARTH_APICONN_H
#define HEARTH_APICONN_H

#include <stddef.h>

#include "shell/client/apicreds.h"

#define APICONN_MAX_BODY (8u * 1024 * 1024)  /* largest response body accepted */

struct apiconn {
	char url[512];     /* as given, for messages */
	char host[256];
	char port[8];
	char prefix[256];  /* path prefix from the URL, without a trailing '/' */
	int timeout_ms;    /* whole request: connect, send and read */
	const struct apicreds *creds; /* sign every request with this key (SigV4); NULL: unsigned */
};

struct apiconn_resp {
	int status;
	char error_type[128];  /* x-amzn-ErrorType, "" if absent */
	char *body;            /* NUL-terminated; malloc'd */
	size_t body_len;
};

/* Parse "http://host[:port][/prefix]". Returns 0, or -1 with err set. */
int apiconn_init(struct apiconn *c, const char *url, int timeout_ms, char *err, size_t errlen);

/* Send one request (body may be NULL) and read the whole response. Returns 0
 * on a parsed response (any status), -1 with err set when the server could not
 * be reached or answered something that is not HTTP. */
int apiconn_request(const struct apiconn *c, const char *method, const char *path,
		    const char *body, struct apiconn_resp *resp, char *err, size_t errlen);

void apiconn_resp_free(struct apiconn_resp *resp);

#endif
