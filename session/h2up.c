/*
 * h2up.c - h2c with prior knowledge to the application over one agent tcp
 * channel; see h2up.h.
 */
#include "session/h2up.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mux.h"
#include "session/agentlink.h"
#include "session/proxy.h"

struct h2ups {
	struct h2up *u;
	int32_t id;
	void *owner;              /* NULL once detached */
	const struct h2up_ops *ops;
	struct h2up_fields *f;    /* the head or trailer block being read */
	int got_head;
	size_t unconsumed;        /* DATA bytes the owner has not handed on */
	struct h2ups *next;
};

struct h2up {
	struct h2up *next;
	struct hearthd *hd;
	char vm_id[64];
	unsigned port;
	struct agentlink_chan *ch;
	nghttp2_session *s;
	const struct h2up_conn_ops *cops;
	void *ctx;
	const uint8_t *pend; /* from nghttp2_session_mem_send, not yet sent */
	size_t pendl;
	int dead;            /* channel or session over: no new streams */
	int seen;            /* the app sent bytes (TLS detection on the first) */
	/* What went out before the app's first byte, to send again inside
	 * TLS when the app turns out to speak it. */
	uint8_t *replay;
	size_t replayl;
	int noreplay;        /* more than H2UP_REPLAY_MAX went out: no retry */
	SSL *ssl;            /* the TLS client towards the app, once detected */
	BIO *rb, *wb;        /* its network side: from / to the agent channel */
	int hs_done;
	struct h2ups *streams;
	int flushing;
};

void h2up_fields_init(struct h2up_fields *f)
{
	f->len = 0;
	f->n = 0;
}

int h2up_fields_add(struct h2up_fields *f, const uint8_t *name, size_t nlen, const uint8_t *value,
		    size_t vlen)
{
	if (f->n == H2UP_FIELDS_MAX || nlen + vlen > sizeof f->buf - f->len)
		return -1;
	uint8_t *p = (uint8_t *)f->buf + f->len;
	memcpy(p, name, nlen);
	memcpy(p + nlen, value, vlen);
	f->len += nlen + vlen;
	f->nv[f->n++] = (nghttp2_nv){ p, p + nlen, nlen, vlen, NGHTTP2_NV_FLAG_NONE };
	return 0;
}

static void us_detach(struct h2ups *us, uint32_t code, const char *why)
{
	void *o = us->owner;
	us->owner = NULL;
	if (o)
		us->ops->closed(o, code, why);
}

static void us_free(struct h2ups *us)
{
	struct h2up *u = us->u;
	for (struct h2ups **pp = &u->streams; *pp; pp = &(*pp)->next)
		if (*pp == us) {
			*pp = us->next;
			break;
		}
	free(us->f);
	free(us);
}

/* The channel or the session is over: every stream fails. */
static void u_fail(struct h2up *u, const char *why)
{
	u->dead = 1;
	if (u->ch)
		agentlink_close(u->ch);
	u->ch = NULL;
	for (struct h2ups *us = u->streams; us; us = us->next)
		us_detach(us, NGHTTP2_INTERNAL_ERROR, why);
	while (u->streams) {
		nghttp2_session_set_stream_user_data(u->s, u->streams->id, NULL);
		us_free(u->streams);
	}
}

/* TLS records waiting in the write BIO to the agent, within its credit;
 * 1 when all went. */
static int tls_drain(struct h2up *u)
{
	uint8_t tmp[16384];
	while (BIO_ctrl_pending(u->wb)) {
		size_t room = agentlink_send_room(u->ch);
		if (room > sizeof tmp)
			room = sizeof tmp;
		if (!room)
			return 0;
		int n = BIO_read(u->wb, tmp, (int)room);
		if (n <= 0 || agentlink_data(u->ch, tmp, (size_t)n) < 0)
			return 0; /* cannot happen within the room */
	}
	return 1;
}

/* 1: go on writing; 0: wait (agent credit, the app's handshake); -1 failed. */
static int tls_step(struct h2up *u)
{
	if (!tls_drain(u))
		return 0;
	if (u->hs_done)
		return 1;
	int r = SSL_do_handshake(u->ssl);
	if (r != 1) {
		int e = SSL_get_error(u->ssl, r);
		ERR_clear_error();
		tls_drain(u);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	u->hs_done = 1;
	if (u->replayl && SSL_write(u->ssl, u->replay, (int)u->replayl) != (int)u->replayl)
		return -1;
	free(u->replay);
	u->replay = NULL;
	u->replayl = 0;
	return tls_drain(u);
}

static void u_flush(struct h2up *u)
{
	if (u->flushing || u->dead || !u->ch)
		return;
	u->flushing = 1;
	for (;;) {
		if (u->ssl) {
			int r = tls_step(u);
			if (r < 0) {
				u->flushing = 0;
				u_fail(u, "the TLS handshake with the application failed");
				return;
			}
			if (!r)
				break;
			if (u->pendl) {
				/* A memory BIO takes a whole write. */
				if (SSL_write(u->ssl, u->pend, (int)u->pendl) != (int)u->pendl) {
					u->flushing = 0;
					u_fail(u, "TLS to the application failed");
					return;
				}
				u->pendl = 0;
				continue;
			}
		} else if (u->pendl) {
			size_t n = u->pendl, room = agentlink_send_room(u->ch);
			if (n > room)
				n = room;
			if (!n || agentlink_data(u->ch, u->pend, n) < 0)
				break;
			if (!u->seen && !u->noreplay) {
				uint8_t *r = u->replayl + n <= H2UP_REPLAY_MAX
						     ? realloc(u->replay, u->replayl + n)
						     : NULL;
				if (r) {
					memcpy(r + u->replayl, u->pend, n);
					u->replay = r;
					u->replayl += n;
				} else
					u->noreplay = 1;
			}
			u->pend += n;
			u->pendl -= n;
			if (u->pendl)
				break;
		}
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(u->s, &data);
		if (n < 0) {
			u->flushing = 0;
			u_fail(u, "HTTP/2 to the application failed");
			return;
		}
		if (!n)
			break;
		u->pend = data;
		u->pendl = (size_t)n;
	}
	u->flushing = 0;
}

/* ---- nghttp2 client callbacks ---- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
	(void)ud;
	struct h2ups *us = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (!us)
		return 0;
	if (!us->f && !(us->f = malloc(sizeof *us->f)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	h2up_fields_init(us->f);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct h2ups *us = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (!us || !us->f)
		return 0;
	if (h2up_fields_add(us->f, name, nlen, value, vlen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM the app */
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
	struct h2up *u = ud;
	struct h2ups *us = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	int end = !!(fr->hd.flags & NGHTTP2_FLAG_END_STREAM);
	switch (fr->hd.type) {
	case NGHTTP2_HEADERS:
		if (!us || !us->owner || !us->f || !us->f->n)
			return 0;
		if (!us->got_head) {
			/* 1xx heads are not the response. */
			const nghttp2_nv *st = &us->f->nv[0];
			if (st->namelen == 7 && !memcmp(st->name, ":status", 7) && st->valuelen &&
			    st->value[0] == '1')
				return 0;
			us->got_head = 1;
			us->ops->head(us->owner, us->f->nv, us->f->n, end);
		} else if (end)
			us->ops->trailers(us->owner, us->f->nv, us->f->n);
		return 0;
	case NGHTTP2_GOAWAY:
		/* nghttp2 closes the streams past last_stream_id with
		 * REFUSED_STREAM; new requests take a fresh upstream. */
		u->dead = 1;
		if (u->cops->goaway)
			u->cops->goaway(u->ctx, fr->goaway.error_code);
		return 0;
	case NGHTTP2_DATA:
		if (us && us->owner && end)
			us->ops->trailers(us->owner, NULL, 0);
		return 0;
	default:
		return 0;
	}
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	(void)flags;
	(void)ud;
	struct h2ups *us = nghttp2_session_get_stream_user_data(s, id);
	if (!us || !us->owner) {
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	us->unconsumed += len;
	if (us->ops->data(us->owner, data, len) < 0)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	(void)ud;
	struct h2ups *us = nghttp2_session_get_stream_user_data(s, id);
	if (!us)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	/* Bytes the owner still holds no longer count for the stream, but do
	 * for the connection's window until they are handed on. */
	if (code == NGHTTP2_NO_ERROR && !us->got_head)
		us_detach(us, NGHTTP2_INTERNAL_ERROR,
			  "the application ended the HTTP/2 stream without answering");
	else
		us_detach(us, code, NULL); /* the app's RST_STREAM (or nghttp2's) */
	if (us->unconsumed)
		nghttp2_session_consume_connection(s, us->unconsumed);
	us_free(us);
	return 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *b, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)s;
	(void)id;
	(void)ud;
	struct h2ups *us = src->ptr;
	if (!us->owner) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	return us->ops->body(us->owner, b, len, flags);
}

/* ---- the agent channel ---- */

static const struct agentlink_ops h2up_link_ops;

static struct agentlink_chan *u_open(struct h2up *u, char *err, size_t errlen)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_TCP;
	o.window = PROXY_WINDOW;
	o.has_port = 1;
	o.port = (uint16_t)u->port;
	o.host = mux_cstr("127.0.0.1");
	return agentlink_open(u->hd, u->vm_id, &o, &h2up_link_ops, u, err, errlen);
}

/* The TLS client's settings: h2 by ALPN, and no verification: the app's
 * certificate is the guest's own (often self-signed) and the channel never
 * leaves the VM. */
static SSL_CTX *tls_ctx(void)
{
	static SSL_CTX *ctx;
	if (!ctx && (ctx = SSL_CTX_new(TLS_client_method()))) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3)) {
			SSL_CTX_free(ctx);
			ctx = NULL;
		}
	}
	return ctx;
}

/*
 * The app speaks TLS: a new channel, a TLS client on it, and what went out
 * in clear so far (preface, SETTINGS, requests) again inside it.
 */
static void u_tls_restart(struct h2up *u)
{
	char err[160];
	SSL_CTX *ctx = tls_ctx();
	if (u->noreplay || !ctx) {
		u_fail(u, "the application speaks TLS and the request cannot be sent again");
		return;
	}
	agentlink_close(u->ch);
	u->ch = NULL;
	u->ssl = SSL_new(ctx);
	u->rb = BIO_new(BIO_s_mem());
	u->wb = BIO_new(BIO_s_mem());
	if (!u->ssl || !u->rb || !u->wb) {
		BIO_free(u->rb);
		BIO_free(u->wb);
		u->rb = u->wb = NULL;
		u_fail(u, "out of memory");
		return;
	}
	SSL_set_bio(u->ssl, u->rb, u->wb); /* the SSL owns them now */
	SSL_set_connect_state(u->ssl);
	SSL_set_tlsext_host_name(u->ssl, "localhost");
	u->seen = 1;
	u->ch = u_open(u, err, sizeof err);
	if (!u->ch)
		u_fail(u, err);
}

/* TLS records from the app: the plaintext to nghttp2. */
static int tls_rx(struct h2up *u, const uint8_t *p, size_t n)
{
	uint8_t tmp[16384];
	if (BIO_write(u->rb, p, (int)n) != (int)n)
		return -1;
	if (!u->hs_done) {
		int r = tls_step(u);
		if (r <= 0)
			return r;
	}
	for (;;) {
		int k = SSL_read(u->ssl, tmp, sizeof tmp);
		if (k <= 0) {
			int e = SSL_get_error(u->ssl, k);
			ERR_clear_error();
			return e == SSL_ERROR_WANT_READ ? 0 : -1;
		}
		if (nghttp2_session_mem_recv(u->s, tmp, (size_t)k) < 0)
			return -1;
	}
}

static void link_frame(void *owner, const struct mux_frame *f)
{
	struct h2up *u = owner;
	struct mux_data d;
	char msg[240];
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		break;
	case MUX_OPEN_FAIL:
	case MUX_ERROR:
		proxy_fail_text(f, u->port, msg, sizeof msg);
		u_fail(u, msg);
		break;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK) {
			u_fail(u, "the agent broke the protocol");
			break;
		}
		/* A TLS record (alert 0x15, handshake 0x16) where the h2
		 * SETTINGS frame should be: the app speaks TLS itself. */
		if (!u->seen && !u->ssl && d.len && (d.p[0] == 0x15 || d.p[0] == 0x16)) {
			u_tls_restart(u);
			break;
		}
		if (!u->seen) {
			u->seen = 1;
			free(u->replay); /* h2c it is */
			u->replay = NULL;
			u->replayl = 0;
		}
		if (u->ssl ? tls_rx(u, d.p, d.len) < 0 : nghttp2_session_mem_recv(u->s, d.p, d.len) < 0) {
			u_fail(u, "the application broke HTTP/2");
			break;
		}
		agentlink_window(u->ch, (uint32_t)d.len);
		break;
	case MUX_EOF:
	case MUX_CLOSE:
		/* Closed without a byte in answer to the h2c preface: what a
		 * TLS server does with cleartext. Try once over TLS. */
		if (!u->seen && !u->ssl) {
			u_tls_restart(u);
			break;
		}
		u_fail(u, u->ssl && !u->hs_done
				  ? "the application closed the connection without answering "
				    "HTTP/2, in clear or over TLS"
				  : "the application closed the connection");
		break;
	default:
		return;
	}
	u_flush(u);
	u->cops->flush(u->ctx);
}

static void link_down(void *owner, const char *reason)
{
	struct h2up *u = owner;
	u_fail(u, reason);
	u->cops->flush(u->ctx);
}

static void link_writable(void *owner)
{
	struct h2up *u = owner;
	u_flush(u);
	u->cops->flush(u->ctx);
}

static const struct agentlink_ops h2up_link_ops = { link_frame, link_down, link_writable };

static void u_free(struct h2up *u)
{
	while (u->streams) {
		u->streams->owner = NULL;
		us_free(u->streams);
	}
	if (u->ch)
		agentlink_close(u->ch);
	SSL_free(u->ssl);
	free(u->replay);
	nghttp2_session_del(u->s);
	free(u);
}

static struct h2up *u_new(struct hearthd *hd, const char *vm_id, unsigned port, char *err,
			  size_t errlen)
{
	struct h2up *u = calloc(1, sizeof *u);
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	if (!u || strlen(vm_id) >= sizeof u->vm_id || nghttp2_session_callbacks_new(&cb) ||
	    nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		free(u);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	/* The app's windows reopen only as the client takes the bytes. */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, 100);
	nghttp2_option_set_max_settings(opt, 32);
	int rc = nghttp2_session_client_new2(&u->s, cb, u, opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	if (rc) {
		free(u);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2UP_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2UP_FIELDS_BYTES },
	};
	nghttp2_submit_settings(u->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
	nghttp2_session_set_local_window_size(u->s, NGHTTP2_FLAG_NONE, 0, H2UP_CONN_WINDOW);
	u->hd = hd;
	strcpy(u->vm_id, vm_id);
	u->port = port;
	u->ch = u_open(u, err, errlen);
	if (!u->ch) {
		nghttp2_session_del(u->s);
		free(u);
		return NULL;
	}
	return u;
}

struct h2up *h2up_get(struct h2up **list, struct hearthd *hd, const char *vm_id,
		      unsigned port, const struct h2up_conn_ops *cops, void *ctx, char *err,
		      size_t errlen)
{
	for (struct h2up **pp = list; *pp;) {
		struct h2up *u = *pp;
		if (u->dead && !u->streams && !u->flushing) {
			*pp = u->next; /* a dead one nobody uses: gone */
			u_free(u);
			continue;
		}
		if (!u->dead && u->port == port && !strcmp(u->vm_id, vm_id))
			return u;
		pp = &u->next;
	}
	struct h2up *u = u_new(hd, vm_id, port, err, errlen);
	if (!u)
		return NULL;
	u->cops = cops;
	u->ctx = ctx;
	u->next = *list;
	*list = u;
	return u;
}

int32_t h2up_submit(struct h2up *u, const nghttp2_nv *nv, size_t n, int has_body,
		    const struct h2up_ops *ops, void *owner)
{
	struct h2ups *us = calloc(1, sizeof *us);
	if (!us || u->dead) {
		free(us);
		return -1;
	}
	us->u = u;
	us->ops = ops;
	us->owner = owner;
	nghttp2_data_provider dp = { .source.ptr = us, .read_callback = body_read };
	int32_t id = nghttp2_submit_request(u->s, NULL, nv, n, has_body ? &dp : NULL, us);
	if (id < 0) {
		free(us);
		return -1;
	}
	us->id = id;
	us->next = u->streams;
	u->streams = us;
	u_flush(u);
	return id;
}

void h2up_resume(struct h2up *u, int32_t id)
{
	if (u->dead)
		return;
	nghttp2_session_resume_data(u->s, id);
	u_flush(u);
}

int h2up_trailers(struct h2up *u, int32_t id, const nghttp2_nv *nv, size_t n)
{
	return nghttp2_submit_trailer(u->s, id, nv, n) ? -1 : 0;
}

void h2up_consume(struct h2up *u, int32_t id, size_t n)
{
	struct h2ups *us = nghttp2_session_get_stream_user_data(u->s, id);
	if (us) {
		us->unconsumed -= n < us->unconsumed ? n : us->unconsumed;
		nghttp2_session_consume(u->s, id, n);
		u_flush(u);
	}
	/* else: credited when the stream closed (on_stream_close) */
}

void h2up_reset(struct h2up *u, int32_t id, uint32_t code)
{
	struct h2ups *us = nghttp2_session_get_stream_user_data(u->s, id);
	if (!us)
		return;
	us->owner = NULL;
	if (!u->dead) {
		nghttp2_submit_rst_stream(u->s, NGHTTP2_FLAG_NONE, id, code);
		u_flush(u);
	}
}

void h2up_goaway_all(struct h2up *list)
{
	for (struct h2up *u = list; u; u = u->next)
		if (!u->dead) {
			nghttp2_submit_goaway(u->s, NGHTTP2_FLAG_NONE,
					      nghttp2_session_get_last_proc_stream_id(u->s),
					      NGHTTP2_NO_ERROR, NULL, 0);
			u_flush(u);
		}
}

void h2up_free_all(struct h2up **list)
{
	while (*list) {
		struct h2up *u = *list;
		*list = u->next;
		u_free(u);
	}
}
