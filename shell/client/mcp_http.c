/*
 * mcp_http.c - `hearth mcp --http ADDR:PORT`: MCP's Streamable HTTP
 * transport (protocol revision 2025-06-18 and later) on one endpoint, /mcp.
 *  - POST carries one JSON-RPC message. A request is answered with
 *    application/json, or with an SSE stream (text/event-stream) when a
 *    message comes before the answer (progress) or the client takes only
 *    SSE; the stream ends after the answer. Notifications and responses
 *    get 202. GET is 405 (no server-initiated stream: we send no requests);
 *    DELETE ends the session.
 *  - Sessions: initialize gets a random Mcp-Session-Id; later requests
 *    without one are 400, with an unknown or ended one 404; an unsupported
 *    MCP-Protocol-Version is 400.
 *  - Security: loopback unless --http-allow-remote; Host (when bound to
 *    loopback) and Origin must name loopback, or the one --http-allow-origin
 *    (DNS rebinding: 403); a bearer token on every request (401), compared
 *    in constant time and never logged.
 * Framing is protocol/httpsrv.c's, header checks protocol/mcphttp.c's. The
 * loop is mcp_server.c's: this file adds the listener and connections to its
 * poll set. A client that hangs up during a call cancels that call.
 */
#include "shell/client/mcp.h"
#include "protocol/httpsrv.h"
#include "protocol/jsonrpc.h"
#include "protocol/mcphttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define HTTP_CONNS_MAX 32       /* connections at once; more wait in the backlog */
#define HTTP_SESSIONS_MAX 16    /* past it the least recently used idle one ends */
#define HTTP_READ_MS 30000      /* a request's head and body */
#define HTTP_IDLE_MS 120000     /* a kept-alive connection between requests */
#define HTTP_WRITE_MS 30000     /* the client taking what we send */
#define HTTP_PROGRESS_BACKLOG (1u << 20) /* unsent bytes past which progress is dropped */
#define HTTP_TOKEN_MAX 256

/*
 * A connection's states. READ -> (a request) WAIT -> (its answer queued)
 * WRITE -> (sent) READ, or closed; a refusal goes from READ to WRITE.
 */
enum conn_state { C_FREE, C_READ, C_WAIT, C_WRITE, C_NSTATES };
static const unsigned conn_moves[C_NSTATES] = {
	[C_FREE] = 1u << C_READ,
	[C_READ] = 1u << C_WAIT | 1u << C_WRITE | 1u << C_FREE,
	[C_WAIT] = 1u << C_WRITE | 1u << C_FREE,
	[C_WRITE] = 1u << C_READ | 1u << C_FREE,
};
enum form { F_NONE, F_JSON, F_SSE }; /* how the request in WAIT is answered */

struct sess {
	int used;
	char id[65]; /* 32 random bytes, hex */
	long long last_ms;
	struct mcp_sess ms;
};

struct conn {
	enum conn_state st;
	int fd;
	struct httpsrv srv;
	uint8_t *body;             /* JSONRPC_MAX bytes: the collected request body */
	size_t in_len;             /* bytes in in[] */
	char *out;                 /* to write */
	size_t out_len, out_off, out_cap;
	long long deadline;        /* READ: the request's; WAIT/WRITE: while out is pending */
	unsigned accept;           /* MCPHTTP_ACCEPT_* of the request in WAIT */
	enum form form;
	int keep;                  /* the connection stays after this answer */
	int started;               /* a request's first bytes have come (READ) */
	int chunked;               /* SSE framed by chunks (HTTP/1.1) */
	char sid[65];              /* initialize: the new session's id for the answer, else "" */
	uint8_t in[65536];         /* read, not yet framed (last: accept clears what is before) */
};

struct http {
	struct mcp_server *srv;
	struct mcp_transport t;
	int lfd;
	int loopback;             /* bound to loopback: Host must name it too */
	const char *allow_origin;
	unsigned char token_hash[SHA256_DIGEST_LENGTH];
	struct conn conns[HTTP_CONNS_MAX];
	struct sess sess[HTTP_SESSIONS_MAX];
	struct conn *polled[MCP_TRANSPORT_FDS]; /* what each fd of the last fds() is (NULL: listener) */
};

static volatile sig_atomic_t http_stop;

static void on_stop(int sig)
{
	http_stop = 1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_to(struct conn *c, enum conn_state st)
{
	if (!(conn_moves[c->st] & (1u << st)))
		abort(); /* a bug here, not the client's doing */
	c->st = st;
}

/* ---- output ---- */

static int out_put(struct conn *c, const char *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = (c->out_len + n) * 2 + 4096;
		char *q = realloc(c->out, cap);
		if (!q)
			return -1;
		c->out = q;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

__attribute__((format(printf, 2, 3))) static void out_fmt(struct conn *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(c, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A response head; len < 0: an SSE stream (chunked on HTTP/1.1). */
static void head(struct conn *c, unsigned status, const char *ctype, long long len,
		 const char *extra)
{
	out_fmt(c, "HTTP/1.1 %u %s\r\n", status, httpsrv_reason(status));
	if (ctype)
		out_fmt(c, "Content-Type: %s\r\n", ctype);
	if (len >= 0)
		out_fmt(c, "Content-Length: %lld\r\n", len);
	else if (c->chunked)
		out_fmt(c, "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n");
	else
		c->keep = 0; /* HTTP/1.0: the stream ends with the connection */
	if (c->sid[0])
		out_fmt(c, "Mcp-Session-Id: %s\r\n", c->sid);
	if (!c->keep)
		out_fmt(c, "Connection: close\r\n");
	out_fmt(c, "%s\r\n", extra ? extra : "");
	c->deadline = now_ms() + HTTP_WRITE_MS;
}

/* A whole answer (a JSON body, or none). */
static void respond(struct conn *c, unsigned status, const char *body, const char *extra)
{
	head(c, status, body ? "application/json" : NULL, body ? (long long)strlen(body) : 0, extra);
	if (body)
		out_put(c, body, strlen(body));
	conn_to(c, C_WRITE);
}

/* An HTTP error with a JSON-RPC error (id null) as its body, as the spec suggests. */
static void refuse(struct conn *c, unsigned status, const char *msg, const char *extra)
{
	char *e = jsonrpc_error(NULL, status == 400 ? JSONRPC_INVALID_REQUEST : -32000, msg, NULL);
	respond(c, status, e, extra);
	free(e);
}

static void sse_event(struct conn *c, const char *line)
{
	size_t n = strlen(line);
	if (c->chunked)
		out_fmt(c, "%zx\r\n", n + 23);
	out_put(c, "event: message\ndata: ", 21);
	out_put(c, line, n); /* one line: JSONRPC encodes without newlines */
	out_put(c, "\n\n", 2);
	if (c->chunked)
		out_put(c, "\r\n", 2);
}

static void sse_end(struct conn *c)
{
	if (c->chunked)
		out_put(c, "0\r\n\r\n", 5);
	conn_to(c, C_WRITE);
	c->deadline = now_ms() + HTTP_WRITE_MS;
}

/* The transport's send: the answer form is chosen at the first message. */
static void http_send(void *ctx, void *to, char *line, int last)
{
	struct conn *c = to;
	if (c->st != C_WAIT) {
		free(line);
		return;
	}
	if (c->form == F_NONE) {
		if (line && last && (c->accept & MCPHTTP_ACCEPT_JSON)) {
			c->form = F_JSON;
			respond(c, 200, line, NULL);
			free(line);
			return;
		}
		if (!line && !(c->accept & MCPHTTP_ACCEPT_SSE)) {
			respond(c, 202, NULL, NULL); /* cancelled: nothing to say */
			return;
		}
		if (!(c->accept & MCPHTTP_ACCEPT_SSE)) {
			free(line); /* a notification the client cannot take */
			return;
		}
		c->form = F_SSE;
		head(c, 200, "text/event-stream", -1, NULL);
	}
	if (line && (last || c->out_len - c->out_off < HTTP_PROGRESS_BACKLOG))
		sse_event(c, line);
	free(line);
	if (last)
		sse_end(c);
	else if (c->out_off < c->out_len && !c->deadline)
		c->deadline = now_ms() + HTTP_WRITE_MS; /* a client not reading its stream */
}

/* ---- sessions ---- */

static void hex(char *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static struct sess *sess_find(struct http *h, const char *id)
{
	size_t n = strlen(id);
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++)
		if (h->sess[i].used && n == 64 && CRYPTO_memcmp(h->sess[i].id, id, 64) == 0)
			return &h->sess[i];
	return NULL;
}

static void sess_end(struct http *h, struct sess *s)
{
	mcp_end_session(h->srv, &s->ms);
	memset(s, 0, sizeof *s);
}

static struct sess *sess_new(struct http *h)
{
	struct sess *s = NULL, *lru = NULL;
	for (int i = 0; i < HTTP_SESSIONS_MAX && !s; i++) {
		struct sess *x = &h->sess[i];
		if (!x->used)
			s = x;
		else if (!mcp_sess_busy(h->srv, &x->ms) && (!lru || x->last_ms < lru->last_ms))
			lru = x;
	}
	if (!s && lru) {
		sess_end(h, lru);
		s = lru;
	}
	unsigned char raw[32];
	if (!s || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return NULL;
	s->used = 1;
	hex(s->id, raw, sizeof raw);
	snprintf(s->ms.client, sizeof s->ms.client, "?");
	s->last_ms = now_ms();
	return s;
}

/* ---- requests ---- */

static int token_ok(struct http *h, const struct httpmsg_request *rq)
{
	const char *tok;
	size_t n;
	unsigned char d[SHA256_DIGEST_LENGTH];
	if (mcphttp_bearer(httpmsg_get(rq, "Authorization"), &tok, &n) != 0)
		return 0;
	/* digests: equal lengths for CRYPTO_memcmp, whatever the token's */
	SHA256((const unsigned char *)tok, n, d);
	return CRYPTO_memcmp(d, h->token_hash, sizeof d) == 0;
}

/* The session of a request after initialize: NULL once answered (400/404). */
static struct sess *need_session(struct http *h, struct conn *c, const struct httpmsg_request *rq)
{
	const char *id = httpmsg_get(rq, "Mcp-Session-Id");
	const char *ver = httpmsg_get(rq, "MCP-Protocol-Version");
	struct sess *s;
	if (!id) {
		refuse(c, 400, "Bad Request: Mcp-Session-Id header is required", NULL);
		return NULL;
	}
	if (!mcphttp_session_ok(id) || !(s = sess_find(h, id))) {
		refuse(c, 404, "Session not found", NULL);
		return NULL;
	}
	if (ver && !mcp_version_known(ver)) {
		refuse(c, 400, "Bad Request: unsupported MCP-Protocol-Version", NULL);
		return NULL;
	}
	s->last_ms = now_ms();
	return s;
}

static void post(struct http *h, struct conn *c, const struct httpmsg_request *rq)
{
	c->accept = mcphttp_accept(httpmsg_get(rq, "Accept"));
	if (!(c->accept & (MCPHTTP_ACCEPT_JSON | MCPHTTP_ACCEPT_SSE))) {
		refuse(c, 406, "Not Acceptable: accept application/json or text/event-stream", NULL);
		return;
	}
	if (!mcphttp_is_json(httpmsg_get(rq, "Content-Type"))) {
		refuse(c, 415, "Unsupported Media Type: Content-Type must be application/json", NULL);
		return;
	}
	size_t n = rq->body_len;
	while (n > 0 && strchr(" \t\r\n", rq->body[n - 1]))
		n--;
	struct jsonrpc_msg msg;
	int code;
	char err[256];
	if (jsonrpc_parse((const char *)rq->body, n, &msg, &code, err, sizeof err) != 0) {
		char *e = jsonrpc_error(msg.id, code, err, NULL);
		respond(c, 400, e, NULL);
		free(e);
		jsonrpc_free(&msg);
		return;
	}
	struct sess *s;
	if (msg.kind == JSONRPC_REQUEST && !strcmp(msg.method, "initialize")) {
		if (!(s = sess_new(h))) {
			refuse(c, 503, "too many sessions busy", NULL);
			jsonrpc_free(&msg);
			return;
		}
		memcpy(c->sid, s->id, sizeof c->sid);
	} else if (!(s = need_session(h, c, rq))) {
		jsonrpc_free(&msg);
		return;
	}
	conn_to(c, C_WAIT);
	c->form = F_NONE;
	c->deadline = 0;
	mcp_dispatch(h->srv, &s->ms, c, &msg);
	if (msg.kind != JSONRPC_REQUEST && c->st == C_WAIT)
		respond(c, 202, NULL, NULL);
	jsonrpc_free(&msg);
}

static void del_session(struct http *h, struct conn *c, const struct httpmsg_request *rq)
{
	struct sess *s = need_session(h, c, rq);
	if (!s)
		return;
	sess_end(h, s);
	respond(c, 200, NULL, NULL);
}

/* A whole request: the checks in the specification's order of concern. */
/* Who may ask at all: 0, or the refusal's status (403, 401). */
static unsigned gate(struct http *h, const struct httpmsg_request *rq)
{
	const char *origin = httpmsg_get(rq, "Origin");
	if ((h->loopback && !mcphttp_host_loopback(httpmsg_get(rq, "Host"))) ||
	    (origin && !mcphttp_origin_loopback(origin) &&
	     !(h->allow_origin && !strcmp(origin, h->allow_origin))))
		return 403;
	return token_ok(h, rq) ? 0 : 401;
}

/*
 * httpsrv's stream_pick, called once a head with a body is read: the body of
 * a request the gate refuses is streamed (to be dropped) rather than
 * collected, so nobody without the token makes us hold 16 MiB.
 */
static int pick(void *ctx, const struct httpmsg_request *rq)
{
	return gate(ctx, rq) ? HTTPSRV_STREAM_YES : HTTPSRV_STREAM_NO;
}

static int drop(void *ctx, const uint8_t *p, size_t n)
{
	return 0;
}

static void request(struct http *h, struct conn *c)
{
	const struct httpmsg_request *rq = &c->srv.rq;
	unsigned refused = gate(h, rq);
	c->keep = c->srv.keep_alive;
	c->chunked = !c->srv.http10;
	c->sid[0] = '\0';
	if (refused == 403) {
		refuse(c, 403, "Forbidden: Host or Origin not allowed", NULL);
		return;
	}
	if (refused || rq->body_streamed) {
		refuse(c, 401, "Unauthorized", "WWW-Authenticate: Bearer realm=\"hearth-mcp\"\r\n");
		return;
	}
	if (strcmp(rq->path, "/mcp") != 0) {
		refuse(c, 404, "Not Found: the MCP endpoint is /mcp", NULL);
		return;
	}
	if (!strcmp(rq->method, "POST"))
		post(h, c, rq);
	else if (!strcmp(rq->method, "DELETE"))
		del_session(h, c, rq);
	else
		refuse(c, 405, "Method Not Allowed", "Allow: POST, DELETE\r\n");
}

/* ---- connections ---- */

static void conn_close(struct http *h, struct conn *c)
{
	if (c->st == C_WAIT)
		mcp_abandon(h->srv, c); /* the client hung up during its call */
	close(c->fd);
	free(c->body);
	free(c->out);
	c->body = NULL;
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	c->in_len = 0;
	conn_to(c, C_FREE);
	c->fd = -1;
}

/* Frame what is in c->in: a request, a refusal, or wait for more. */
static void conn_frame(struct http *h, struct conn *c)
{
	while (c->st == C_READ) {
		size_t k = c->srv.state == HTTPSRV_STREAM
				   ? httpsrv_stream(&c->srv, c->in, c->in_len, drop, NULL)
				   : httpsrv_feed(&c->srv, c->in, c->in_len);
		memmove(c->in, c->in + k, c->in_len - k);
		c->in_len -= k;
		if (c->srv.state == HTTPSRV_READY) {
			request(h, c);
			return;
		}
		if (c->srv.state == HTTPSRV_FAILED) {
			c->keep = 0;
			c->chunked = 0;
			c->sid[0] = '\0';
			refuse(c, c->srv.err.status, c->srv.err.msg, NULL);
			return;
		}
		if (k == 0)
			return; /* wants more bytes */
	}
}

static void conn_read(struct http *h, struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_close(h, c);
		return;
	}
	if (!c->started) {
		c->started = 1;
		c->deadline = now_ms() + HTTP_READ_MS; /* a request starts: it has 30 s */
	}
	c->in_len += (size_t)n;
	conn_frame(h, c);
}

static void conn_write(struct http *h, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(h, c);
			return;
		}
		c->out_off += (size_t)n;
		c->deadline = now_ms() + HTTP_WRITE_MS;
	}
	c->out_off = c->out_len = 0;
	if (c->st == C_WAIT) {
		c->deadline = 0; /* the call runs as long as it runs */
		return;
	}
	if (!c->keep) {
		conn_close(h, c);
		return;
	}
	httpsrv_next(&c->srv);
	conn_to(c, C_READ);
	c->started = c->in_len > 0;
	c->deadline = now_ms() + (c->started ? HTTP_READ_MS : HTTP_IDLE_MS);
	conn_frame(h, c);
}

static void conn_accept(struct http *h)
{
	struct conn *c = NULL;
	for (int i = 0; i < HTTP_CONNS_MAX && !c; i++)
		if (h->conns[i].st == C_FREE)
			c = &h->conns[i];
	if (!c)
		return;
	int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	uint8_t *body = malloc(JSONRPC_MAX);
	if (!body) {
		close(fd);
		return;
	}
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	c->body = body;
	c->in_len = 0;
	conn_to(c, C_READ);
	c->deadline = now_ms() + HTTP_IDLE_MS;
	httpsrv_init(&c->srv, body, JSONRPC_MAX);
	c->srv.stream_pick = pick;
	c->srv.stream_ctx = h;
	c->srv.stream_max = JSONRPC_MAX;
}

/* ---- the transport's poll hooks ---- */

static int http_fds(void *ctx, struct pollfd *p, int max)
{
	struct http *h = ctx;
	long long now = now_ms();
	int n = 0, free_conns = 0;
	for (int i = 0; i < HTTP_CONNS_MAX; i++) {
		struct conn *c = &h->conns[i];
		if (c->st != C_FREE && c->deadline && now >= c->deadline)
			conn_close(h, c); /* every wait has a deadline */
		if (c->st == C_FREE) {
			free_conns++;
			continue;
		}
		short ev = c->st == C_READ ? POLLIN : c->st == C_WAIT ? POLLRDHUP : 0;
		if (c->out_off < c->out_len)
			ev |= POLLOUT;
		h->polled[n] = c;
		p[n++] = (struct pollfd){ c->fd, ev, 0 };
	}
	if (free_conns && n < max) {
		h->polled[n] = NULL;
		p[n++] = (struct pollfd){ h->lfd, POLLIN, 0 };
	}
	return n;
}

static void http_ready(void *ctx, struct pollfd *p, int n)
{
	struct http *h = ctx;
	for (int k = 0; k < n; k++) {
		struct conn *c = h->polled[k];
		if (!p[k].revents)
			continue;
		if (!c) {
			conn_accept(h);
			continue;
		}
		if (c->st == C_FREE || c->fd != p[k].fd)
			continue;
		if ((c->st == C_WAIT && (p[k].revents & POLLRDHUP)) ||
		    (c->st != C_READ && (p[k].revents & (POLLHUP | POLLERR)))) {
			conn_close(h, c); /* gone (or done sending) during its call: cancel it */
			continue;
		}
		if (p[k].revents & POLLOUT)
			conn_write(h, c);
		else if (c->st == C_READ && (p[k].revents & (POLLIN | POLLHUP | POLLERR)))
			conn_read(h, c);
	}
}

static int http_timeout(void *ctx)
{
	struct http *h = ctx;
	long long now = now_ms(), next = -1;
	for (int i = 0; i < HTTP_CONNS_MAX; i++) {
		struct conn *c = &h->conns[i];
		if (c->st != C_FREE && c->deadline && (next < 0 || c->deadline - now < next))
			next = c->deadline - now;
	}
	return next < 0 ? -1 : next > 60000 ? 60000 : (int)next;
}

static int http_ended(void *ctx)
{
	return http_stop;
}

/* ---- setup ---- */

/* The token: from the file, HEARTH_MCP_TOKEN, or made now and shown once. */
static int token_load(struct http *h, const char *file)
{
	char tok[HTTP_TOKEN_MAX + 2] = "";
	const char *env = getenv("HEARTH_MCP_TOKEN");
	if (file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			fprintf(stderr, "hearth mcp: %s: %s\n", file, strerror(errno));
			return -1;
		}
		if (!fgets(tok, sizeof tok, f))
			tok[0] = '\0';
		fclose(f);
	} else if (env && *env) {
		snprintf(tok, sizeof tok, "%s", env);
	} else {
		unsigned char raw[32];
		if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
			fprintf(stderr, "hearth mcp: getrandom: %s\n", strerror(errno));
			return -1;
		}
		hex(tok, raw, sizeof raw);
		fprintf(stderr, "hearth mcp: bearer token (shown once): %s\n", tok);
	}
	size_t n = strcspn(tok, "\r\n");
	tok[n] = '\0';
	char hdr[HTTP_TOKEN_MAX + 16];
	const char *t;
	size_t tl;
	snprintf(hdr, sizeof hdr, "Bearer %s", tok);
	if (n < 16 || n > HTTP_TOKEN_MAX || mcphttp_bearer(hdr, &t, &tl) != 0 || tl != n) {
		fprintf(stderr, "hearth mcp: the bearer token must be 16..%d characters of "
				"A-Z a-z 0-9 - . _ ~ + / (then = padding)\n", HTTP_TOKEN_MAX);
		return -1;
	}
	SHA256((const unsigned char *)tok, n, h->token_hash);
	OPENSSL_cleanse(tok, sizeof tok);
	OPENSSL_cleanse(hdr, sizeof hdr);
	return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

static int listen_on(struct http *h, const struct mcp_http_opts *o)
{
	char host[256];
	const char *colon = strrchr(o->listen, ':');
	if (!colon || colon == o->listen || !colon[1] ||
	    (size_t)(colon - o->listen) >= sizeof host) {
		fprintf(stderr, "hearth mcp: --http wants ADDR:PORT (e.g. 127.0.0.1:8808)\n");
		return -1;
	}
	size_t hl = (size_t)(colon - o->listen);
	memcpy(host, o->listen, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "hearth mcp: --http %s: %s\n", o->listen, gai_strerror(rc));
		return -1;
	}
	h->loopback = is_loopback(ai->ai_addr);
	if (!h->loopback && !o->allow_remote) {
		fprintf(stderr, "hearth mcp: refusing to listen on %s, not a loopback address: "
				"anyone who reaches it could run VMs (add --http-allow-remote to mean it)\n",
			o->listen);
		freeaddrinfo(ai);
		return -1;
	}
	int one = 1;
	h->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(h->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(h->lfd, 64) < 0) {
		fprintf(stderr, "hearth mcp: --http %s: %s\n", o->listen, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN], p[8];
	if (getsockname(h->lfd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, a, sizeof a, p, sizeof p,
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		fprintf(stderr, "hearth mcp: listening on http://%s%s%s:%s/mcp\n",
			ss.ss_family == AF_INET6 ? "[" : "", a, ss.ss_family == AF_INET6 ? "]" : "", p);
	return 0;
}

int mcp_http_serve(const struct mcp_http_opts *o, const struct mcp_opts *mo, FILE *audit)
{
	static struct http h;
	char err[256];
	memset(&h, 0, sizeof h);
	h.lfd = -1;
	h.allow_origin = o->allow_origin;
	for (int i = 0; i < HTTP_CONNS_MAX; i++)
		h.conns[i].fd = -1;
	if (token_load(&h, o->token_file) != 0 || listen_on(&h, o) != 0) {
		if (h.lfd >= 0)
			close(h.lfd);
		return 1;
	}
	h.t = (struct mcp_transport){ &h, http_send, http_fds, http_ready, http_timeout, http_ended };
	h.srv = mcp_server_new(mo, audit, &h.t, err, sizeof err);
	if (!h.srv) {
		fprintf(stderr, "hearth mcp: %s\n", err);
		close(h.lfd);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = mcp_run(h.srv);
	for (int i = 0; i < HTTP_CONNS_MAX; i++)
		if (h.conns[i].st != C_FREE)
			conn_close(&h, &h.conns[i]);
	mcp_server_free(h.srv);
	close(h.lfd);
	return rc;
}
