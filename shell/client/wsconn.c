/*
 * wsconn.c - the client WebSocket to a shell endpoint: TCP, TLS (OpenSSL),
 * the RFC 6455 upgrade and frames (protocol/wsclient.c); see wsconn.h.
 *
 * Why not the libwebsockets client (which hearthd links anyway): tried with
 * lws 4.1.6, its client does send a 256-byte Sec-WebSocket-Protocol list
 * whole (the 128-byte limit is its server side), but a refused upgrade
 * reaches the program as the fixed error "HS: ws upgrade response not 101":
 * the JSON body of a 401/403/409 saying why is not delivered, and `hearth
 * shell` must show it. It also wants an event-loop context and a vhost
 * protocol named after every subprotocol the server may select, where this
 * client is one poll loop over the terminal, a signal pipe and one socket.
 * OpenSSL plus a pure, fuzzed frame layer (protocol/wsclient.c) is less code
 * and keeps every byte from the server bounded.
 *
 * Trust: --cacert FILE or $HEARTH_CACERT alone; else hearthd's own CA (from
 * its default state directory) and the system store. The endpoint's host
 * name is verified exactly: hearthd serves each <id>.<domain> a certificate
 * for that name (session/certcache.h). A *.localhost name is dialled at
 * 127.0.0.1 without asking the resolver (RFC 6761: it is the loopback host,
 * and a stock resolver may not know it); SNI and Host still name the VM.
 */
#include "shell/client/wsconn.h"
#include "protocol/httpresp.h"
#include "protocol/wsclient.h"
#include "vmm/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSCONN_IN_CAP (WSCONN_FRAME_MAX + WSC_FRAME_HDR_MAX)
#define WSCONN_REFUSAL_MAX 8192 /* a refusal's body kept for the message */

static int left_ms(long long deadline)
{
	long long l = deadline - clock_ms();
	return l < 0 ? 0 : l > 60000 ? 60000 : (int)l;
}

void wsconn_default_ca(char *out, size_t cap)
{
	const char *e = getenv("HEARTH_CACERT");
	out[0] = '\0';
	if (e && *e) {
		snprintf(out, cap, "%s", e);
		return;
	}
	/* hearthd's default state directory (session/hearthd.c: default_dirs). */
	const char *home = getenv("HOME"), *hh = getenv("HEARTH_HOME");
	char path[4096];
	if (hh && *hh)
		snprintf(path, sizeof path, "%s/tls/ca.pem", hh);
	else if (geteuid() == 0 || !home)
		snprintf(path, sizeof path, "/var/lib/hearth/tls/ca.pem");
	else
		snprintf(path, sizeof path, "%s/.local/share/hearth/tls/ca.pem", home);
	if (access(path, R_OK) == 0)
		snprintf(out, cap, "%s", path);
}

/* "https://host[:port][/...]" (or wss://) -> host, port. */
static int parse_endpoint(const char *url, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *p;
	if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncasecmp(url, "wss://", 6) == 0)
		p = url + 6;
	else
		return -1;
	size_t hl = strcspn(p, ":/");
	if (hl == 0 || hl >= hcap || p[0] == '[')
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	p += hl;
	if (*p == ':') {
		size_t pl = strspn(p + 1, "0123456789");
		if (pl == 0 || pl >= pcap || (p[1 + pl] && p[1 + pl] != '/'))
			return -1;
		memcpy(port, p + 1, pl);
		port[pl] = '\0';
	} else {
		snprintf(port, pcap, "443");
	}
	return 0;
}

static int is_localhost(const char *host)
{
	size_t n = strlen(host);
	return strcasecmp(host, "localhost") == 0 ||
	       (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0);
}

/* A non-blocking TCP connection to host:port before the deadline; fd or -1. */
static int dial(const char *host, const char *port, long long deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	/* Every *.localhost name is the loopback host (RFC 6761), resolver or not. */
	const char *name = is_localhost(host) ? "127.0.0.1" : host;
	int rc = getaddrinfo(name, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, last = ECONNREFUSED;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			last = errno;
		} else {
			struct pollfd pf = { fd, POLLOUT, 0 };
			int so = 0;
			socklen_t sl = sizeof so;
			if (poll(&pf, 1, left_ms(deadline)) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
				break;
			last = so ? so : ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(last));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* keystrokes */
	return fd;
}

static void ssl_err(const char *what, char *err, size_t errlen)
{
	char e[256] = "";
	unsigned long code = ERR_get_error();
	if (code)
		ERR_error_string_n(code, e, sizeof e);
	snprintf(err, errlen, "%s%s%s", what, e[0] ? ": " : "", e);
	ERR_clear_error();
}

/* Wait for what an SSL call asked for. 0, or -1 at the deadline. */
static int ssl_wait(struct wsconn *c, int sslerr, long long deadline)
{
	struct pollfd pf = { c->fd, sslerr == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0 };
	int ms = left_ms(deadline);
	return ms > 0 && poll(&pf, 1, ms) == 1 ? 0 : -1;
}

static int tls_setup(struct wsconn *c, const struct wsconn_opts *o, const char *host,
		     long long deadline, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	c->ctx = ctx;
	if (!ctx) {
		ssl_err("TLS", err, errlen);
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	char ca[4096];
	if (o->cacert && *o->cacert)
		snprintf(ca, sizeof ca, "%s", o->cacert);
	else
		wsconn_default_ca(ca, sizeof ca);
	if (ca[0] && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "cannot load the CA certificate %s", ca);
		ERR_clear_error();
		return -1;
	}
	/* An explicit CA is the only trust; the default adds the system store. */
	if (!(o->cacert && *o->cacert) && !getenv("HEARTH_CACERT"))
		SSL_CTX_set_default_verify_paths(ctx);
	SSL *ssl = SSL_new(ctx);
	c->ssl = ssl;
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		ssl_err("TLS", err, errlen);
		return -1;
	}
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	unsigned char ipbuf[16];
	int is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
			ssl_err("TLS", err, errlen);
			return -1;
		}
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
		ssl_err("TLS", err, errlen);
		return -1;
	}
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    ssl_wait(c, e, deadline) == 0)
			continue;
		long vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK) {
			snprintf(err, errlen,
				 "TLS: the server's certificate is not trusted (%s); give its CA "
				 "with --cacert FILE or HEARTH_CACERT",
				 X509_verify_cert_error_string(vr));
			ERR_clear_error();
		} else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			snprintf(err, errlen, "TLS handshake timed out");
		} else {
			ssl_err("TLS handshake failed", err, errlen);
		}
		return -1;
	}
}

static int write_all(struct wsconn *c, const char *p, size_t n, long long deadline)
{
	while (n > 0) {
		int r = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    ssl_wait(c, e, deadline) != 0)
			return -1;
	}
	return 0;
}

/* Read more into c->in before the deadline: >0 bytes, 0 at EOF, -1 error/timeout. */
static int read_some(struct wsconn *c, long long deadline)
{
	for (;;) {
		if (c->in_len >= WSCONN_IN_CAP)
			return -1;
		int r = SSL_read(c->ssl, c->in + c->in_len, (int)(WSCONN_IN_CAP - c->in_len));
		if (r > 0) {
			c->in_len += (size_t)r;
			return r;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
			return 0;
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    ssl_wait(c, e, deadline) != 0)
			return -1;
	}
}

/* A refused upgrade: read the whole answer (bounded) and keep its message. */
static void refusal(struct wsconn *c, int status, long long deadline, struct wsconn_refusal *ref)
{
	static uint8_t body[WSCONN_REFUSAL_MAX + 1];
	struct httpresp hr;
	enum httpresp_result pr;
	int eof = 0;
	ref->status = status;
	snprintf(ref->message, sizeof ref->message, "HTTP %d", status);
	for (;;) {
		pr = httpresp_parse(c->in, c->in_len, eof, 0, body, WSCONN_REFUSAL_MAX, &hr);
		if (pr != HTTPRESP_INCOMPLETE || eof)
			break;
		int r = read_some(c, deadline);
		if (r < 0)
			break;
		eof = r == 0;
	}
	if (pr != HTTPRESP_OK || hr.body_len == 0)
		return;
	body[hr.body_len] = '\0';
	struct json_tokener *tok = json_tokener_new();
	json_object *doc = tok ? json_tokener_parse_ex(tok, (char *)body, (int)hr.body_len) : NULL, *m;
	if (doc && json_object_object_get_ex(doc, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		snprintf(ref->message, sizeof ref->message, "%s", json_object_get_string(m));
	else
		snprintf(ref->message, sizeof ref->message, "%.200s", (char *)body);
	/* Only printable text from the server reaches the terminal. */
	for (char *p = ref->message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	json_object_put(doc);
	if (tok)
		json_tokener_free(tok);
}

static int upgrade(struct wsconn *c, const struct wsconn_opts *o, const char *hosthdr,
		   long long deadline, struct wsconn_refusal *ref, char *err, size_t errlen)
{
	uint8_t raw[16];
	char key[WSC_KEY_LEN + 1], auth[WSC_PROTOCOL_MAX], head[4096];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return WSCONN_FAIL;
	}
	wsc_key(raw, key);
	if (snprintf(auth, sizeof auth, "lambda-microvms.authentication.%s", o->token) >=
	    (int)sizeof auth) {
		snprintf(err, errlen, "the shell token is too long");
		return WSCONN_FAIL;
	}
	struct wsc_request rq = { .host = hosthdr, .path = "/", .key = key };
	rq.protocols[rq.nprotocols++] = "lambda-microvms";
	rq.protocols[rq.nprotocols++] = auth;
	if (o->v1)
		rq.protocols[rq.nprotocols++] = "hearth.v1";
	int n = wsc_request(head, sizeof head, &rq);
	explicit_bzero(auth, sizeof auth);
	if (n < 0) {
		explicit_bzero(head, sizeof head);
		snprintf(err, errlen, "cannot build the upgrade request (bad token or host)");
		return WSCONN_FAIL;
	}
	int wr = write_all(c, head, (size_t)n, deadline);
	explicit_bzero(head, sizeof head);
	if (wr != 0) {
		ssl_err("sending the upgrade request failed", err, errlen);
		return WSCONN_FAIL;
	}
	static struct wsc_response a;
	int hl;
	while ((hl = wsc_parse_response((const char *)c->in, c->in_len, &a)) == 0) {
		int r = read_some(c, deadline);
		if (r <= 0) {
			snprintf(err, errlen, "the server %s before answering the upgrade",
				 r == 0 ? "hung up" : "timed out or failed");
			return WSCONN_FAIL;
		}
	}
	if (hl < 0) {
		snprintf(err, errlen, "the server's answer to the upgrade is not HTTP");
		return WSCONN_FAIL;
	}
	enum wsc_verdict v = wsc_verify(&a, &rq);
	if (v == WSC_E_STATUS) {
		refusal(c, a.status, deadline, ref);
		return WSCONN_REFUSED;
	}
	if (v != WSC_OK) {
		snprintf(err, errlen, "bad WebSocket upgrade: %s", wsc_verdict_str(v));
		return WSCONN_FAIL;
	}
	c->v1 = strcmp(a.protocol, "hearth.v1") == 0;
	c->in_off = (size_t)hl;
	return WSCONN_OK;
}

int wsconn_open(struct wsconn *c, const struct wsconn_opts *o, struct wsconn_refusal *ref,
		char *err, size_t errlen)
{
	char host[256], port[8], dhost[256], dport[8], hosthdr[300];
	long long deadline = clock_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 30000);
	memset(c, 0, sizeof *c);
	c->fd = -1;
	buf_init(&c->out, WSCONN_OUT_MAX);
	if (parse_endpoint(o->endpoint, host, sizeof host, port, sizeof port) != 0) {
		snprintf(err, errlen, "cannot use the endpoint '%.200s' (want https://HOST[:PORT])",
			 o->endpoint);
		return WSCONN_FAIL;
	}
	snprintf(dhost, sizeof dhost, "%s", host);
	snprintf(dport, sizeof dport, "%s", port);
	if (o->connect_to) {
		const char *colon = strrchr(o->connect_to, ':');
		size_t hl = colon ? (size_t)(colon - o->connect_to) : 0;
		if (!colon || hl == 0 || hl >= sizeof dhost || strlen(colon + 1) == 0 ||
		    strlen(colon + 1) >= sizeof dport) {
			snprintf(err, errlen, "--connect-to wants HOST:PORT");
			return WSCONN_FAIL;
		}
		memcpy(dhost, o->connect_to, hl);
		dhost[hl] = '\0';
		snprintf(dport, sizeof dport, "%s", colon + 1);
	}
	if (strcmp(port, "443") == 0)
		snprintf(hosthdr, sizeof hosthdr, "%s", host);
	else
		snprintf(hosthdr, sizeof hosthdr, "%s:%s", host, port);
	c->in = malloc(WSCONN_IN_CAP);
	c->text = malloc(WSCONN_TEXT_MAX);
	if (!c->in || !c->text) {
		snprintf(err, errlen, "out of memory");
		return WSCONN_FAIL;
	}
	if ((c->fd = dial(dhost, dport, deadline, err, errlen)) < 0)
		return WSCONN_FAIL;
	if (tls_setup(c, o, host, deadline, err, errlen) != 0)
		return WSCONN_FAIL;
	return upgrade(c, o, hosthdr, deadline, ref, err, errlen);
}

int wsconn_send(struct wsconn *c, uint8_t opcode, const void *p, size_t n)
{
	uint8_t mask[4];
	if (getrandom(mask, sizeof mask, 0) != sizeof mask)
		return -1;
	return wsc_put_frame(&c->out, opcode, p, n, mask) == BUF_OK ? 0 : -1;
}

int wsconn_pending(const struct wsconn *c)
{
	return buf_used(&c->out) > 0;
}

int wsconn_flush(struct wsconn *c, char *err, size_t errlen)
{
	while (c->ssl && buf_used(&c->out) > 0) {
		size_t n = buf_used(&c->out);
		int r = SSL_write(c->ssl, buf_ptr(&c->out), n > 65536 ? 65536 : (int)n);
		if (r > 0) {
			buf_consume(&c->out, (size_t)r);
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		ssl_err("connection lost while writing", err, errlen);
		return -1;
	}
	return 0;
}

/* One complete frame: 1 with *m to return, 0 handled here, -1 protocol error. */
static int frame(struct wsconn *c, const struct wsc_frame *f, struct wsconn_msg *m)
{
	memset(m, 0, sizeof *m);
	switch (f->opcode) {
	case WSC_PING:
		wsconn_send(c, WSC_PONG, f->payload, f->len);
		return 0;
	case WSC_PONG:
		return 0;
	case WSC_CLOSE: {
		const uint8_t *reason;
		size_t rlen;
		uint16_t code;
		if (wsc_close_parse(f->payload, f->len, &code, &reason, &rlen) != 0)
			return -1;
		if (!c->close_sent) {
			uint8_t echo[2] = { (uint8_t)(code >> 8), (uint8_t)code };
			wsconn_send(c, WSC_CLOSE, echo, code == 1005 ? 0 : 2);
			c->close_sent = 1;
		}
		m->opcode = WSC_CLOSE;
		m->close_code = code;
		m->p = reason;
		m->len = rlen;
		return 1;
	}
	case WSC_TEXT:
	case WSC_BINARY:
		if (c->frag_op)
			return -1; /* a new message inside a fragmented one */
		if (!f->fin)
			c->frag_op = f->opcode;
		if (f->opcode == WSC_TEXT && !f->fin) {
			if (f->len > WSCONN_TEXT_MAX)
				return -1;
			memcpy(c->text, f->payload, f->len);
			c->text_len = f->len;
			return 0;
		}
		m->opcode = f->opcode;
		m->p = f->payload;
		m->len = f->len;
		return 1;
	case WSC_CONT:
		if (!c->frag_op)
			return -1;
		if (c->frag_op == WSC_BINARY) {
			if (f->fin)
				c->frag_op = 0;
			m->opcode = WSC_BINARY;
			m->p = f->payload;
			m->len = f->len;
			return 1;
		}
		if (f->len > WSCONN_TEXT_MAX - c->text_len)
			return -1;
		memcpy(c->text + c->text_len, f->payload, f->len);
		c->text_len += f->len;
		if (!f->fin)
			return 0;
		c->frag_op = 0;
		m->opcode = WSC_TEXT;
		m->p = c->text;
		m->len = c->text_len;
		return 1;
	}
	return -1;
}

int wsconn_next(struct wsconn *c, struct wsconn_msg *m, char *err, size_t errlen)
{
	for (;;) {
		struct wsc_frame f;
		long n = wsc_frame_take(c->in + c->in_off, c->in_len - c->in_off, WSCONN_FRAME_MAX, &f);
		if (n < 0) {
			snprintf(err, errlen, "the server broke the WebSocket protocol%s",
				 n == -2 ? " (frame too large)" : "");
			return WSCONN_FAIL;
		}
		if (n > 0) {
			c->in_off += (size_t)n;
			int r = frame(c, &f, m);
			if (r < 0) {
				snprintf(err, errlen, "the server broke the WebSocket protocol");
				return WSCONN_FAIL;
			}
			if (r > 0)
				return WSCONN_OK;
			continue;
		}
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		int r = SSL_read(c->ssl, c->in + c->in_len, (int)(WSCONN_IN_CAP - c->in_len));
		if (r > 0) {
			c->in_len += (size_t)r;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return WSCONN_AGAIN;
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
			ERR_clear_error();
			return WSCONN_EOF;
		}
		ssl_err("connection lost", err, errlen);
		return WSCONN_FAIL;
	}
}

int wsconn_buffered(const struct wsconn *c)
{
	struct wsc_frame f;
	if (!c->ssl || !c->in)
		return 0;
	if (SSL_pending(c->ssl) > 0)
		return 1;
	/* A whole frame, or a broken one for wsconn_next to report; a partial
	 * frame waits for the socket. */
	return wsc_frame_take(c->in + c->in_off, c->in_len - c->in_off, WSCONN_FRAME_MAX, &f) != 0;
}

void wsconn_close(struct wsconn *c, uint16_t code)
{
	char err[64];
	if (c->ssl && !c->close_sent) {
		uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };
		wsconn_send(c, WSC_CLOSE, p, 2);
		c->close_sent = 1;
	}
	long long deadline = clock_ms() + 1000;
	while (c->ssl && wsconn_pending(c) && left_ms(deadline) > 0) {
		if (wsconn_flush(c, err, sizeof err) != 0)
			break;
		struct pollfd pf = { c->fd, POLLOUT, 0 };
		if (wsconn_pending(c) && poll(&pf, 1, left_ms(deadline)) != 1)
			break;
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl); /* one try: the socket is non-blocking */
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	free(c->in);
	free(c->text);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}
