/*
 * apiconn.c - the client side of hearthd's REST API: connect, send one
 * request with "Connection: close", read until the response is complete
 * (protocol/httpresp.c decides), all under one deadline.
 */
#include "shell/client/apiconn.h"
#include "protocol/httpresp.h"
#include "protocol/sigv4.h"
#include "vmm/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define MAX_INPUT (APICONN_MAX_BODY + HTTPRESP_MAX_HEAD * 2 + 65536)

int apiconn_init(struct apiconn *c, const char *url, int timeout_ms, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = timeout_ms;
	if (strlen(url) >= sizeof(c->url)) {
		snprintf(err, errlen, "API URL too long");
		return -1;
	}
	strcpy(c->url, url);
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "API URL '%s' must start with http://", url);
		return -1;
	}
	const char *h = url + 7;
	const char *slash = strchr(h, '/');
	size_t hostport = slash ? (size_t)(slash - h) : strlen(h);
	const char *hend = h + hostport;
	const char *colon = NULL;
	if (*h == '[') { /* [v6]:port */
		const char *rb = memchr(h, ']', hostport);
		if (!rb)
			goto bad;
		if (rb + 1 < hend && rb[1] != ':')
			goto bad;
		if (rb + 1 < hend)
			colon = rb + 1;
		if ((size_t)(rb - h - 1) >= sizeof(c->host))
			goto bad;
		memcpy(c->host, h + 1, (size_t)(rb - h - 1));
	} else {
		colon = memchr(h, ':', hostport);
		size_t hl = colon ? (size_t)(colon - h) : hostport;
		if (hl >= sizeof(c->host))
			goto bad;
		memcpy(c->host, h, hl);
	}
	if (!c->host[0])
		goto bad;
	if (colon) {
		size_t pl = (size_t)(hend - colon - 1);
		if (pl == 0 || pl >= sizeof(c->port))
			goto bad;
		for (size_t i = 0; i < pl; i++)
			if (colon[1 + i] < '0' || colon[1 + i] > '9')
				goto bad;
		memcpy(c->port, colon + 1, pl);
	} else {
		strcpy(c->port, "80");
	}
	if (slash) {
		size_t pl = strlen(slash);
		while (pl > 0 && slash[pl - 1] == '/')
			pl--;
		if (pl >= sizeof(c->prefix))
			goto bad;
		memcpy(c->prefix, slash, pl);
	}
	return 0;
bad:
	snprintf(err, errlen, "bad API URL '%s' (want http://HOST:PORT)", url);
	return -1;
}

/* Wait for fd to be ready for `events` before the deadline. 0 ok, -1 timeout/error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, clock_left(deadline));
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0)
			goto fail;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int dial(const struct apiconn *c, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(c->host, c->port, &hints, &res);
	if (gr != 0) {
		snprintf(err, errlen, "cannot reach the API at %s: %s", c->url, gai_strerror(gr));
		return -1;
	}
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd < 0)
			e = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "cannot reach the API at %s: %s", c->url, strerror(e));
	return fd;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Read and parse until the response is whole. 0 ok, -1 with err. */
static int read_response(const struct apiconn *c, int fd, int head_only, int64_t deadline,
			 struct apiconn_resp *resp, char *err, size_t errlen)
{
	size_t cap = READ_CHUNK, len = 0;
	uint8_t *in = malloc(cap);
	uint8_t *body = malloc(APICONN_MAX_BODY + 1);
	struct httpresp hr;
	int rc = -1, eof = 0;
	if (!in || !body) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		enum httpresp_result r =
			httpresp_parse(in, len, eof, head_only, body, APICONN_MAX_BODY, &hr);
		if (r == HTTPRESP_OK)
			break;
		if (r == HTTPRESP_ERROR) {
			snprintf(err, errlen, "bad HTTP response from %s: %s", c->url, hr.why);
			goto out;
		}
		if (eof) { /* cannot happen: the parser reports errors at eof */
			snprintf(err, errlen, "%s closed the connection early", c->url);
			goto out;
		}
		if (len == cap) {
			if (cap >= MAX_INPUT) {
				snprintf(err, errlen, "response from %s too large", c->url);
				goto out;
			}
			size_t ncap = cap * 2 > MAX_INPUT ? MAX_INPUT : cap * 2;
			uint8_t *n = realloc(in, ncap);
			if (!n) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			in = n;
			cap = ncap;
		}
		ssize_t got = recv(fd, in + len, cap - len, 0);
		if (got > 0) {
			len += (size_t)got;
		} else if (got == 0) {
			eof = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline) != 0) {
				snprintf(err, errlen, "no complete response from %s within %d ms",
					 c->url, c->timeout_ms);
				goto out;
			}
		} else {
			snprintf(err, errlen, "reading from %s: %s", c->url, strerror(errno));
			goto out;
		}
	}
	body[hr.body_len] = 0;
	resp->status = hr.status;
	snprintf(resp->error_type, sizeof(resp->error_type), "%s", hr.error_type);
	resp->body_len = hr.body_len;
	resp->body = realloc(body, hr.body_len + 1);
	if (!resp->body)
		resp->body = (char *)body;
	body = NULL;
	rc = 0;
out:
	free(in);
	free(body);
	return rc;
}

/* "Authorization: ...\r\nX-Amz-Date: ...\r\n" for this request, signed with
 * c->creds over Host, X-Amz-Date and Content-Type. 0, or -1. */
static int sign_request(const struct apiconn *c, const char *method, const char *target,
			const char *host, const char *body, size_t blen, char *out, size_t outlen)
{
	char raw[8192], date[17], authz[1024];
	if (strlen(target) >= sizeof raw)
		return -1;
	strcpy(raw, target);
	char *q = strchr(raw, '?');
	if (q)
		*q++ = '\0';
	sigv4_time_format((int64_t)time(NULL), date);
	struct httpmsg_request rq;
	memset(&rq, 0, sizeof rq);
	rq.method = method;
	rq.target = target;
	rq.raw_path = rq.path = raw;
	rq.raw_query = q ? q : "";
	rq.body = (const uint8_t *)body;
	rq.body_len = blen;
	rq.headers[rq.nheaders++] = (struct httpmsg_header){ "Host", host };
	rq.headers[rq.nheaders++] = (struct httpmsg_header){ "X-Amz-Date", date };
	if (body)
		rq.headers[rq.nheaders++] =
			(struct httpmsg_header){ "Content-Type", "application/json" };
	if (sigv4_sign(&rq, c->creds->key_id, c->creds->secret, c->creds->region,
		       APICREDS_SERVICE, date, authz, sizeof authz) != 0)
		return -1;
	int n = snprintf(out, outlen, "Authorization: %s\r\nX-Amz-Date: %s\r\n", authz, date);
	explicit_bzero(authz, sizeof authz);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int apiconn_request(const struct apiconn *c, const char *method, const char *path,
		    const char *body, struct apiconn_resp *resp, char *err, size_t errlen)
{
	memset(resp, 0, sizeof(*resp));
	int64_t deadline = clock_ms() + c->timeout_ms;
	size_t blen = body ? strlen(body) : 0;
	char head[12288], host[300], target[8192], auth[1200] = "";
	int v6 = strchr(c->host, ':') != NULL; /* an IPv6 literal is bracketed in Host */
	snprintf(host, sizeof host, "%s%s%s:%s", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
	int tn = snprintf(target, sizeof target, "%s%s", c->prefix, path);
	if (tn < 0 || (size_t)tn >= sizeof target) {
		snprintf(err, errlen, "request path too long");
		return -1;
	}
	if (c->creds &&
	    sign_request(c, method, target, host, body, blen, auth, sizeof auth) != 0) {
		snprintf(err, errlen, "cannot sign the request");
		return -1;
	}
	int fd = dial(c, deadline, err, errlen);
	if (fd < 0)
		return -1;
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hearth\r\n"
			 "Accept: application/json\r\nConnection: close\r\n"
			 "%s%sContent-Length: %zu\r\n\r\n",
			 method, target, host, auth,
			 body ? "Content-Type: application/json\r\n" : "", blen);
	explicit_bzero(auth, sizeof auth);
	int rc = -1;
	if (n < 0 || (size_t)n >= sizeof(head)) {
		snprintf(err, errlen, "request path too long");
		goto out;
	}
	if (send_all(fd, head, (size_t)n, deadline) != 0 ||
	    (blen && send_all(fd, body, blen, deadline) != 0)) {
		snprintf(err, errlen, "sending to %s: %s", c->url, strerror(errno));
		goto out;
	}
	rc = read_response(c, fd, strcmp(method, "HEAD") == 0, deadline, resp, err, errlen);
out:
	close(fd);
	return rc;
}

void apiconn_resp_free(struct apiconn_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
}
