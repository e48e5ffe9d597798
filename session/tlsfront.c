/*
 * tlsfront.c - the ingress listener: peek at the ClientHello, then hearthd's
 * own TLS for h2 or libwebsockets for the rest; see tlsfront.h.
 *
 * All of the front's descriptors sit in one epoll set whose fd is watched by
 * the lws event loop (loop.h): the listener and open connections level-
 * triggered, connections waiting for their ClientHello edge-triggered (a
 * peek leaves the bytes readable: only new bytes may wake us again).
 * Nothing is freed inside a callback that came from elsewhere (abort only
 * marks and shuts the socket down; the hang-up shows in the epoll set and
 * the dispatch frees), so a handler may drop its connection at any time.
 */
#include "session/tlsfront.h"

#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/tlshello.h"
#include "protocol/vmhost.h"
#include "session/agentlink.h"
#include "session/certcache.h"
#include "session/ingress_front.h"
#include "session/loop.h"

#define TF_EVENTS 64        /* epoll events per turn */
#define TF_READS 16         /* SSL_reads per connection per turn */
#define TF_CHUNK (16u * 1024)
#define TF_TICK_MS 1000
#define TF_LINGER_MS 2000   /* longest wait for the client's EOF after our last bytes */
#define TF_ALPN "\x02h2\x08http/1.1" /* ours, in order of preference */

/* A connection's course. */
enum tf_state {
	TF_LISTEN, /* the listening socket */
	TF_PEEK,   /* waiting for the whole ClientHello */
	TF_SHAKE,  /* our TLS handshake */
	TF_OPEN,   /* decrypted bytes to and from ingress.c */
	TF_LINGER, /* our side ended (FIN sent): the client's bytes are read and dropped */
	TF_STATES
};

struct tf_conn {
	enum tf_state st;
	int fd;
	SSL *ssl;
	struct ingress_conn *c;
	uint32_t events;      /* the epoll interest now */
	int64_t deadline_ms;  /* 0: none */
	int dead;             /* abort asked: free at the next dispatch */
	int paused;           /* rx paused by the handler */
	int ssl_wants_write;  /* the last SSL call wanted the socket writable */
	size_t retry;         /* SSL_write to retry with this many bytes (0: none) */
	int gone;             /* closed: freed once the current batch is done */
	struct tf_conn *prev, *next;
};

static struct {
	struct hearthd *hd;
	struct lws_vhost *vh;
	const char *proto;
	SSL_CTX *ctx;
	int ep;
	struct tf_conn lis;
	struct tf_conn *conns;  /* every connection of ours, any state */
	struct tf_conn *gone;   /* closed ones, until the batch that closed them ends */
	int backoff;            /* accept failed (out of descriptors): wait for the tick */
	unsigned shaking, open; /* TF_PEEK + TF_SHAKE; TF_OPEN */
	unsigned lingering;     /* TF_LINGER */
	int accepting;
	lws_sorted_usec_list_t sul;
	uint8_t peek[TLSHELLO_PEEK_MAX];
	struct tlshello hello;
	uint8_t rx[TF_CHUNK];
} tf;

static void tf_close(struct tf_conn *t);

static void tf_interest(struct tf_conn *t, uint32_t ev)
{
	if (t->events == ev)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = t };
	if (epoll_ctl(tf.ep, EPOLL_CTL_MOD, t->fd, &e) == 0)
		t->events = ev;
}

/* The listener takes new connections while handshakes are below the cap
 * (at the cap a burst waits in the kernel's backlog, not closed). */
static void tf_accepting(void)
{
	int want = !tf.backoff && tf.shaking < TLSFRONT_MAX_HANDSHAKES;
	if (want != tf.accepting) {
		tf.accepting = want;
		tf_interest(&tf.lis, want ? EPOLLIN : 0);
	}
}

/* ---- the ingress_front.h transport of an open connection ---- */

static void tf_update(struct tf_conn *t)
{
	if (t->dead || t->gone || t->st != TF_OPEN)
		return;
	const uint8_t *p;
	uint32_t ev = t->paused ? 0 : EPOLLIN;
	/* EPOLLOUT also when OpenSSL holds bytes the socket will not announce
	 * again (read budget spent, or rx paused then resumed). */
	if (t->retry || t->ssl_wants_write || ingress_conn_out(t->c, &p, 1) ||
	    ingress_conn_finished(t->c) || (!t->paused && SSL_has_pending(t->ssl)))
		ev |= EPOLLOUT;
	tf_interest(t, ev);
}

static void fo_want_write(void *h)
{
	tf_update(h);
}

static void fo_deadline(void *h, unsigned secs)
{
	struct tf_conn *t = h;
	t->deadline_ms = secs ? hd_now_ms() + secs * 1000LL : 0;
}

static void fo_rx_pause(void *h, int paused)
{
	struct tf_conn *t = h;
	t->paused = paused;
	tf_update(t);
}

static void fo_abort(void *h)
{
	struct tf_conn *t = h;
	if (t->gone)
		return;
	t->dead = 1;
	shutdown(t->fd, SHUT_RDWR); /* the hang-up wakes the dispatch */
	tf_interest(t, EPOLLIN | EPOLLOUT);
}

static const struct ingress_front_ops tf_front = { fo_want_write, fo_deadline, fo_rx_pause,
						   fo_abort };

/* ---- per state ---- */

/* Handshakes at the cap: the oldest goes if it has stalled past
 * TLSFRONT_EVICT_MS (an honest client sends its ClientHello and finishes in
 * milliseconds; one that stalls is what fills the table). A burst of honest
 * clients younger than that is not closed: accepting pauses until slots
 * free. 1 when one was closed. */
static int tf_evict(void)
{
	struct tf_conn *old = NULL;
	for (struct tf_conn *t = tf.conns; t; t = t->next)
		if ((t->st == TF_PEEK || t->st == TF_SHAKE) &&
		    (!old || t->deadline_ms <= old->deadline_ms))
			old = t;
	int64_t since = TLSFRONT_HANDSHAKE_S * 1000LL - (old ? old->deadline_ms - hd_now_ms() : 0);
	if (!old || since < TLSFRONT_EVICT_MS)
		return 0;
	tf_close(old);
	return 1;
}

static void tf_accept(struct tf_conn *l, uint32_t ev)
{
	(void)ev;
	for (int i = 0; i < TF_EVENTS; i++) {
		if (tf.shaking >= TLSFRONT_MAX_HANDSHAKES && !tf_evict())
			break; /* the rest waits in the backlog (tf_accepting pauses) */
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors or memory: the level-triggered
			 * listener would wake us at once; the backlog waits a tick. */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				tf.backoff = 1;
			break;
		}
		struct tf_conn *t = calloc(1, sizeof *t);
		struct epoll_event e = { .events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.ptr = t };
		if (!t || epoll_ctl(tf.ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			free(t);
			close(fd);
			continue;
		}
		t->st = TF_PEEK;
		t->fd = fd;
		t->events = e.events;
		t->deadline_ms = hd_now_ms() + TLSFRONT_HANDSHAKE_S * 1000LL;
		t->next = tf.conns;
		if (tf.conns)
			tf.conns->prev = t;
		tf.conns = t;
		tf.shaking++;
	}
	tf_accepting();
}

/* Out of our set, into lws's ingress vhost as if its own listener took it. */
static void tf_hand_to_lws(struct tf_conn *t)
{
	int fd = t->fd;
	epoll_ctl(tf.ep, EPOLL_CTL_DEL, fd, NULL);
	t->fd = -1;
	tf_close(t);
	lws_sock_file_fd_type u;
	u.sockfd = fd;
	/* lws closes fd when it fails. */
	/* Not LWS_ADOPT_HTTP: the vhost's raw-skt role takes only sockets without it. */
	lws_adopt_descriptor_vhost(tf.vh, LWS_ADOPT_SOCKET | LWS_ADOPT_ALLOW_SSL, u, tf.proto, NULL);
}

static void tf_shake(struct tf_conn *t, uint32_t ev);

/* h2 is for microVM endpoints: a VM's name, or no name (by address: the
 * token names the VM). Any other name (localhost: the web terminal's
 * origin, whose page h2srv does not serve) keeps HTTP/1.1 on lws. */
static int tf_h2_name(const char *sni)
{
	char id[VMHOST_ID_MAX + 1];
	return !sni[0] || vmhost_parse(sni, strlen(sni), tf.hd->cfg.endpoint_domain, 0, id,
				       sizeof id) == 0;
}

static void tf_peek(struct tf_conn *t, uint32_t ev)
{
	ssize_t n = recv(t->fd, tf.peek, sizeof tf.peek, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		tf_close(t);
		return;
	}
	if (n < 0)
		return;
	int rc = tlshello_parse(tf.peek, (size_t)n, &tf.hello);
	if (rc == TLSHELLO_MORE) {
		if ((ev & (EPOLLRDHUP | EPOLLHUP)) || (size_t)n == sizeof tf.peek)
			tf_close(t); /* the client stopped sending mid-ClientHello */
		return;
	}
	if (rc != TLSHELLO_OK || !tlshello_offers(&tf.hello, "h2") || !tf_h2_name(tf.hello.sni) ||
	    tf.open >= TLSFRONT_MAX_CONNS) {
		/* lws answers this one as it always did (a broken ClientHello
		 * gets its TLS alert). */
		tf_hand_to_lws(t);
		return;
	}
	t->ssl = SSL_new(tf.ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, t->fd) != 1) {
		tf_close(t);
		return;
	}
	SSL_set_accept_state(t->ssl);
	t->st = TF_SHAKE;
	tf_interest(t, EPOLLIN);
	tf_shake(t, ev);
}

/* 1: carry on; 0: wait (interest set); -1: the connection is over. */
static int tf_ssl_wait(struct tf_conn *t, int rc)
{
	switch (SSL_get_error(t->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		t->ssl_wants_write = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		t->ssl_wants_write = 1;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static void tf_io(struct tf_conn *t, uint32_t ev);

static void tf_shake(struct tf_conn *t, uint32_t ev)
{
	(void)ev;
	int rc = SSL_do_handshake(t->ssl);
	if (rc != 1) {
		if (tf_ssl_wait(t, rc) < 0)
			tf_close(t);
		else
			tf_interest(t, t->ssl_wants_write ? EPOLLOUT : EPOLLIN);
		return;
	}
	t->ssl_wants_write = 0;
	t->c = ingress_conn_new(tf.hd, &tf_front, t);
	if (!t->c) {
		tf_close(t);
		return;
	}
	t->st = TF_OPEN;
	tf.shaking--;
	tf.open++;
	tf_accepting();
	/* The preface must come as a request head would. */
	t->deadline_ms = hd_now_ms() + INGRESS_HEAD_S * 1000LL;
	/* The client's first bytes may have come with its Finished: already
	 * in OpenSSL, the socket will not announce them. */
	tf_io(t, 0);
}

/* Queued output to SSL_write while it takes it; -1 when the connection is over. */
static int tf_write(struct tf_conn *t)
{
	for (int i = 0; i < TF_READS && !t->dead; i++) {
		const uint8_t *p;
		size_t n = ingress_conn_out(t->c, &p, TF_CHUNK);
		if (t->retry)
			n = t->retry; /* OpenSSL wants the same write again */
		if (!n)
			return ingress_conn_finished(t->c) ? -1 : 0;
		ERR_clear_error();
		int rc = SSL_write(t->ssl, p, (int)n);
		if (rc <= 0) {
			t->retry = n;
			return tf_ssl_wait(t, rc) < 0 ? -1 : 0;
		}
		t->retry = 0;
		t->ssl_wants_write = 0;
		ingress_conn_sent(t->c, (size_t)rc);
	}
	return 0;
}

static int tf_read(struct tf_conn *t)
{
	for (int i = 0; i < TF_READS && !t->paused && !t->dead; i++) {
		ERR_clear_error();
		int rc = SSL_read(t->ssl, tf.rx, sizeof tf.rx);
		if (rc <= 0) {
			int e = SSL_get_error(t->ssl, rc);
			if (e == SSL_ERROR_ZERO_RETURN)
				return -1; /* close_notify */
			return tf_ssl_wait(t, rc) < 0 ? -1 : 0;
		}
		if (ingress_conn_rx(t->c, tf.rx, (size_t)rc) < 0)
			return -1;
	}
	return 0;
}

/*
 * The handler hung up and all of its output is written: close_notify and
 * FIN, then read and drop what the client still sends until its EOF (at
 * most TF_LINGER_MS). Closing with unread bytes would reset the connection,
 * and a reset destroys our last bytes (a GOAWAY, the last response) in the
 * client's receive queue before it reads them.
 */
static void tf_linger(struct tf_conn *t)
{
	if (tf.lingering >= TLSFRONT_MAX_CONNS) {
		tf_close(t);
		return;
	}
	SSL_shutdown(t->ssl);
	ERR_clear_error();
	shutdown(t->fd, SHUT_WR);
	struct ingress_conn *c = t->c;
	t->c = NULL;
	t->st = TF_LINGER;
	tf.open--;
	tf.lingering++;
	t->deadline_ms = hd_now_ms() + TF_LINGER_MS;
	tf_interest(t, EPOLLIN);
	ingress_conn_gone(c); /* the handler may not touch c again */
}

static void tf_drain(struct tf_conn *t, uint32_t ev)
{
	(void)ev;
	for (int i = 0; i < TF_READS; i++) {
		ssize_t n = recv(t->fd, tf.rx, sizeof tf.rx, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			tf_close(t);
			return;
		}
	}
}

static void tf_io(struct tf_conn *t, uint32_t ev)
{
	if ((ev & (EPOLLERR)) || tf_read(t) < 0 || t->dead) {
		tf_close(t);
		return;
	}
	if (tf_write(t) < 0 || t->dead) {
		if (!t->dead && !t->retry && ingress_conn_finished(t->c))
			tf_linger(t);
		else
			tf_close(t);
		return;
	}
	if ((ev & EPOLLHUP) && !(ev & EPOLLIN)) {
		tf_close(t);
		return;
	}
	tf_update(t);
}

static void (*const tf_dispatch[TF_STATES])(struct tf_conn *t, uint32_t ev) = {
	[TF_LISTEN] = tf_accept,
	[TF_PEEK] = tf_peek,
	[TF_SHAKE] = tf_shake,
	[TF_OPEN] = tf_io,
	[TF_LINGER] = tf_drain,
};

/* ---- the set ---- */

static void tf_close(struct tf_conn *t)
{
	if (t->fd >= 0)
		epoll_ctl(tf.ep, EPOLL_CTL_DEL, t->fd, NULL);
	if (t->st == TF_OPEN)
		tf.open--;
	else if (t->st == TF_LINGER)
		tf.lingering--;
	else
		tf.shaking--;
	if (t->ssl) {
		if (t->st == TF_OPEN && !t->dead)
			SSL_shutdown(t->ssl); /* best effort close_notify */
		SSL_free(t->ssl);
		ERR_clear_error();
	}
	if (t->fd >= 0)
		close(t->fd);
	if (t->prev)
		t->prev->next = t->next;
	else
		tf.conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	/* Events of this batch may still name t: freed by tf_reap. */
	t->gone = 1;
	t->next = tf.gone;
	tf.gone = t;
	struct ingress_conn *c = t->c;
	t->c = NULL;
	if (c)
		ingress_conn_gone(c); /* the handler may not touch c again */
	tf_accepting();
}

static void tf_reap(void)
{
	while (tf.gone) {
		struct tf_conn *t = tf.gone;
		tf.gone = t->next;
		free(t);
	}
}

static void tf_ready(void *ctx)
{
	(void)ctx;
	struct epoll_event ev[TF_EVENTS];
	int n = epoll_wait(tf.ep, ev, TF_EVENTS, 0);
	/* The batch's requests (all connections) reach each agent in one send. */
	agentlink_cork(1);
	for (int i = 0; i < n; i++) {
		struct tf_conn *t = ev[i].data.ptr;
		if (t->gone)
			continue; /* closed by an earlier event of this batch */
		if (t->dead)
			tf_close(t);
		else
			tf_dispatch[t->st](t, ev[i].events);
	}
	agentlink_cork(0);
	tf_reap();
}

/* Once a second: deadlines (ClientHello and handshake, request head, idle). */
static void tf_tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = hd_now_ms();
	for (struct tf_conn *t = tf.conns, *next; t; t = next) {
		next = t->next;
		if (t->dead || (t->deadline_ms && now >= t->deadline_ms))
			tf_close(t);
	}
	/* Full of handshakes: stalled ones past the grace make room. */
	while (tf.shaking >= TLSFRONT_MAX_HANDSHAKES && tf_evict())
		;
	tf_reap();
	tf.backoff = 0;
	tf_accepting();
	lws_sul_schedule(tf.hd->lws, 0, sul, tf_tick, TF_TICK_MS * LWS_US_PER_MS);
}

/* ---- TLS ---- */

static int tf_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	unsigned char *o;
	/* h2 when offered, else http/1.1 when offered, else no ALPN. */
	if (SSL_select_next_proto(&o, outlen, (const unsigned char *)TF_ALPN,
				  sizeof TF_ALPN - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tf_ctx(const char *cert, const char *key, int per_vm, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 || (per_vm && certcache_attach(ctx) < 0)) {
		snprintf(err, errlen, "tls: cannot load %s / %s for the h2 front", cert, key);
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	/* A write's buffer moves as the queue drains; partial writes are fine. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* RFC 9113 9.2: no renegotiation under h2. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_alpn_select_cb(ctx, tf_alpn, NULL);
	return ctx;
}

static int tf_listen(const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char ps[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "ingress: %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int tlsfront_start(struct hearthd *hd, const char *host, int port, const char *cert,
		   const char *key, int per_vm, struct lws_vhost *vh, const char *proto, char *err,
		   size_t errlen)
{
	tf.hd = hd;
	tf.vh = vh;
	tf.proto = proto;
	if (!(tf.ctx = tf_ctx(cert, key, per_vm, err, errlen)))
		return -1;
	tf.ep = epoll_create1(EPOLL_CLOEXEC);
	int lfd = tf.ep < 0 ? -1 : tf_listen(host, port, err, errlen);
	if (lfd < 0) {
		if (tf.ep < 0)
			snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	tf.lis.st = TF_LISTEN;
	tf.lis.fd = lfd;
	tf.lis.events = EPOLLIN;
	tf.accepting = 1;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &tf.lis };
	if (epoll_ctl(tf.ep, EPOLL_CTL_ADD, lfd, &e) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	if (loop_watch(hd->loop, tf.ep, tf_ready, NULL, err, errlen) < 0)
		return -1;
	lws_sul_schedule(hd->lws, 0, &tf.sul, tf_tick, TF_TICK_MS * LWS_US_PER_MS);
	return 0;
}
