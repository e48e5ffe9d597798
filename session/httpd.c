/*
 * httpd.c - libwebsockets HTTP glue: collects method, decoded path, query
 * arguments and a bounded body, hands them to routes_dispatch and writes
 * the answer back (keep-alive). Also forwards event-loop wake-ups to the
 * lifecycle (worker results).
 */
#include "session/httpd.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "protocol/buf.h"
#include "session/lifecycle.h"
#include "session/routes.h"

#define HTTPD_PATH_MAX 4096
#define HTTPD_QUERY_BYTES 8192
#define HTTPD_AUTH_HEAD_BYTES 16384 /* the headers the signature check reads */
#define HTTPD_AUTH_NAMES 32

static httpd_auth_fn auth_fn;
static void *auth_ctx;

void httpd_set_auth(httpd_auth_fn fn, void *ctx)
{
	auth_fn = fn;
	auth_ctx = ctx;
}

struct httpd_conn {
	enum route_method method;
	char path[HTTPD_PATH_MAX];
	char qbuf[HTTPD_QUERY_BYTES];
	struct route_query q[ROUTE_MAX_QUERY];
	unsigned nq;
	int bad_query;
	struct buf body;
	int body_ready;
	int too_big;
	unsigned long long content_length;
	unsigned char *out; /* LWS_PRE + body */
	size_t outlen;
	int close_after;
	int responding;
	/* What the signature check sees (lws gives the path and query decoded:
	 * they are encoded again the SigV4 way, which is what clients send). */
	struct httpmsg_request rq;
	char rq_path[HTTPD_PATH_MAX * 3];
	char rq_query[HTTPD_QUERY_BYTES * 3];
	char rq_head[HTTPD_AUTH_HEAD_BYTES];
	int rq_bad;
};

static const struct {
	enum lws_token_indexes tok;
	enum route_method m;
	const char *name;
} method_tokens[] = {
	{ WSI_TOKEN_GET_URI, RM_GET, "GET" },	    { WSI_TOKEN_POST_URI, RM_POST, "POST" },
	{ WSI_TOKEN_PUT_URI, RM_PUT, "PUT" },	    { WSI_TOKEN_PATCH_URI, RM_PATCH, "PATCH" },
	{ WSI_TOKEN_DELETE_URI, RM_DELETE, "DELETE" },
};

int httpd_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= hostlen || colon == s)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || end == colon + 1)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = (int)p;
	return 0;
}

static void conn_reset(struct httpd_conn *c)
{
	buf_free(&c->body);
	free(c->out);
	memset(c, 0, sizeof *c);
}

static void collect_query(struct lws *wsi, struct httpd_conn *c)
{
	size_t used = 0;
	for (int i = 0; i < 256; i++) {
		int room = (int)(sizeof c->qbuf - used);
		int n = lws_hdr_copy_fragment(wsi, c->qbuf + used, room, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0) {
			/* Either no more fragments or one that does not fit. */
			if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0)
				c->bad_query = 1;
			break;
		}
		if (c->nq >= ROUTE_MAX_QUERY) {
			c->bad_query = 1;
			break;
		}
		char *frag = c->qbuf + used;
		char *eq = strchr(frag, '=');
		if (eq)
			*eq = '\0';
		c->q[c->nq].name = frag;
		c->q[c->nq].value = eq ? eq + 1 : "";
		c->nq++;
		used += (size_t)n + 1;
	}
}

/* URI-encode s (SigV4's unreserved set, '/' kept if asked) into out. */
static int encode_into(const char *s, int keep_slash, char *out, size_t outlen, size_t *used)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
			   ch == '~' || (keep_slash && ch == '/');
		if (*used + 4 > outlen)
			return -1;
		if (keep) {
			out[(*used)++] = (char)ch;
		} else {
			out[(*used)++] = '%';
			out[(*used)++] = hex[ch >> 4];
			out[(*used)++] = hex[ch & 15];
		}
	}
	out[*used] = '\0';
	return 0;
}

/* A header's value by name: a token lws knows, else a custom header. */
static int header_copy(struct lws *wsi, const char *name, char *dst, int len)
{
	char want[96];
	int wl = snprintf(want, sizeof want, "%s:", name);
	if (wl < 0 || wl >= (int)sizeof want)
		return -1;
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
		if (s && strcasecmp((const char *)s, want) == 0)
			return lws_hdr_total_length(wsi, (enum lws_token_indexes)t) > 0
				       ? lws_hdr_copy(wsi, dst, len, (enum lws_token_indexes)t)
				       : -1;
	}
	if (lws_hdr_custom_length(wsi, want, wl) < 0)
		return -1;
	return lws_hdr_custom_copy(wsi, dst, len, want, wl);
}

static void add_header(struct lws *wsi, struct httpd_conn *c, const char *name, size_t nl,
		       size_t *used)
{
	char n[80];
	if (nl == 0 || nl >= sizeof n)
		return;
	memcpy(n, name, nl);
	n[nl] = '\0';
	for (unsigned i = 0; i < c->rq.nheaders; i++)
		if (strcasecmp(c->rq.headers[i].name, n) == 0)
			return;
	if (c->rq.nheaders >= HTTPMSG_HEADERS_MAX || *used + nl + 2 > sizeof c->rq_head) {
		c->rq_bad = 1;
		return;
	}
	char *np = c->rq_head + *used;
	memcpy(np, n, nl + 1);
	*used += nl + 1;
	int vl = header_copy(wsi, n, c->rq_head + *used, (int)(sizeof c->rq_head - *used));
	if (vl < 0) {
		*used -= nl + 1;
		return;
	}
	c->rq.headers[c->rq.nheaders].name = np;
	c->rq.headers[c->rq.nheaders].value = c->rq_head + *used;
	c->rq.nheaders++;
	*used += (size_t)vl + 1;
}

/* Add every name of a SignedHeaders list ("a;b;c"). */
static void add_signed(struct lws *wsi, struct httpd_conn *c, const char *list, size_t *used)
{
	while (list && *list && *list != ',' && *list != ' ') {
		size_t l = strcspn(list, ";, ");
		add_header(wsi, c, list, l, used);
		list += l + (list[l] == ';');
	}
}

/* The request as the signature check sees it: method, path and query as
 * sent (re-encoded), the headers it may sign. */
static void collect_request(struct lws *wsi, struct httpd_conn *c, const char *method)
{
	static const char *const always[] = { "authorization", "host", "x-amz-date",
					      "x-amz-content-sha256", "content-type",
					      "content-length" };
	size_t used = 0, qused = 0;
	memset(&c->rq, 0, sizeof c->rq);
	c->rq.method = method;
	if (encode_into(c->path, 1, c->rq_path, sizeof c->rq_path, &used) < 0)
		c->rq_bad = 1;
	c->rq_query[0] = '\0';
	for (unsigned i = 0; i < c->nq && !c->rq_bad; i++) {
		if (i && qused + 2 < sizeof c->rq_query)
			c->rq_query[qused++] = '&';
		if (encode_into(c->q[i].name, 0, c->rq_query, sizeof c->rq_query, &qused) < 0 ||
		    qused + 2 >= sizeof c->rq_query)
			c->rq_bad = 1;
		else {
			c->rq_query[qused++] = '=';
			c->rq_query[qused] = '\0';
			if (encode_into(c->q[i].value, 0, c->rq_query, sizeof c->rq_query,
					&qused) < 0)
				c->rq_bad = 1;
		}
	}
	c->rq.raw_path = c->rq.path = c->rq.target = c->rq_path;
	c->rq.raw_query = c->rq_query;
	used = 0;
	for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
		add_header(wsi, c, always[i], strlen(always[i]), &used);
	const char *authz = httpmsg_get(&c->rq, "authorization");
	const char *sh = authz ? strstr(authz, "SignedHeaders=") : NULL;
	if (sh)
		add_signed(wsi, c, sh + 14, &used);
	for (unsigned i = 0; i < c->nq; i++)
		if (strcmp(c->q[i].name, "X-Amz-SignedHeaders") == 0)
			add_signed(wsi, c, c->q[i].value, &used);
}

static int start_response(struct lws *wsi, struct httpd_conn *c, struct route_resp *r)
{
	unsigned char hdr[LWS_PRE + 1024];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
	c->responding = 1;
	c->out = malloc(LWS_PRE + r->len + 1);
	if (!c->out)
		return -1;
	if (r->len)
		memcpy(c->out + LWS_PRE, r->body, r->len);
	c->outlen = r->len;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json", r->len, &p,
					end))
		return -1;
	if (r->err_type &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-amzn-errortype:",
					(const unsigned char *)r->err_type,
					(int)strlen(r->err_type), &p, end))
		return -1;
	/* A request id, as the AWS SDKs record in $metadata.requestId. */
	char rid[40];
	uint8_t rb[16];
	if (getrandom(rb, sizeof rb, GRND_NONBLOCK) != (ssize_t)sizeof rb)
		memset(rb, 0, sizeof rb);
	for (size_t i = 0; i < sizeof rb; i++)
		snprintf(rid + 2 * i, 3, "%02x", rb[i]);
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-amzn-requestid:",
					(const unsigned char *)rid, 32, &p, end))
		return -1;
	if (c->close_after &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_error(struct lws *wsi, struct httpd_conn *c, int status, const char *type,
			 const char *msg)
{
	struct route_resp r;
	routes_error(&r, status, type, msg);
	int rc = start_response(wsi, c, &r);
	free(r.body);
	return rc;
}

static int dispatch(struct lws *wsi, struct httpd_conn *c)
{
	struct hearthd *hd = lws_context_user(lws_get_context(wsi));
	struct route_resp r;
	if (c->too_big)
		return respond_error(wsi, c, 413, "RequestEntityTooLargeException",
				     "request body is too large");
	if (c->bad_query)
		return respond_error(wsi, c, 400, API_E_VALIDATION, "query string is too long");
	if (auth_fn) {
		struct api_err e = { 0 };
		c->rq.body = buf_ptr(&c->body);
		c->rq.body_len = buf_used(&c->body);
		if (c->rq_bad)
			api_fail(&e, "IncompleteSignatureException",
				 "the request's headers are too large to check its signature");
		if (c->rq_bad || auth_fn(auth_ctx, &c->rq, &e) != 0)
			return respond_error(wsi, c, routes_status(e.type), e.type, e.msg);
	}
	routes_dispatch(hd, c->method, c->path, c->q, c->nq, (const char *)buf_ptr(&c->body),
			buf_used(&c->body), &r);
	int rc = start_response(wsi, c, &r);
	free(r.body);
	return rc;
}

static int on_http(struct lws *wsi, struct httpd_conn *c, const char *uri)
{
	char cl[32];
	conn_reset(c);
	buf_init(&c->body, API_MAX_BODY);
	c->method = RM_OTHER;
	const char *mname = "OTHER";
	for (size_t i = 0; i < sizeof method_tokens / sizeof method_tokens[0]; i++)
		if (lws_hdr_total_length(wsi, method_tokens[i].tok) > 0) {
			c->method = method_tokens[i].m;
			mname = method_tokens[i].name;
			break;
		}
	if (!uri || strlen(uri) >= sizeof c->path)
		return respond_error(wsi, c, 400, API_E_VALIDATION, "request path is too long");
	snprintf(c->path, sizeof c->path, "%s", uri);
	collect_query(wsi, c);
	collect_request(wsi, c, mname);
	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
		char *end;
		c->content_length = strtoull(cl, &end, 10);
		if (*end)
			return respond_error(wsi, c, 400, API_E_VALIDATION, "bad Content-Length");
	}
	if (c->content_length > HTTPD_DISCARD_MAX) {
		/* Do not read megabytes just to refuse them. */
		c->close_after = 1;
		c->too_big = 1;
		return dispatch(wsi, c);
	}
	if (c->content_length > API_MAX_BODY)
		c->too_big = 1;
	if (c->content_length == 0)
		return dispatch(wsi, c);
	return 0; /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
}

static int httpd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len)
{
	struct httpd_conn *c = user;
	struct hearthd *hd = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (hd && hd->lc)
			lifecycle_drain(hd->lc);
		return 0;
	case LWS_CALLBACK_HTTP:
		if (on_http(wsi, c, in) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (c->responding)
			return 0;
		if (!c->too_big && buf_put(&c->body, in, len) != BUF_OK)
			c->too_big = 1;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (c->responding)
			return 0;
		if (dispatch(wsi, c) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!c->out)
			return 0;
		if (c->outlen &&
		    lws_write(wsi, c->out + LWS_PRE, c->outlen, LWS_WRITE_HTTP_FINAL) !=
			    (int)c->outlen)
			return -1;
		free(c->out);
		c->out = NULL;
		if (c->close_after)
			return -1;
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c)
			conn_reset(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols httpd_protocols[] = {
	{ "hearth-api", httpd_callback, sizeof(struct httpd_conn), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

const struct lws_protocols *httpd_protocol_list(void)
{
	return httpd_protocols;
}
