/*
 * h2srv.c - one HTTP/2 client connection of the ingress; see h2srv.h.
 *
 * Request stream: HEADERS -> h2map (fields) -> an HTTP/1.1 head, parsed,
 * authorized and rewritten exactly as proxy.c does -> agent tcp channel;
 * DATA -> up (content, chunked on the way out when the client gave no
 * content-length) -> agent DATA within its window, and only then is the
 * h2 window reopened (nghttp2_session_consume).
 * Response: agent DATA -> response head (httpreq_parse_response) -> h2
 * HEADERS; body de-chunked (httpreq_body_take) -> down -> h2 DATA through
 * a deferred data provider; the agent's window is returned as the provider
 * takes bytes, so a slow client slows only its own stream.
 * A stream asking for HTTP/2 upstream (x-aws-proxy-force-h2, gRPC content
 * types: h2map_wants_h2) is authorized the same way, then goes to the app
 * as an h2c stream instead (h2up.h, s_request_h2 and the up_* callbacks).
 */
#include "session/h2srv.h"

#include <json-c/json.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/buf.h"
#include "protocol/h2map.h"
#include "protocol/httpreq.h"
#include "protocol/mux.h"
#include "protocol/token.h"
#include "protocol/wsproto.h"
#include "session/agentlink.h"
#include "session/h2up.h"
#include "session/ingress.h"
#include "session/lifecycle.h"
#include "session/proxy.h"
#include "session/store.h"
#include "session/upstls.h"
#include "session/uppool.h"

#define H2SRV_DOWN_MAX (PROXY_WINDOW + MUX_MAX_DATA + 256)
#define H2SRV_RESP_FIELDS 128
#define H2SRV_DENIED "the token is not valid for this endpoint"

/* A stream's course; each state says who acts next. */
enum h2s_state {
	H2S_HEADERS, /* reading the request's fields */
	H2S_OPEN,    /* channel opened: forwarding; response head not yet whole */
	H2S_BODY,    /* response head sent: response body flowing */
	H2S_DONE,    /* response ended (or our own answer queued) */
};

struct h2conn;

struct h2s {
	struct h2conn *hc;
	int32_t id;
	enum h2s_state st;
	struct h2map *map;       /* while reading fields */
	size_t hbytes;           /* decoded header bytes */
	int too_big;
	char vm_id[TOKEN_MAX_ID + 1];
	struct agentlink_chan *ch;
	unsigned port;
	char *head;              /* the rewritten head, until the agent took it */
	size_t headlen;
	int chunked;             /* the request body goes chunked */
	int req_ended;           /* the client's END_STREAM came */
	int req_sent;            /* ... and all of it went to the agent */
	int head_req;            /* HEAD: no response body */
	struct buf up;           /* request content waiting for the agent's window */
	struct buf down;         /* response content waiting for the client's window */
	struct httpreq_body respb;
	int resp_ended;
	int deferred;            /* the data provider waits for bytes */
	size_t rhl;
	char *rh;                /* the response head being read */
	char *own;               /* our own answer's body */
	size_t ownlen, ownoff;
	struct h2s *next;
	int64_t traffic_ms;
	int pooled;              /* ch came from uppool: st->head is kept for a retry */
	int head_sent;           /* st->head went to the agent */
	int got_reply;           /* the app sent a byte on ch */
	int reusable;            /* the exchange may leave ch for the next request */
	int want_h2;             /* h2c to the application (h2up.h) */
	struct h2up *h2u;
	int32_t up_id;           /* the upstream stream, 0 once it is gone */
	struct h2up_fields *rt;  /* request trailers (to the app) */
	struct h2up_fields *tt;  /* response trailers (to the client) */
	struct upstls_probe pr;  /* an HTTP/1.1 app that may speak TLS (upstls.h) */
	struct upstls *tls;      /* ... and does */
	int tls_eof;             /* the agent's EOF came: end after the last record */
};

struct h2conn {
	struct hearthd *hd;
	struct ingress_conn *c;
	nghttp2_session *s;
	const uint8_t *pend;     /* from nghttp2_session_mem_send, not yet queued */
	size_t pendl;
	struct h2s *streams;
	int dying;
	int flushing;
	int idle;                /* the idle deadline runs (no stream open) */
	int64_t reset_window_ms;
	unsigned resets;
	struct h2up *ups;        /* HTTP/2 upstreams of this connection */
	struct ingress_authcache auth; /* the last verified token (ingress_conn.h) */
};

static const struct agentlink_ops h2s_link_ops;
static void h2_flush(struct h2conn *hc);
static int s_tls_pull(struct h2s *st);
static void s_app_ended(struct h2s *st, const char *why);

int h2srv_preface(const uint8_t *p, size_t n)
{
	size_t k = n < H2SRV_PREFACE_LEN ? n : H2SRV_PREFACE_LEN;
	if (memcmp(p, H2SRV_PREFACE, k))
		return -1;
	return n >= H2SRV_PREFACE_LEN;
}

/* ---- streams ---- */

static void s_close_chan(struct h2s *st)
{
	if (st->up_id)
		h2up_reset(st->h2u, st->up_id, NGHTTP2_CANCEL);
	st->up_id = 0;
	if (st->ch)
		agentlink_close(st->ch);
	st->ch = NULL;
	upstls_free(st->tls);
	st->tls = NULL;
	upstls_probe_end(&st->pr);
}

/* What the app's channel takes now: in clear, or inside TLS (-1: it failed). */
static long s_room(struct h2s *st)
{
	return st->tls ? upstls_room(st->tls, st->ch) : (long)agentlink_send_room(st->ch);
}

static int s_send(struct h2s *st, const void *p, size_t n)
{
	if (st->tls)
		return upstls_write(st->tls, st->ch, p, n);
	upstls_probe_sent(&st->pr, p, n);
	return agentlink_data(st->ch, p, n);
}

/* Credit the agent for n response bytes (inside TLS: as TLS takes them). */
static void s_credit(struct h2s *st, size_t n)
{
	if (n && st->ch && !st->tls)
		agentlink_window(st->ch, (uint32_t)n);
}

/* The response ended: a channel whose exchange ended cleanly (request all
 * sent, response framed by length or chunks, no close, nothing past it)
 * waits in the pool for the next request to this VM and port. */
static void s_done_chan(struct h2s *st)
{
	if (st->ch && !st->tls && st->reusable && st->req_sent && agentlink_reusable(st->ch)) {
		uppool_put(st->hc->hd, st->ch, st->vm_id, st->port);
		st->ch = NULL;
	}
	s_close_chan(st);
}

static void s_free(struct h2s *st)
{
	struct h2conn *hc = st->hc;
	for (struct h2s **pp = &hc->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	s_close_chan(st);
	buf_free(&st->up);
	buf_free(&st->down);
	free(st->map);
	free(st->head);
	free(st->rh);
	free(st->own);
	free(st->rt);
	free(st->tt);
	free(st);
}

static void s_reset(struct h2s *st, uint32_t code)
{
	s_close_chan(st);
	st->st = H2S_DONE;
	nghttp2_submit_rst_stream(st->hc->s, NGHTTP2_FLAG_NONE, st->id, code);
}

/* Body of our own answers. */
static ssize_t own_read(nghttp2_session *s, int32_t id, uint8_t *b, size_t len,
			uint32_t *flags, nghttp2_data_source *src, void *u)
{
	(void)s;
	(void)id;
	(void)u;
	struct h2s *st = src->ptr;
	size_t n = st->ownlen - st->ownoff;
	if (n > len)
		n = len;
	memcpy(b, st->own + st->ownoff, n);
	st->ownoff += n;
	if (st->ownoff == st->ownlen)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* The stream's own answer, {"message":msg} (the connection goes on). */
static void s_refuse(struct h2s *st, unsigned status, const char *msg)
{
	if (st->st == H2S_DONE || st->st == H2S_BODY)
		return;
	s_close_chan(st);
	st->st = H2S_DONE;
	struct json_object *o = json_object_new_object();
	const char *body = "{}";
	if (o) {
		json_object_object_add(o, "message", json_object_new_string(msg));
		body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	free(st->own);
	st->own = strdup(body);
	st->ownlen = st->own ? strlen(st->own) : 0;
	st->ownoff = 0;
	json_object_put(o);
	char sts[8], cl[24];
	snprintf(sts, sizeof sts, "%u", status);
	snprintf(cl, sizeof cl, "%zu", st->ownlen);
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)sts, 7, strlen(sts), NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16,
		  NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-length", (uint8_t *)cl, 14, strlen(cl), NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = own_read };
	if (nghttp2_submit_response(st->hc->s, st->id, nv, 3, st->own ? &dp : NULL))
		s_reset(st, NGHTTP2_INTERNAL_ERROR);
}

/* A VM that will not run for this request: 409 saying why (as proxy.c does). */
static void s_refuse_state(struct h2s *st)
{
	char msg[200];
	struct store_vm *v = malloc(sizeof *v);
	if (v && store_vm_get(st->hc->hd->store, st->vm_id, v) == 1 &&
	    strcmp(v->state, "SUSPENDED"))
		snprintf(msg, sizeof msg, "microVM is %s", v->state);
	else
		snprintf(
			msg, sizeof msg,
			"microVM is SUSPENDED and autoResume is off: resume it with the API first");
	free(v);
	s_refuse(st, 409, msg);
}

/* Request content and its chunk framing to the agent, within its window. */
static void s_flush_up(struct h2s *st)
{
	struct h2conn *hc = st->hc;
	if (st->up_id) {
		h2up_resume(st->h2u, st->up_id);
		return;
	}
	/* Inside TLS, handshake records move even once the request is out. */
	if (!st->ch || st->st == H2S_HEADERS || st->st == H2S_DONE || (st->req_sent && !st->tls))
		return;
	long r = s_room(st);
	if (r < 0) {
		s_app_ended(st, upstls_error(st->tls));
		return;
	}
	if (st->req_sent)
		return;
	if (st->head && !st->head_sent) {
		if ((size_t)r < st->headlen || s_send(st, st->head, st->headlen) < 0)
			return;
		st->head_sent = 1;
		if (!st->pooled) {
			free(st->head);
			st->head = NULL;
		}
	}
	while (buf_used(&st->up)) {
		r = s_room(st);
		size_t room = r > 0 ? (size_t)r : 0, n = buf_used(&st->up);
		char line[24];
		int ll = 0;
		if (st->chunked) {
			if (room < 32)
				break;
			room -= 32;
			if (n > room)
				n = room;
			ll = snprintf(line, sizeof line, "%zx\r\n", n);
			s_send(st, line, (size_t)ll);
		} else if (n > room)
			n = room;
		if (!n || s_send(st, buf_ptr(&st->up), n) < 0)
			break;
		if (st->chunked)
			s_send(st, "\r\n", 2);
		buf_consume(&st->up, n);
		/* Only now may the client send more on this stream. */
		nghttp2_session_consume(hc->s, st->id, n);
	}
	if (st->req_ended && !buf_used(&st->up)) {
		if (st->chunked) {
			if (s_room(st) < 5 || s_send(st, "0\r\n\r\n", 5) < 0)
				return;
		}
		st->req_sent = 1;
	}
}

/* The client's stream window took n bytes of the response: credit the agent. */
static ssize_t resp_read(nghttp2_session *s, int32_t id, uint8_t *b, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *u)
{
	(void)u;
	struct h2s *st = src->ptr;
	if (st->tls && s_tls_pull(st) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t n = buf_used(&st->down);
	if (n > len)
		n = len;
	if (!n && !st->resp_ended) {
		st->deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	memcpy(b, buf_ptr(&st->down), n);
	buf_consume(&st->down, n);
	s_credit(st, n);
	if (n && st->up_id)
		h2up_consume(st->h2u, st->up_id, n);
	if (st->resp_ended && !buf_used(&st->down)) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->tt && st->tt->n) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (nghttp2_submit_trailer(s, id, st->tt->nv, st->tt->n))
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		st->st = H2S_DONE;
		s_done_chan(st);
	}
	return (ssize_t)n;
}

static void s_wake(struct h2s *st)
{
	if (st->deferred) {
		st->deferred = 0;
		nghttp2_session_resume_data(st->hc->s, st->id);
	}
}

/* A whole response head in st->rh[0..hl): HEADERS to the client. */
static int s_response_head(struct h2s *st, size_t hl, const struct httpreq_resp *rs)
{
	static char names[HTTPREQ_RESP_HEAD_MAX];
	static struct h2map_field f[H2SRV_RESP_FIELDS];
	static nghttp2_nv nv[H2SRV_RESP_FIELDS + 1];
	int n = h2map_response_fields(st->rh, hl, names, sizeof names, f, H2SRV_RESP_FIELDS);
	if (n < 0)
		return -1;
	char sts[8];
	snprintf(sts, sizeof sts, "%u", rs->status);
	nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)sts, 7, strlen(sts),
			      NGHTTP2_NV_FLAG_NONE };
	for (int i = 0; i < n; i++)
		nv[i + 1] = (nghttp2_nv){ (uint8_t *)f[i].name, (uint8_t *)f[i].value, f[i].nlen,
					  f[i].vlen, NGHTTP2_NV_FLAG_NONE };
	httpreq_body_init(&st->respb, rs->framing, rs->length);
	st->resp_ended = st->respb.done;
	st->reusable = !rs->close && rs->framing != HTTPREQ_BODY_CLOSE;
	st->st = H2S_BODY;
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = resp_read };
	if (nghttp2_submit_response(st->hc->s, st->id, nv, (size_t)n + 1,
				    st->resp_ended ? NULL : &dp))
		return -1;
	if (st->resp_ended) {
		st->st = H2S_DONE;
		s_done_chan(st);
	}
	return 0;
}

static int down_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct h2s *st = ctx;
	return buf_put(&st->down, p, n) == BUF_OK ? 0 : -1;
}

/* Application bytes for this stream. */
static int s_take(struct h2s *st, const uint8_t *b, size_t n)
{
	while (n && st->st == H2S_OPEN) {
		struct httpreq_resp rs;
		size_t old = st->rhl, k = n < HTTPREQ_RESP_HEAD_MAX - old ? n : HTTPREQ_RESP_HEAD_MAX - old;
		memcpy(st->rh + old, b, k);
		st->rhl += k;
		int rc = httpreq_parse_response(st->rh, st->rhl, st->head_req, &rs);
		if (rc == HTTPREQ_MORE) {
			if (st->rhl == HTTPREQ_RESP_HEAD_MAX)
				rc = HTTPREQ_E_TOOBIG;
			else {
				s_credit(st, k);
				return 0;
			}
		}
		if (rc < 0 || rs.status == 101) {
			s_refuse(st, 502, "the application's response cannot be carried over HTTP/2");
			return 0;
		}
		size_t used = (size_t)rc - old;
		s_credit(st, used);
		b += used;
		n -= used;
		st->rhl = 0;
		if (rs.status < 200)
			continue; /* 100 Continue and friends: the final head follows */
		if (s_response_head(st, (size_t)rc, &rs) < 0) {
			s_reset(st, NGHTTP2_INTERNAL_ERROR);
			return 0;
		}
	}
	if (!n || st->st != H2S_BODY || st->resp_ended) {
		s_credit(st, n); /* past the response: dropped */
		if (n)
			st->reusable = 0;
		return 0;
	}
	size_t before = buf_used(&st->down);
	long k = httpreq_body_take(&st->respb, b, n, down_sink, st);
	if (k < 0) {
		s_reset(st, NGHTTP2_INTERNAL_ERROR);
		return 0;
	}
	/* Framing bytes (chunk lines) and bytes past the body are not the
	 * client's to take: credit them now. */
	size_t content = buf_used(&st->down) - before;
	if (n > content)
		s_credit(st, n - content);
	if (st->respb.done) {
		st->resp_ended = 1;
		if ((size_t)k < n)
			st->reusable = 0; /* bytes past the response */
	}
	s_wake(st);
	return 0;
}

static int s_open(struct h2s *st, int tls, const void *first, size_t firstlen);

/* The application ended its side. */
static void s_app_ended(struct h2s *st, const char *why)
{
	if (st->pooled && !st->got_reply && st->st == H2S_OPEN) {
		/* A kept connection the app closed as we reused it (its
		 * keep-alive ran out): the request, bodiless and idempotent, goes
		 * again on a new one, as a browser would resend it. */
		s_close_chan(st);
		st->pooled = 0;
		st->head_sent = 0;
		st->req_sent = 0;
		s_open(st, 0, NULL, 0);
		return;
	}
	s_close_chan(st);
	if (st->st == H2S_OPEN) {
		s_refuse(st, 502, why ? why : "the application closed the connection without answering");
		return;
	}
	if (st->st != H2S_BODY || st->resp_ended)
		return;
	if (st->respb.framing == HTTPREQ_BODY_CLOSE) {
		st->resp_ended = 1;
		s_wake(st);
	} else
		s_reset(st, NGHTTP2_INTERNAL_ERROR); /* a truncated response */
}

/* Plaintext from the TLS client as far as down has room; the agent is
 * credited for the ciphertext TLS took. -1 when the stream was reset. */
static int s_tls_pull(struct h2s *st)
{
	uint8_t tmp[16384];
	while (st->tls && (st->st == H2S_OPEN || st->st == H2S_BODY)) {
		size_t room = buf_room(&st->down);
		if (room < 1024)
			return 0;
		long k = upstls_read(st->tls, st->ch, tmp, room < sizeof tmp ? room : sizeof tmp);
		if (k > 0) {
			s_take(st, tmp, (size_t)k);
			continue;
		}
		if (k < 0 || st->tls_eof) {
			char msg[240];
			snprintf(msg, sizeof msg, "cannot reach port %u in the microVM: %s", st->port,
				 k == UPSTLS_FAILED ? upstls_error(st->tls)
						    : "the application closed the connection without "
						      "answering, in clear or over TLS");
			s_app_ended(st, k == UPSTLS_FAILED || !upstls_established(st->tls) ? msg : NULL);
		}
		break;
	}
	return st->st == H2S_DONE && !st->resp_ended ? -1 : 0;
}

static void s_tls_expired(void *owner)
{
	struct h2s *st = owner;
	char msg[240];
	snprintf(msg, sizeof msg, "cannot reach port %u in the microVM: %s", st->port,
		 upstls_error(st->tls));
	s_app_ended(st, msg);
	h2_flush(st->hc);
}

static const struct upstls_cfg h2s_tls = { "localhost", UPSTLS_ALPN_HTTP11, s_tls_expired };

/* The probe says TLS: once, the request again inside TLS on a new channel,
 * when all that went out is kept (UPSTLS_REPLAY_MAX). */
static void s_tls_restart(struct h2s *st)
{
	char msg[240];
	if (st->pr.over) {
		snprintf(msg, sizeof msg,
			 "cannot reach port %u in the microVM: the application speaks TLS and the "
			 "request was too large to send again over TLS (over %u bytes before its "
			 "answer)",
			 st->port, UPSTLS_REPLAY_MAX);
		s_refuse(st, 502, msg);
		return;
	}
	struct upstls_probe pr = st->pr;
	st->pr = (struct upstls_probe){ 0 }; /* s_close_chan must not free it */
	agentlink_close(st->ch);
	st->ch = NULL;
	if (s_open(st, 1, pr.p, pr.len) == 0)
		s_flush_up(st);
	upstls_probe_end(&pr);
}

static void link_frame(void *owner, const struct mux_frame *f)
{
	struct h2s *st = owner;
	struct h2conn *hc = st->hc;
	struct mux_data d;
	char msg[240];
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		s_flush_up(st);
		break;
	case MUX_OPEN_FAIL:
	case MUX_ERROR:
		proxy_fail_text(f, st->port, msg, sizeof msg);
		s_app_ended(st, msg);
		break;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK) {
			s_reset(st, NGHTTP2_INTERNAL_ERROR);
			break;
		}
		lifecycle_note_traffic_every(hc->hd->lc, st->vm_id, &st->traffic_ms);
		if (st->pr.on && upstls_looks_tls(d.p, d.len)) {
			s_tls_restart(st);
			break;
		}
		upstls_probe_end(&st->pr); /* the app answers in clear (or in TLS) */
		st->got_reply = 1;
		if (!st->tls)
			s_take(st, d.p, d.len);
		else if (upstls_feed(st->tls, d.p, d.len) < 0)
			s_app_ended(st, upstls_error(st->tls));
		else {
			s_tls_pull(st);
			s_flush_up(st); /* the handshake may have ended */
		}
		break;
	case MUX_EOF:
	case MUX_CLOSE:
		if (st->pr.on) { /* closed without answering the clear request */
			s_tls_restart(st);
			break;
		}
		if (st->tls) { /* records not yet read may remain */
			st->tls_eof = 1;
			if (f->hdr.type == MUX_CLOSE) {
				agentlink_close(st->ch);
				st->ch = NULL;
			}
			s_tls_pull(st);
			break;
		}
		s_app_ended(st, NULL);
		break;
	default:
		return;
	}
	h2_flush(hc);
}

static void link_down(void *owner, const char *reason)
{
	struct h2s *st = owner;
	upstls_forget_vm(st->vm_id); /* the VM may come back another */
	s_app_ended(st, reason);
	h2_flush(st->hc);
}

static void link_writable(void *owner)
{
	struct h2s *st = owner;
	s_flush_up(st);
	h2_flush(st->hc);
}

static const struct agentlink_ops h2s_link_ops = { link_frame, link_down, link_writable };

/* ---- HTTP/2 to the application (h2up.h): the stream's side ---- */

static void up_head(void *o, const nghttp2_nv *nv, size_t n, int end)
{
	struct h2s *st = o;
	if (st->st != H2S_OPEN)
		return;
	st->st = end ? H2S_DONE : H2S_BODY;
	st->resp_ended = end;
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = resp_read };
	if (nghttp2_submit_response(st->hc->s, st->id, nv, n, end ? NULL : &dp))
		s_reset(st, NGHTTP2_INTERNAL_ERROR);
}

static int up_data(void *o, const uint8_t *p, size_t n)
{
	struct h2s *st = o;
	if (st->st != H2S_BODY || down_sink(st, p, n) < 0)
		return -1;
	s_wake(st);
	return 0;
}

static void up_trailers(void *o, const nghttp2_nv *nv, size_t n)
{
	struct h2s *st = o;
	if (n && !st->tt && (st->tt = malloc(sizeof *st->tt)))
		h2up_fields_init(st->tt);
	for (size_t i = 0; i < n && st->tt; i++)
		if (h2up_fields_add(st->tt, nv[i].name, nv[i].namelen, nv[i].value, nv[i].valuelen)) {
			s_reset(st, NGHTTP2_INTERNAL_ERROR);
			return;
		}
	st->resp_ended = 1;
	s_wake(st);
}

static void up_closed(void *o, uint32_t code, const char *why)
{
	struct h2s *st = o;
	st->up_id = 0;
	if (st->st == H2S_OPEN) {
		if (!why)
			s_reset(st, code); /* the app's RST_STREAM (REFUSED_STREAM after its GOAWAY) */
		else
			s_refuse(st, 502, why);
	} else if (!st->resp_ended && st->st != H2S_DONE)
		s_reset(st, code ? code : NGHTTP2_INTERNAL_ERROR);
}

/* Request content for the app: the client's window reopens as it goes. */
static ssize_t up_body(void *o, uint8_t *b, size_t len, uint32_t *flags)
{
	struct h2s *st = o;
	size_t n = buf_used(&st->up);
	if (n > len)
		n = len;
	if (!n && !st->req_ended)
		return NGHTTP2_ERR_DEFERRED;
	memcpy(b, buf_ptr(&st->up), n);
	buf_consume(&st->up, n);
	if (n)
		nghttp2_session_consume(st->hc->s, st->id, n);
	if (st->req_ended && !buf_used(&st->up)) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		st->req_sent = 1;
		if (st->rt && st->rt->n) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (h2up_trailers(st->h2u, st->up_id, st->rt->nv, st->rt->n) < 0)
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
	}
	return (ssize_t)n;
}

static const struct h2up_ops h2s_up_ops = { up_head, up_data, up_trailers, up_closed, up_body };

static void up_conn_flush(void *ctx)
{
	h2_flush(ctx);
}

/* An app's GOAWAY goes on to the client: streams under way finish. */
static void up_conn_goaway(void *ctx, uint32_t code)
{
	struct h2conn *hc = ctx;
	nghttp2_submit_goaway(hc->s, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(hc->s), code, NULL, 0);
}

static const struct h2up_conn_ops h2s_up_conn_ops = { up_conn_flush, up_conn_goaway };

/*
 * The authorized, rewritten head (x-aws-proxy-* gone) head[0..hl) back to
 * h2 fields, on the connection's upstream for vm:port.
 */
static void s_request_h2(struct h2s *st, const char *head, size_t hl, unsigned port,
			 int has_body)
{
	static char names[HTTPREQ_HEAD_MAX];
	static struct h2map_field f[H2SRV_RESP_FIELDS];
	static nghttp2_nv nv[H2SRV_RESP_FIELDS + 4];
	struct h2conn *hc = st->hc;
	char err[160], msg[200];
	size_t sp1 = 0, eol = 0, sp2;
	while (sp1 < hl && head[sp1] != ' ')
		sp1++;
	while (eol < hl && head[eol] != '\r')
		eol++;
	sp2 = eol;
	while (sp2 > sp1 && head[sp2] != ' ')
		sp2--;
	int n = h2map_response_fields(head, hl, names, sizeof names, f, H2SRV_RESP_FIELDS);
	if (sp1 >= hl || sp2 <= sp1 + 1 || n < 0) {
		s_refuse(st, 400, "malformed request");
		return;
	}
	size_t k = 0;
	nv[k++] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)head, 7, sp1,
				NGHTTP2_NV_FLAG_NONE };
	nv[k++] = (nghttp2_nv){ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4,
				NGHTTP2_NV_FLAG_NONE };
	nv[k++] = (nghttp2_nv){ (uint8_t *)":path", (uint8_t *)head + sp1 + 1, 5, sp2 - sp1 - 1,
				NGHTTP2_NV_FLAG_NONE };
	size_t auth = k++;
	nv[auth] = (nghttp2_nv){ (uint8_t *)":authority", (uint8_t *)"localhost", 10, 9,
				 NGHTTP2_NV_FLAG_NONE };
	for (int i = 0; i < n; i++) {
		if (f[i].nlen == 4 && !memcmp(f[i].name, "host", 4)) {
			nv[auth].value = (uint8_t *)f[i].value;
			nv[auth].valuelen = f[i].vlen;
			continue;
		}
		/* RFC 9113 8.2.2: TE only as "trailers" (gRPC sends it). */
		if (f[i].nlen == 2 && !memcmp(f[i].name, "te", 2) &&
		    !(f[i].vlen == 8 && !strncasecmp(f[i].value, "trailers", 8)))
			continue;
		nv[k++] = (nghttp2_nv){ (uint8_t *)f[i].name, (uint8_t *)f[i].value, f[i].nlen,
					f[i].vlen, NGHTTP2_NV_FLAG_NONE };
	}
	st->port = port;
	st->h2u = h2up_get(&hc->ups, hc->hd, st->vm_id, port, &h2s_up_conn_ops, hc, err,
			  sizeof err);
	if (!st->h2u) {
		snprintf(msg, sizeof msg, "cannot reach the microVM: %.90s", err);
		s_refuse(st, 503, msg);
		return;
	}
	st->st = H2S_OPEN;
	int32_t id = h2up_submit(st->h2u, nv, k, has_body, &h2s_up_ops, st);
	if (st->st != H2S_OPEN)
		return; /* refused already (the upstream failed at once) */
	if (id < 0)
		s_refuse(st, 502, "cannot open an HTTP/2 stream to the application");
	else
		st->up_id = id;
}

/* Methods a proxy may send again when a kept connection fails before any
 * answer (RFC 9110 9.2.2; without a body here). */
static int h2s_idempotent(const char *m)
{
	static const char *const ok[] = { "GET", "HEAD", "OPTIONS" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!strcmp(m, ok[i]))
			return 1;
	return 0;
}

/* The request's fields are complete: authorize, rewrite, open the channel. */
static void s_request(struct h2s *st, int end_stream)
{
	struct h2conn *hc = st->hc;
	static char head[HTTPREQ_HEAD_MAX], out[HTTPREQ_HEAD_MAX];
	static struct wsp_request r;
	struct httpreq hr;
	struct token_claims cl;
	char msg[120];
	if (st->too_big) {
		s_refuse(st, 431, "request header fields too large");
		return;
	}
	int hl = h2map_head(st->map, !end_stream, head, sizeof head);
	free(st->map);
	st->map = NULL;
	if (hl < 0) {
		s_refuse(st, hl == H2MAP_E_TOOBIG ? 431 : 400, "malformed request");
		return;
	}
	int len = httpreq_parse(head, (size_t)hl, &hr, out, sizeof out);
	if (len <= 0) {
		int e = len ? len : HTTPREQ_E_BAD;
		s_refuse(st, httpreq_status(e), hr.why ? hr.why : httpreq_strerror(e));
		return;
	}
	int n = wsp_parse_request(head, (size_t)hl, &r);
	if (n <= 0) {
		s_refuse(st, n == -2 ? 431 : 400, "malformed request");
		return;
	}
	ingress_vm_of(hc->hd, &r, st->vm_id, sizeof st->vm_id);
	if (!st->vm_id[0]) {
		s_refuse(st, 404, "this name is not a microVM endpoint");
		return;
	}
	enum ingress_auth a = ingress_authorize_cached(hc->hd, &r, st->vm_id, &cl, &hc->auth);
	if (a == INGRESS_AUTH_MISSING) {
		s_refuse(st, 401, "a token is required (X-aws-proxy-auth)");
		return;
	}
	if (a != INGRESS_AUTH_OK || cl.kind != TOKEN_KIND_PROXY) {
		s_refuse(st, 403, H2SRV_DENIED);
		return;
	}
	unsigned port = hr.port ? hr.port : PROXY_DEFAULT_PORT;
	if (!token_allows_port(&cl, (uint16_t)port)) {
		snprintf(msg, sizeof msg, "port %u is not allowed by the token", port);
		s_refuse(st, 403, msg);
		return;
	}
	lifecycle_note_traffic(hc->hd->lc, st->vm_id);
	st->traffic_ms = hd_now_ms();
	if (lifecycle_request_resume(hc->hd->lc, st->vm_id) < 0) {
		s_refuse_state(st);
		return;
	}
	if (st->want_h2) {
		s_request_h2(st, out, hr.out_len, port, !end_stream);
		return;
	}
	st->head = malloc(hr.out_len);
	st->rh = malloc(HTTPREQ_RESP_HEAD_MAX);
	if (!st->head || !st->rh) {
		s_refuse(st, 500, "out of memory");
		return;
	}
	memcpy(st->head, out, hr.out_len);
	st->headlen = hr.out_len;
	st->chunked = hr.framing == HTTPREQ_BODY_CHUNKED;
	st->head_req = !strcmp(hr.method, "HEAD");
	st->port = port;
	st->st = H2S_OPEN;
	/* A kept connection only for what may be sent twice (s_app_ended);
	 * kept connections are clear ones (a TLS channel is never pooled). */
	if (end_stream && h2s_idempotent(hr.method) && (st->ch = uppool_take(st->vm_id, port))) {
		agentlink_rebind(st->ch, &h2s_link_ops, st);
		st->pooled = 1;
		s_flush_up(st);
		return;
	}
	s_open(st, 0, NULL, 0);
}

/* The stream's channel to the app (OPEN_OK then sends the head): in TLS when
 * tls is set (the probe's retry, first being what the probe sent) or the
 * port is known to speak it, else in clear with the probe on. 0, or -1
 * refused. */
static int s_open(struct h2s *st, int tls, const void *first, size_t firstlen)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	char err[160], msg[200];
	if (tls || upstls_known(st->vm_id, st->port)) {
		st->tls = upstls_new(st->hc->hd, st->vm_id, st->port, &h2s_tls, st, first, firstlen,
				     err, sizeof err);
		if (!st->tls) {
			s_refuse(st, 502, err);
			return -1;
		}
	} else
		upstls_probe_start(&st->pr);
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_TCP;
	o.window = PROXY_WINDOW;
	o.has_port = 1;
	o.port = (uint16_t)st->port;
	o.host = mux_cstr("127.0.0.1");
	st->ch = agentlink_open(st->hc->hd, st->vm_id, &o, &h2s_link_ops, st, err, sizeof err);
	if (!st->ch) {
		snprintf(msg, sizeof msg, "cannot reach the microVM: %.90s", err);
		s_refuse(st, 503, msg);
		return -1;
	}
	return 0;
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *fr, void *u)
{
	struct h2conn *hc = u;
	if (fr->hd.type != NGHTTP2_HEADERS || fr->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct h2s *st = calloc(1, sizeof *st);
	if (!st || !(st->map = malloc(sizeof *st->map))) {
		free(st);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	h2map_init(st->map);
	st->hc = hc;
	st->id = fr->hd.stream_id;
	buf_init(&st->up, H2SRV_STREAM_WINDOW);
	buf_init(&st->down, H2SRV_DOWN_MAX);
	st->next = hc->streams;
	hc->streams = st;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *u)
{
	(void)flags;
	(void)u;
	struct h2s *st = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (!st)
		return 0;
	st->hbytes += nlen + vlen + 32;
	if (st->hbytes > H2SRV_HEADERS_MAX)
		st->too_big = 1;
	if (st->st != H2S_HEADERS || !st->map) {
		/* Trailers of a request: on to an h2 app (not x-aws-proxy-*),
		 * else dropped (HTTP/1.1 chunked has them, later). */
		if (!st->up_id || st->too_big || (nlen >= 12 && !strncmp((const char *)name,
								     "x-aws-proxy-", 12)))
			return 0;
		if (!st->rt && (st->rt = malloc(sizeof *st->rt)))
			h2up_fields_init(st->rt);
		if (!st->rt || h2up_fields_add(st->rt, name, nlen, value, vlen))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return 0;
	}
	if (h2map_wants_h2(name, nlen, value, vlen))
		st->want_h2 = 1;
	if (!st->too_big)
		h2map_add(st->map, name, nlen, value, vlen);
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *fr, void *u)
{
	struct h2conn *hc = u;
	struct h2s *st = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	switch (fr->hd.type) {
	case NGHTTP2_HEADERS:
		if (!st)
			return 0;
		if (st->st == H2S_HEADERS && fr->headers.cat == NGHTTP2_HCAT_REQUEST)
			s_request(st, !!(fr->hd.flags & NGHTTP2_FLAG_END_STREAM));
		if (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			st->req_ended = 1;
			s_flush_up(st);
		}
		return 0;
	case NGHTTP2_DATA:
		if (st && (fr->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
			st->req_ended = 1;
			s_flush_up(st);
		}
		return 0;
	case NGHTTP2_GOAWAY:
		h2up_goaway_all(hc->ups); /* on to the apps */
		return 0;
	case NGHTTP2_RST_STREAM: {
		/* Rapid reset (CVE-2023-44487): each reset stream cost us a
		 * request; past the rate the connection goes. */
		int64_t now = hd_now_ms();
		if (now - hc->reset_window_ms >= 1000) {
			hc->reset_window_ms = now;
			hc->resets = 0;
		}
		if (++hc->resets > H2SRV_RESETS_PER_S)
			nghttp2_session_terminate_session(s, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	default:
		return 0;
	}
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *u)
{
	(void)flags;
	(void)u;
	struct h2s *st = nghttp2_session_get_stream_user_data(s, id);
	if (!st || st->st == H2S_DONE || (st->st == H2S_BODY && !st->up_id) || st->too_big) {
		/* Nobody wants it (refused, or the answer is out): reopen the window. */
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	if (buf_put(&st->up, data, len) != BUF_OK) {
		/* Past the window we granted: the client broke flow control. */
		nghttp2_session_consume(s, id, len);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	s_flush_up(st);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *u)
{
	struct h2conn *hc = u;
	if (hc->dying)
		return 0;
	struct h2s *st = nghttp2_session_get_stream_user_data(s, id);
	if (st) {
		nghttp2_session_set_stream_user_data(s, id, NULL);
		if (code && st->up_id) { /* the client's RST_STREAM, on to the app */
			h2up_reset(st->h2u, st->up_id, code);
			st->up_id = 0;
		}
		s_free(st);
	}
	return 0;
}

/* ---- the connection ---- */

static void h2_flush(struct h2conn *hc)
{
	if (hc->dying || hc->flushing)
		return;
	hc->flushing = 1;
	for (;;) {
		if (hc->pendl) {
			size_t n = hc->pendl, room = ingress_conn_room(hc->c);
			if (n > room)
				n = room;
			if (!n || ingress_conn_write(hc->c, hc->pend, n) < 0)
				break;
			hc->pend += n;
			hc->pendl -= n;
			if (hc->pendl)
				break;
		}
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(hc->s, &data);
		if (n < 0) {
			hc->flushing = 0;
			ingress_conn_abort(hc->c);
			return;
		}
		if (!n)
			break;
		hc->pend = data;
		hc->pendl = (size_t)n;
	}
	hc->flushing = 0;
	if (!hc->pendl && !nghttp2_session_want_read(hc->s) && !nghttp2_session_want_write(hc->s))
		ingress_conn_hangup(hc->c);
	/* A connection without streams ends PROXY_IDLE_MS after its last one
	 * (PINGs do not extend it), as a kept-alive HTTP/1.1 one does. */
	if ((hc->streams == NULL) != hc->idle) {
		hc->idle = hc->streams == NULL;
		ingress_conn_deadline(hc->c, hc->idle ? PROXY_IDLE_MS / 1000 : 0);
	}
}

static int conn_rx(void *h, const uint8_t *p, size_t n)
{
	struct h2conn *hc = h;
	ssize_t rc = nghttp2_session_mem_recv(hc->s, p, n);
	if (rc < 0)
		return -1;
	h2_flush(hc);
	return 0;
}

static void conn_writable(void *h)
{
	h2_flush(h);
}

static void conn_closed(void *h)
{
	struct h2conn *hc = h;
	hc->dying = 1;
	while (hc->streams)
		s_free(hc->streams);
	h2up_free_all(&hc->ups);
	nghttp2_session_del(hc->s);
	OPENSSL_cleanse(&hc->auth, sizeof hc->auth); /* a token is a secret */
	free(hc);
}

static const struct ingress_handler_ops h2_conn_ops = { conn_rx, conn_writable, conn_closed };

void h2srv_handle(struct ingress_conn *c, const uint8_t *p, size_t n)
{
	struct h2conn *hc = calloc(1, sizeof *hc);
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	if (!hc || nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&opt)) {
		free(hc);
		nghttp2_session_callbacks_del(cb);
		ingress_conn_abort(c);
		return;
	}
	hc->hd = ingress_conn_hd(c);
	hc->c = c;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	/* Windows reopen only as the agent takes the bytes (s_flush_up). */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/* Bound what a client can make us queue (SETTINGS/PING floods). */
	nghttp2_option_set_max_outbound_ack(opt, 100);
	nghttp2_option_set_max_settings(opt, 32);
	int rc = nghttp2_session_server_new2(&hc->s, cb, hc, opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	if (rc) {
		free(hc);
		ingress_conn_abort(c);
		return;
	}
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2SRV_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2SRV_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2SRV_HEADERS_MAX },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	nghttp2_submit_settings(hc->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
	nghttp2_session_set_local_window_size(hc->s, NGHTTP2_FLAG_NONE, 0, H2SRV_CONN_WINDOW);
	ingress_conn_bind(c, &h2_conn_ops, hc);
	if (conn_rx(hc, p, n) < 0)
		ingress_conn_abort(c);
}
