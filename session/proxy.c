/*
 * proxy.c - the app proxy: one client connection of the ingress, forwarded
 * request by request to a TCP port in the VM; see proxy.h.
 *
 * Client bytes: in -> (each request head parsed, authorized, rewritten; its
 * body followed by httpreq_body) -> up -> agent DATA within its window.
 * Agent bytes: DATA -> response tracker (heads parsed, bodies followed)
 * -> down -> the client queue; WINDOW goes back to the agent for what the
 * client queue took. The tracker only watches where a response ends; bytes
 * pass unchanged and unbuffered (a 101 may gain the marker subprotocol).
 */
#include "session/proxy.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/buf.h"
#include "protocol/httpreq.h"
#include "protocol/mux.h"
#include "protocol/token.h"
#include "protocol/wsproto.h"
#include "session/agentlink.h"
#include "session/lifecycle.h"
#include "session/store.h"

#define PROXY_PAUSE_AT (16u * 1024)  /* stop reading the client above this much input */
#define PROXY_CHUNK (64u * 1024)     /* bytes per write to the client queue */
#define PROXY_DOWN_MAX (PROXY_WINDOW + MUX_MAX_DATA + 256)
#define PROXY_MARKER "lambda-microvms"
#define PROXY_MARKER_LINE "Sec-WebSocket-Protocol: " PROXY_MARKER "\r\n"
#define PROXY_DENIED "the token is not valid for this endpoint"

enum req_state { REQ_HEAD, REQ_BODY, REQ_DONE, REQ_PIPE };
enum resp_state { RESP_IDLE, RESP_HEAD, RESP_BODY, RESP_RAW, RESP_PIPE };

struct proxy {
	struct hearthd *hd;
	struct ingress_conn *c;
	char vm_id[TOKEN_MAX_ID + 1];
	struct agentlink_chan *ch;
	unsigned port;           /* ch's port */
	enum req_state req;
	enum resp_state resp;
	struct httpreq_body reqb, respb;
	int head_req;            /* the request in flight is HEAD */
	int keep;                /* ... and wants the connection kept */
	int offered_marker;      /* ... and offered the lambda-microvms subprotocol */
	int resp_close;          /* the response in flight ends the connection */
	int forwarded;           /* bytes of the response in flight went down */
	int ending;              /* hang up once down is written */
	int done;                /* answered or hung up: nothing more to do */
	int paused;
	int idle;                /* the idle timer runs */
	lws_sorted_usec_list_t sul;
	size_t debt;             /* bytes in down the agent did not send (never acknowledged) */
	int64_t traffic_ms;
	struct buf in;           /* client bytes not yet forwarded */
	struct buf up;           /* bytes for the agent, waiting for its window */
	struct buf down;         /* bytes for the client, waiting for queue room */
	size_t rhl;
	char rh[HTTPREQ_RESP_HEAD_MAX]; /* a response head being read */
};

static const struct agentlink_ops proxy_link_ops;
static void pump(struct proxy *p);
static void flush_down(struct proxy *p);

static void note_traffic(struct proxy *p)
{
	lifecycle_note_traffic_every(p->hd->lc, p->vm_id, &p->traffic_ms);
}

static void close_chan(struct proxy *p)
{
	if (p->ch)
		agentlink_close(p->ch);
	p->ch = NULL;
}

/* An error answer: only while nothing of a response went to the client. */
static void refuse(struct proxy *p, unsigned status, const char *msg)
{
	if (p->done)
		return;
	close_chan(p);
	p->done = 1;
	ingress_conn_refuse(p->c, status, msg);
}

/* Acknowledge to the agent what the client queue took. */
static void ack(struct proxy *p, size_t n)
{
	size_t d = p->debt < n ? p->debt : n;
	p->debt -= d;
	n -= d;
	if (n && p->ch)
		agentlink_window(p->ch, (uint32_t)n);
}

static void flush_down(struct proxy *p)
{
	while (!p->done && buf_used(&p->down)) {
		size_t n = buf_used(&p->down), room = ingress_conn_room(p->c);
		if (n > room)
			n = room;
		if (n > PROXY_CHUNK)
			n = PROXY_CHUNK;
		if (!n || ingress_conn_write(p->c, buf_ptr(&p->down), n) < 0)
			break;
		buf_consume(&p->down, n);
		ack(p, n);
	}
	if (p->ending && !p->done && !buf_used(&p->down)) {
		close_chan(p);
		p->done = 1;
		ingress_conn_hangup(p->c);
	}
}

/* The connection cannot carry an error answer any more (a response started):
 * deliver what there is, then hang up. */
static void fail(struct proxy *p, unsigned status, const char *msg)
{
	if (p->done)
		return;
	if (p->resp == RESP_HEAD && !p->forwarded && !p->rhl && !buf_used(&p->down)) {
		refuse(p, status, msg);
		return;
	}
	close_chan(p);
	p->ending = 1;
	flush_down(p);
}

static int put_down(struct proxy *p, const void *b, size_t n)
{
	if (!n)
		return 0;
	if (buf_put(&p->down, b, n) != BUF_OK)
		return -1; /* the agent sent past our window */
	p->forwarded = 1;
	return 0;
}

static void flush_up(struct proxy *p)
{
	if (!p->ch || p->done)
		return;
	agentlink_data_from(p->ch, &p->up);
}

static int open_chan(struct proxy *p, unsigned port)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	char err[160], msg[240];
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_TCP;
	o.window = PROXY_WINDOW;
	o.has_port = 1;
	o.port = (uint16_t)port;
	o.host = mux_cstr("127.0.0.1");
	p->ch = agentlink_open(p->hd, p->vm_id, &o, &proxy_link_ops, p, err, sizeof err);
	if (!p->ch) {
		snprintf(msg, sizeof msg, "cannot reach the microVM: %s", err);
		refuse(p, 503, msg);
		return -1;
	}
	p->port = port;
	p->debt = 0;
	buf_reset(&p->up);
	return 0;
}

/* A VM that will not run for this request: 409 saying why (as the shell does). */
static void refuse_state(struct proxy *p)
{
	char msg[200];
	struct store_vm *v = malloc(sizeof *v);
	if (v && store_vm_get(p->hd->store, p->vm_id, v) == 1 && strcmp(v->state, "SUSPENDED"))
		snprintf(msg, sizeof msg, "microVM is %s", v->state);
	else
		snprintf(
			msg, sizeof msg,
			"microVM is SUSPENDED and autoResume is off: resume it with the API first");
	free(v);
	refuse(p, 409, msg);
}

/* Authorize a parsed head; the port to use, or 0 when refused. */
static unsigned authorize(struct proxy *p, const char *h, size_t len, const struct httpreq *hr)
{
	struct token_claims cl;
	char msg[120];
	size_t skip = 0;
	while (skip + 1 < len && h[skip] == '\r' && h[skip + 1] == '\n')
		skip += 2; /* empty lines httpreq skipped */
	struct wsp_request *r = malloc(sizeof *r);
	if (!r) {
		refuse(p, 500, "out of memory");
		return 0;
	}
	int n = wsp_parse_request(h + skip, len - skip, r);
	enum ingress_auth a =
		n > 0 ? ingress_authorize(p->hd, r, p->vm_id, &cl) : INGRESS_AUTH_DENIED;
	p->offered_marker = n > 0 && wsp_offers_protocol(r->protocols, PROXY_MARKER);
	free(r);
	if (n <= 0) {
		refuse(p, n == -2 ? 431 : 400, "malformed request");
		return 0;
	}
	if (a == INGRESS_AUTH_MISSING) {
		refuse(p, 401, "a token is required (X-aws-proxy-auth)");
		return 0;
	}
	if (a != INGRESS_AUTH_OK || cl.kind != TOKEN_KIND_PROXY) {
		refuse(p, 403, PROXY_DENIED);
		return 0;
	}
	unsigned port = hr->port ? hr->port : hr->ws_port ? hr->ws_port : PROXY_DEFAULT_PORT;
	if (!token_allows_port(&cl, (uint16_t)port)) {
		snprintf(msg, sizeof msg, "port %u is not allowed by the token", port);
		refuse(p, 403, msg);
		return 0;
	}
	return port;
}

/* The next request head in p->in: 1 started, 0 needs more input, -1 refused. */
static int next_request(struct proxy *p)
{
	static char out[HTTPREQ_HEAD_MAX];
	struct httpreq hr;
	const char *h = (const char *)buf_ptr(&p->in);
	if (buf_room(&p->up) < HTTPREQ_HEAD_MAX)
		return 0; /* the agent has not taken the last body yet */
	int len = httpreq_parse(h, buf_used(&p->in), &hr, out, sizeof out);
	if (len == HTTPREQ_MORE)
		return 0;
	if (len < 0) {
		refuse(p, httpreq_status(len), hr.why ? hr.why : httpreq_strerror(len));
		return -1;
	}
	unsigned port = authorize(p, h, (size_t)len, &hr);
	if (!port)
		return -1;
	lifecycle_note_traffic(p->hd->lc, p->vm_id);
	p->traffic_ms = hd_now_ms();
	if (p->ch && p->port != port)
		close_chan(p); /* the last response has ended: another port, another channel */
	if (!p->ch) {
		if (lifecycle_request_resume(p->hd->lc, p->vm_id) < 0) {
			refuse_state(p);
			return -1;
		}
		if (open_chan(p, port) < 0)
			return -1;
	}
	buf_put(&p->up, out, hr.out_len); /* fits: checked above */
	buf_consume(&p->in, (size_t)len);
	if (p->idle) {
		lws_sul_cancel(&p->sul);
		p->idle = 0;
	}
	p->head_req = !strcmp(hr.method, "HEAD");
	p->keep = hr.keep_alive;
	p->resp = RESP_HEAD;
	p->forwarded = 0;
	p->rhl = 0;
	httpreq_body_init(&p->reqb, hr.framing, hr.length);
	p->req = p->reqb.done ? REQ_DONE : REQ_BODY;
	return 1;
}

/* Move client bytes on as far as the request states and the queues allow. */
static void pump(struct proxy *p)
{
	int more = 1;
	flush_up(p);
	while (more && !p->done && !p->ending) {
		size_t n = buf_used(&p->in), room = buf_room(&p->up);
		long k;
		more = 0;
		switch (p->req) {
		case REQ_PIPE:
			if (n > room)
				n = room;
			buf_put(&p->up, buf_ptr(&p->in), n);
			buf_consume(&p->in, n);
			break;
		case REQ_BODY:
			if (n > room)
				n = room;
			if (!n)
				break;
			k = httpreq_body_feed(&p->reqb, buf_ptr(&p->in), n);
			if (k < 0) {
				fail(p, 400, "malformed chunked request body");
				return;
			}
			buf_put(&p->up, buf_ptr(&p->in), (size_t)k);
			buf_consume(&p->in, (size_t)k);
			if (p->reqb.done) {
				p->req = REQ_DONE;
				more = 1;
			}
			break;
		case REQ_DONE:
			if (p->resp == RESP_IDLE) {
				p->req = REQ_HEAD;
				more = 1;
			}
			break;
		case REQ_HEAD:
			/* One request at a time: the next waits for the last response. */
			if (p->resp == RESP_IDLE && !buf_used(&p->down) && n)
				more = next_request(p) > 0;
			break;
		}
	}
	flush_up(p);
	if (p->done)
		return;
	if (!p->paused && buf_used(&p->in) >= PROXY_PAUSE_AT) {
		p->paused = 1;
		ingress_conn_rx_pause(p->c, 1);
	} else if (p->paused && buf_used(&p->in) < PROXY_PAUSE_AT / 2) {
		p->paused = 0;
		ingress_conn_rx_pause(p->c, 0);
	}
}

/* No request in flight for PROXY_IDLE_MS (counted from the end of the last
 * response, not reset by a trickle of bytes): the connection ends, so idle
 * keep-alive connections do not hold the VM's channels forever. */
static void idle_fired(lws_sorted_usec_list_t *sul)
{
	struct proxy *p = lws_container_of(sul, struct proxy, sul);
	p->idle = 0;
	if (p->done || p->resp != RESP_IDLE || p->req != REQ_HEAD)
		return;
	p->ending = 1;
	flush_down(p);
}

static void response_done(struct proxy *p)
{
	p->resp = RESP_IDLE;
	if (p->resp_close || !p->keep)
		p->ending = 1;
	else if (!p->idle) {
		p->idle = 1;
		lws_sul_schedule(p->hd->lws, 0, &p->sul, idle_fired, PROXY_IDLE_MS * LWS_US_PER_MS);
	}
}

/* A complete response head in p->rh: forward it (a 101 without a subprotocol
 * gets the marker the client offered, as the shell's 101 does). */
static int emit_head(struct proxy *p, unsigned status)
{
	static const char swp[] = "\r\nsec-websocket-protocol:";
	int has = 0;
	for (size_t i = 0; i + sizeof swp - 1 <= p->rhl && !has; i++)
		has = strncasecmp(p->rh + i, swp, sizeof swp - 1) == 0;
	int rc;
	if (status == 101 && p->offered_marker && !has) {
		rc = put_down(p, p->rh, p->rhl - 2);
		rc |= put_down(p, PROXY_MARKER_LINE "\r\n", sizeof PROXY_MARKER_LINE + 1);
		p->debt += sizeof PROXY_MARKER_LINE - 1;
	} else
		rc = put_down(p, p->rh, p->rhl);
	p->rhl = 0;
	return rc;
}

/* Application bytes, in order: forward them, watching where responses end. */
static int take_resp(struct proxy *p, const uint8_t *b, size_t n)
{
	struct httpreq_resp rs;
	while (n) {
		size_t k;
		long j;
		switch (p->resp) {
		case RESP_IDLE:
			/* Bytes no request asked for (say a body after a HEAD
			 * answer): framing is lost, so pass them on and end the
			 * connection rather than answer later requests wrongly. */
			p->resp = RESP_RAW;
			p->ending = 1;
			break;
		case RESP_RAW:
		case RESP_PIPE:
			return put_down(p, b, n);
		case RESP_BODY:
			j = httpreq_body_feed(&p->respb, b, n);
			if (j < 0) {
				p->resp = RESP_RAW;
				p->resp_close = 1;
				break;
			}
			if (put_down(p, b, (size_t)j) < 0)
				return -1;
			b += j;
			n -= (size_t)j;
			if (p->respb.done)
				response_done(p);
			break;
		case RESP_HEAD: {
			size_t old = p->rhl;
			k = n < sizeof p->rh - old ? n : sizeof p->rh - old;
			memcpy(p->rh + old, b, k);
			p->rhl += k;
			int rc = httpreq_parse_response(p->rh, p->rhl, p->head_req, &rs);
			if (rc == HTTPREQ_MORE) {
				b += k;
				n -= k;
				break;
			}
			if (rc < 0) {
				/* Not a head we can follow: pass it on and go raw. */
				b += k;
				n -= k;
				p->resp = RESP_RAW;
				p->resp_close = 1;
				size_t l = p->rhl;
				p->rhl = 0;
				if (put_down(p, p->rh, l) < 0)
					return -1;
				break;
			}
			b += (size_t)rc - old;
			n -= (size_t)rc - old;
			p->rhl = (size_t)rc;
			if (emit_head(p, rs.status) < 0)
				return -1;
			if (rs.status == 101) {
				p->resp = RESP_PIPE;
				p->req = REQ_PIPE;
			} else if (rs.status >= 200) {
				p->resp_close = rs.close;
				httpreq_body_init(&p->respb, rs.framing, rs.length);
				p->resp = RESP_BODY;
				if (p->respb.done)
					response_done(p);
			}
			break;
		}
		}
	}
	return 0;
}

/* The application ended its side (EOF or CLOSE). */
static void app_ended(struct proxy *p)
{
	if (p->resp == RESP_HEAD && p->rhl) {
		put_down(p, p->rh, p->rhl);
		p->rhl = 0;
	}
	if (p->resp == RESP_HEAD && !p->forwarded && !buf_used(&p->down))
		refuse(p, 502, "the application closed the connection without answering");
	else {
		p->ending = 1;
		flush_down(p);
	}
}

void proxy_fail_text(const struct mux_frame *f, unsigned port, char *msg, size_t n)
{
	struct mux_fail fl;
	if (mux_decode_fail(f, &fl) != MUX_OK) {
		fl.code = 0;
		fl.msg.len = 0;
		fl.msg.p = "";
	}
	int len = fl.msg.len > 100 ? 100 : (int)fl.msg.len;
	if (f->hdr.type == MUX_OPEN_FAIL && fl.code == MUX_E_CONNECT)
		snprintf(msg, n, "nothing is listening on port %u in the microVM (%.*s)", port, len,
			 fl.msg.p);
	else
		snprintf(msg, n, "cannot reach port %u in the microVM: %.*s", port, len, fl.msg.p);
}

static void link_frame(void *owner, const struct mux_frame *f)
{
	struct proxy *p = owner;
	struct mux_data d;
	char msg[240];
	if (p->done)
		return;
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		pump(p);
		return;
	case MUX_OPEN_FAIL:
	case MUX_ERROR:
		close_chan(p);
		proxy_fail_text(f, p->port, msg, sizeof msg);
		fail(p, 502, msg);
		return;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK || take_resp(p, d.p, d.len) < 0) {
			close_chan(p);
			ingress_conn_abort(p->c);
			p->done = 1;
			return;
		}
		note_traffic(p);
		flush_down(p);
		pump(p);
		return;
	case MUX_EOF:
		app_ended(p);
		return;
	case MUX_CLOSE:
		close_chan(p);
		app_ended(p);
		return;
	default:
		return;
	}
}

static void link_down(void *owner, const char *reason)
{
	struct proxy *p = owner;
	close_chan(p);
	fail(p, 502, reason);
}

static void link_writable(void *owner)
{
	struct proxy *p = owner;
	pump(p);
}

static const struct agentlink_ops proxy_link_ops = { link_frame, link_down, link_writable };

static int conn_rx(void *h, const uint8_t *b, size_t n)
{
	struct proxy *p = h;
	if (p->done || p->ending)
		return 0;
	if (buf_put(&p->in, b, n) != BUF_OK)
		return -1; /* past the bound despite the pause */
	note_traffic(p);
	pump(p);
	return 0;
}

static void conn_writable(void *h)
{
	struct proxy *p = h;
	flush_down(p);
	pump(p);
}

static void conn_closed(void *h)
{
	struct proxy *p = h;
	lws_sul_cancel(&p->sul);
	close_chan(p);
	buf_free(&p->in);
	buf_free(&p->up);
	buf_free(&p->down);
	free(p);
}

static const struct ingress_handler_ops proxy_conn_ops = { conn_rx, conn_writable, conn_closed };

void proxy_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		  size_t headlen, const char *vm_id)
{
	(void)r; /* every head, the first too, is parsed and authorized alike in pump */
	struct proxy *p = calloc(1, sizeof *p);
	if (!p) {
		ingress_conn_refuse(c, 500, "out of memory");
		return;
	}
	p->hd = ingress_conn_hd(c);
	p->c = c;
	snprintf(p->vm_id, sizeof p->vm_id, "%s", vm_id);
	buf_init(&p->in, PROXY_IN_MAX);
	buf_init(&p->up, PROXY_UP_MAX);
	buf_init(&p->down, PROXY_DOWN_MAX);
	ingress_conn_bind(c, &proxy_conn_ops, p);
	if (strlen(vm_id) >= sizeof p->vm_id) {
		refuse(p, 403, PROXY_DENIED);
		return;
	}
	if (buf_put(&p->in, head, headlen) != BUF_OK) {
		refuse(p, 500, "out of memory");
		return;
	}
	pump(p);
}
