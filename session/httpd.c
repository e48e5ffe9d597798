/*
 * httpd.c - the API listener's libwebsockets glue. lws accepts, reads and
 * writes the sockets and runs the event loop; it parses nothing: accepted
 * sockets are adopted raw and their bytes go to the connection core
 * (httpconn.c, strict framing in protocol/httpsrv.c).
 */
#include "session/httpd.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "session/apistream.h"
#include "protocol/httpsrv.h"
#include "session/httpconn.h"
#include "session/routes.h"

#define HTTPD_PROTO "hearth-api"
#define HTTPD_IDLE_S 30    /* a connection that sends nothing for this long is closed */
/* a streamed body waits this long at most for its owner's room (the VM resuming) */
#define HTTPD_BODY_WAIT_S 300
#define HTTPD_LINGER_S 2   /* after the last answer: how long its unread input is drained */
#define HTTPD_CHUNK (16u * 1024)
#define HTTPD_WRITES_PER_TURN 16

struct httpd_sess {
	struct httpconn *hc;
	int lingering; /* the last answer is out and our side shut: drain until EOF */
	struct lws *wsi;
	struct hearthd *hd;
	const struct apistream_ops *sops; /* a deferred answer's owner (apistream.h) */
	void *sowner;
};

static uint8_t scratch[LWS_PRE + HTTPD_CHUNK];
static httpd_auth_fn auth_fn;
static void *auth_ctx;

void httpd_set_auth(httpd_auth_fn fn, void *ctx)
{
	auth_fn = fn;
	auth_ctx = ctx;
}

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

static void route(void *ctx, enum route_method m, const struct httpmsg_request *rq,
		  const struct route_query *query, unsigned nquery, struct route_resp *resp)
{
	struct httpd_sess *s = ctx;
	routes_dispatch(s->hd, m, rq->path, query, nquery, (const char *)rq->body, rq->body_len,
			rq->body_streamed, s, resp);
}

static void want(struct lws *wsi, struct httpd_sess *s);

/* Streamed bodies: the route says which; only an unsigned payload (or no
 * auth at all) streams, a signed one is collected and its hash checked. */
static int stream_pick(void *ctx, const struct httpmsg_request *rq)
{
	(void)ctx;
	enum route_method m = RM_OTHER;
	if (!strcmp(rq->method, "PUT"))
		m = RM_PUT;
	if (!routes_streams_body(m, rq->path))
		return HTTPSRV_STREAM_NO;
	const char *h = httpmsg_get(rq, "x-amz-content-sha256");
	if (!auth_fn || (h && !strcmp(h, "UNSIGNED-PAYLOAD")))
		return HTTPSRV_STREAM_YES;
	return HTTPSRV_STREAM_SIGNED;
}

static size_t body_room(void *ctx)
{
	struct httpd_sess *s = ctx;
	return s->sops && s->sops->body_room ? s->sops->body_room(s->sowner) : 0;
}

static int body_data(void *ctx, const uint8_t *p, size_t n)
{
	struct httpd_sess *s = ctx;
	return s->sops && s->sops->body_data ? s->sops->body_data(s->sowner, p, n) : -1;
}

static void body_end(void *ctx, int ok)
{
	struct httpd_sess *s = ctx;
	const struct apistream_ops *o = s->sops;
	void *owner = s->sowner;
	if (!o || !o->body_end)
		return;
	if (!ok) { /* the connection answers the refusal: the owner is gone */
		s->sops = NULL;
		s->sowner = NULL;
	}
	o->body_end(owner, ok);
}

void apistream_body_resume(void *conn)
{
	struct httpd_sess *s = conn;
	if (!httpconn_streaming(s->hc))
		return;
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, HTTPD_IDLE_S);
	httpconn_resume(s->hc);
	want(s->wsi, s);
}

void apistream_attach(void *conn, const struct apistream_ops *ops, void *owner)
{
	struct httpd_sess *s = conn;
	s->sops = ops;
	s->sowner = owner;
}

void apistream_begin(void *conn, unsigned status, const char *ctype)
{
	struct httpd_sess *s = conn;
	httpconn_stream_begin(s->hc, status, ctype);
	want(s->wsi, s);
}

int apistream_data(void *conn, const void *p, size_t n)
{
	struct httpd_sess *s = conn;
	int rc = httpconn_stream_data(s->hc, p, n);
	want(s->wsi, s);
	return rc;
}

size_t apistream_room(void *conn)
{
	struct httpd_sess *s = conn;
	return httpconn_out_room(s->hc);
}

void apistream_end(void *conn, int complete)
{
	struct httpd_sess *s = conn;
	s->sops = NULL;
	s->sowner = NULL;
	httpconn_stream_end(s->hc, complete);
	want(s->wsi, s);
}

void apistream_answer(void *conn, unsigned status, const char *err_type, const char *json)
{
	struct httpd_sess *s = conn;
	s->sops = NULL;
	s->sowner = NULL;
	httpconn_deferred_answer(s->hc, status, err_type, json);
	want(s->wsi, s);
}

/* The auth hook as it is when the request comes (it may be set late). */
static int check_auth(void *ctx, const struct httpmsg_request *rq, struct api_err *e)
{
	(void)ctx;
	return auth_fn ? auth_fn(auth_ctx, rq, e) : 0;
}

/* Ask for what the core needs next: writing, or reading paused. */
static void want(struct lws *wsi, struct httpd_sess *s)
{
	size_t n;
	httpconn_output(s->hc, &n);
	if (n || httpconn_closing(s->hc))
		lws_callback_on_writable(wsi);
	int paused = httpconn_paused(s->hc);
	/* A body held for its owner (not the client's stall): a longer bound. */
	if (paused && httpconn_streaming(s->hc))
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTPD_BODY_WAIT_S);
	lws_rx_flow_control(wsi, !paused);
}

static int on_writeable(struct lws *wsi, struct httpd_sess *s)
{
	if (s->lingering)
		return 0;
	for (int i = 0; i < HTTPD_WRITES_PER_TURN; i++) {
		size_t n;
		const uint8_t *p = httpconn_output(s->hc, &n);
		if (!n)
			break;
		if (n > HTTPD_CHUNK)
			n = HTTPD_CHUNK;
		memcpy(scratch + LWS_PRE, p, n);
		if (lws_write(wsi, scratch + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			return -1;
		if (httpconn_written(s->hc, n) < 0)
			return -1;
		if (lws_send_pipe_choked(wsi))
			break;
	}
	size_t left;
	httpconn_output(s->hc, &left);
	if (s->sops && httpconn_out_room(s->hc) > 0)
		s->sops->drained(s->sowner); /* may queue more, or end the stream */
	httpconn_output(s->hc, &left);
	if (left || lws_partial_buffered(wsi)) {
		lws_callback_on_writable(wsi);
	} else if (httpconn_closing(s->hc)) {
		/* All is out: shut our side and read what the client still sends
		 * until it closes, so the answer is not lost to a reset. */
		s->lingering = 1;
		shutdown(lws_get_socket_fd(wsi), SHUT_WR);
		lws_rx_flow_control(wsi, 1);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTPD_LINGER_S);
		return 0;
	}
	lws_rx_flow_control(wsi, !httpconn_paused(s->hc));
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTPD_IDLE_S);
	return 0;
}

static int httpd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len)
{
	struct hearthd *hd = lws_context_user(lws_get_context(wsi));
	struct httpd_sess *s = user;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT: {
		struct httpconn_cfg cfg = { .dispatch = route,
					    .ctx = s,
					    .auth = check_auth,
					    .stream_pick = stream_pick,
					    .stream_max = API_MAX_STREAM_BODY,
					    .body_room = body_room,
					    .body_data = body_data,
					    .body_end = body_end };
		if (!s)
			return -1;
		s->wsi = wsi;
		s->hd = hd;
		s->sops = NULL;
		s->sowner = NULL;
		if (!(s->hc = httpconn_new(&cfg)))
			return -1;
		s->lingering = 0;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTPD_IDLE_S);
		return 0;
	}
	case LWS_CALLBACK_RAW_RX:
		if (!s || !s->hc)
			return -1;
		if (s->lingering)
			return 0;
		if (httpconn_input(s->hc, in, len) < 0)
			return -1;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTPD_IDLE_S);
		want(wsi, s);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return s && s->hc ? on_writeable(wsi, s) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		if (s) {
			if (s->sops) { /* a deferred answer's owner: the client left */
				const struct apistream_ops *o = s->sops;
				s->sops = NULL;
				o->gone(s->sowner);
			}
			httpconn_free(s->hc);
			s->hc = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols httpd_protocols[] = {
	{ HTTPD_PROTO, httpd_callback, sizeof(struct httpd_sess), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

const struct lws_protocols *httpd_protocol_list(void)
{
	return httpd_protocols;
}

void httpd_vhost_info(struct lws_context_creation_info *info)
{
	info->protocols = httpd_protocols;
	/* lws only accepts: each socket is adopted raw, its bytes come to us. */
	info->listen_accept_role = "raw-skt";
	info->listen_accept_protocol = HTTPD_PROTO;
	info->options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
}
