/*
 * ingress.c - the TLS endpoint vhost and the front end of every ingress
 * connection (ingress_conn.h): read the request head, route it by a
 * dispatch table, then hand the connection to its handler for good.
 * tlsfront.c accepts every connection; the ones it does not terminate
 * itself (h2 by ALPN, ingress_front.h) come to lws's vhost here, which
 * terminates TLS and hands us raw bytes (its raw-skt role); HTTP and
 * WebSocket are spoken by the handlers with protocol/wsproto (wsproto.h says
 * why). Everything runs on hearthd's event-loop thread.
 */
#include "session/ingress.h"

#include <json-c/json.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/buf.h"
#include "protocol/token.h"
#include "protocol/vmhost.h"
#include "protocol/wsproto.h"
#include "session/agentlink.h"
#include "session/certcache.h"
#include "session/h2srv.h"
#include "session/httpd.h"
#include "session/ingress_conn.h"
#include "session/ingress_front.h"
#include "session/lifecycle.h"
#include "session/proxy.h"
#include "session/shellhub.h"
#include "session/shellws.h"
#include "session/store.h"
#include "session/tlscert.h"
#include "session/tlsfront.h"
#include "session/webterm.h"

#define INGRESS_CLIENT_PROTO "hearth-ingress"
#define INGRESS_AUTH_PREFIX "lambda-microvms.authentication."
#define INGRESS_CHUNK (16u * 1024)            /* bytes per lws_write (one TLS record) */
#define INGRESS_WRITES_PER_TURN 16            /* lws_writes per WRITEABLE while not choked */

struct ingress_conn {
	struct hearthd *hd;
	struct lws *wsi; /* lws's raw TLS socket, or NULL: ... */
	const struct ingress_front_ops *fo; /* ... hearthd's own TLS front (tlsfront.c) */
	void *t;
	struct buf rin;  /* the request head */
	struct buf wout; /* bytes to the client */
	const struct ingress_handler_ops *ops;
	void *h;
	int routed;      /* the head went to a handler */
	int hangup;      /* 1: after the queue is written; 2: written, close */
	int fresh;       /* on the fresh list: queued since the last write */
	struct ingress_conn *fresh_next;
};

static uint8_t scratch[LWS_PRE + INGRESS_CHUNK];
/* Connections that got bytes while the agent link hands out a read's frames:
 * ingress_flush writes them before the event loop turns. */
static struct ingress_conn *fresh_list;
static int batching; /* inside the agent link's read: ingress_flush follows */

static void fresh_remove(struct ingress_conn *c)
{
	if (!c->fresh)
		return;
	for (struct ingress_conn **pp = &fresh_list; *pp; pp = &(*pp)->fresh_next)
		if (*pp == c) {
			*pp = c->fresh_next;
			break;
		}
	c->fresh = 0;
}

/* ---- the connection contract (ingress_conn.h) ---- */

struct hearthd *ingress_conn_hd(struct ingress_conn *c)
{
	return c->hd;
}

void ingress_conn_bind(struct ingress_conn *c, const struct ingress_handler_ops *ops, void *h)
{
	c->ops = ops;
	c->h = h;
	/* The handler keeps its own time from now on. */
	ingress_conn_deadline(c, 0);
}

void ingress_conn_deadline(struct ingress_conn *c, unsigned secs)
{
	if (!c->wsi)
		c->fo->deadline(c->t, secs);
	else
		lws_set_timeout(c->wsi, secs ? PENDING_TIMEOUT_USER_OK : NO_PENDING_TIMEOUT,
				(int)secs);
}

/* Ask the transport to write (the fresh list is lws's short cut). */
static void want_write(struct ingress_conn *c)
{
	if (!c->wsi)
		c->fo->want_write(c->t);
	else
		lws_callback_on_writable(c->wsi);
}

int ingress_conn_write(struct ingress_conn *c, const void *p, size_t n)
{
	if (c->hangup || buf_room(&c->wout) < n || buf_put(&c->wout, p, n) != BUF_OK)
		return -1;
	if (!batching || !c->wsi) {
		want_write(c);
		return 0;
	}
	if (!c->fresh) {
		c->fresh = 1;
		c->fresh_next = fresh_list;
		fresh_list = c;
	}
	return 0;
}

/*
 * The agent link calls this around handing out one read's frames (begin 1,
 * then 0). In between, connections only queue; at the end each writes what
 * it got (an echo) at once, one TLS record, instead of on the next turn of
 * the event loop for WRITEABLE, which is asked for only when bytes are left
 * or lws still holds some (order is kept behind those).
 */
static void ingress_flush(int begin)
{
	batching = begin;
	if (begin)
		return;
	while (fresh_list) {
		struct ingress_conn *c = fresh_list;
		fresh_list = c->fresh_next;
		c->fresh = 0;
		size_t n = buf_used(&c->wout);
		if (n > INGRESS_CHUNK)
			n = INGRESS_CHUNK;
		if (n && c->hangup != 2 && !lws_partial_buffered(c->wsi)) {
			memcpy(scratch + LWS_PRE, buf_ptr(&c->wout), n);
			buf_consume(&c->wout, n);
			if (lws_write(c->wsi, scratch + LWS_PRE, n, LWS_WRITE_RAW) < (int)n) {
				ingress_conn_abort(c);
				continue;
			}
		}
		if (buf_used(&c->wout) || lws_partial_buffered(c->wsi))
			lws_callback_on_writable(c->wsi);
	}
}

size_t ingress_conn_room(const struct ingress_conn *c)
{
	return c->hangup ? 0 : buf_room(&c->wout);
}

void ingress_conn_rx_pause(struct ingress_conn *c, int paused)
{
	if (!c->wsi)
		c->fo->rx_pause(c->t, paused);
	else
		lws_rx_flow_control(c->wsi, !paused);
}

void ingress_conn_hangup(struct ingress_conn *c)
{
	if (!c->hangup)
		c->hangup = 1;
	want_write(c);
}

void ingress_conn_abort(struct ingress_conn *c)
{
	if (!c->wsi)
		c->fo->abort(c->t);
	else
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Status, reason phrase and the x-amzn-ErrorType every refusal carries (the
 * API's names where the API has one: the endpoint answers in the same shape). */
static const struct {
	unsigned status;
	const char *reason, *type;
} ingress_reasons[] = {
	{ 400, "Bad Request", "ValidationException" },
	{ 401, "Unauthorized", "UnauthorizedException" },
	{ 403, "Forbidden", "AccessDeniedException" },
	{ 404, "Not Found", "ResourceNotFoundException" },
	{ 405, "Method Not Allowed", "MethodNotAllowedException" },
	{ 409, "Conflict", "ConflictException" },
	{ 413, "Payload Too Large", "RequestEntityTooLargeException" },
	{ 431, "Request Header Fields Too Large", "RequestHeaderFieldsTooLargeException" },
	{ 500, "Internal Server Error", "InternalServerException" },
	{ 501, "Not Implemented", "NotImplementedException" },
	{ 502, "Bad Gateway", "BadGatewayException" },
	{ 503, "Service Unavailable", "ServiceUnavailableException" },
	{ 504, "Gateway Timeout", "GatewayTimeoutException" },
};

void ingress_conn_refuse(struct ingress_conn *c, unsigned status, const char *msg)
{
	const char *reason = "Error", *type = "InternalServerException";
	for (size_t i = 0; i < sizeof ingress_reasons / sizeof ingress_reasons[0]; i++)
		if (ingress_reasons[i].status == status) {
			reason = ingress_reasons[i].reason;
			type = ingress_reasons[i].type;
		}
	struct json_object *o = json_object_new_object();
	const char *body = "{}";
	if (o) {
		json_object_object_add(o, "message", json_object_new_string(msg));
		body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	char head[256];
	int hl = snprintf(head, sizeof head,
			  "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nx-amzn-ErrorType: %s\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, type, strlen(body));
	ingress_conn_write(c, head, (size_t)hl);
	ingress_conn_write(c, body, strlen(body));
	json_object_put(o);
	ingress_conn_hangup(c);
}

/* ---- authorization ---- */

/* The token of r: 1 found (in tok), 0 none, -1 too long. */
static int request_token(const struct wsp_request *r, char *tok, size_t cap)
{
	int found = wsp_find_protocol(r->protocols, INGRESS_AUTH_PREFIX, tok, cap);
	if (found == 0 && r->auth[0]) {
		size_t n = strnlen(r->auth, cap);
		if (n >= cap)
			return -1;
		memcpy(tok, r->auth, n + 1);
		found = 1;
	}
	return found;
}

/*
 * The VM a request is for: the one its Host names ("<id>.<domain>[:port]"),
 * else (a client that reached the ingress by address or as localhost, with
 * no name to resolve) the one its token is bound to when the token verifies:
 * tokens name one VM, so the token is as good an address as the Host.
 * "" for neither; the handler still authorizes the token for that VM.
 */
static void request_vm_id(struct hearthd *hd, const struct wsp_request *r, char *id, size_t cap)
{
	char tok[TOKEN_MAX_LEN + 2];
	struct token_claims cl;
	if (vmhost_parse(r->host, strlen(r->host), hd->cfg.endpoint_domain, 1, id, cap) == 0)
		return;
	id[0] = '\0';
	if (request_token(r, tok, sizeof tok) == 1 &&
	    token_verify(hd->key, sizeof hd->key, tok, strlen(tok), (uint64_t)hd_now(), &cl) ==
		    TOKEN_OK &&
	    strlen(cl.vm_id) < cap)
		snprintf(id, cap, "%s", cl.vm_id);
}

/* The token's run is the VM's run: the lifecycle's copy of a live VM's row
 * (no store read per request), else the stored row. */
static int vm_generation_ok(struct hearthd *hd, const char *vm_id, uint32_t generation)
{
	const struct store_vm *live = hd->lc ? lifecycle_row(hd->lc, vm_id) : NULL;
	if (live)
		return (uint32_t)live->generation == generation;
	struct store_vm *v = malloc(sizeof *v);
	int ok = v && store_vm_get(hd->store, vm_id, v) == 1 &&
		 (uint32_t)v->generation == generation;
	free(v);
	return ok;
}

/* The cache holds tok (same length, same bytes, constant time): its claims. */
static int authcache_hit(const struct ingress_authcache *ac, const char *tok, size_t len)
{
	return ac && ac->len && ac->len == len && CRYPTO_memcmp(ac->tok, tok, len) == 0;
}

enum ingress_auth ingress_authorize_cached(struct hearthd *hd, const struct wsp_request *r,
					   const char *vm_id, struct token_claims *cl,
					   struct ingress_authcache *ac)
{
	char tok[TOKEN_MAX_LEN + 2];
	int found = request_token(r, tok, sizeof tok);
	if (found == 0)
		return INGRESS_AUTH_MISSING;
	if (found < 0 || !vm_id[0])
		return INGRESS_AUTH_DENIED;
	size_t len = strlen(tok);
	uint64_t now = (uint64_t)hd_now();
	if (authcache_hit(ac, tok, len)) {
		*cl = ac->cl;
		if (token_current(cl, now) != TOKEN_OK)
			return INGRESS_AUTH_DENIED;
	} else {
		if (token_verify(hd->key, sizeof hd->key, tok, len, now, cl) != TOKEN_OK)
			return INGRESS_AUTH_DENIED;
		if (ac && len < sizeof ac->tok) {
			memcpy(ac->tok, tok, len);
			ac->len = len;
			ac->cl = *cl;
		}
	}
	if (strcmp(cl->vm_id, vm_id) != 0 || !vm_generation_ok(hd, vm_id, cl->generation))
		return INGRESS_AUTH_DENIED;
	return INGRESS_AUTH_OK;
}

enum ingress_auth ingress_authorize(struct hearthd *hd, const struct wsp_request *r,
				    const char *vm_id, struct token_claims *cl)
{
	return ingress_authorize_cached(hd, r, vm_id, cl, NULL);
}

/* ---- routing ---- */

/* The shell: a WebSocket upgrade whose token is a shell token of this VM
 * (shellws_handle answers 404 for paths other than / and /shell). */
static int route_shell(struct ingress_conn *c, const struct wsp_request *r, const char *vm_id)
{
	struct token_claims cl;
	return vm_id[0] && wsp_is_upgrade(r) &&
	       ingress_authorize(c->hd, r, vm_id, &cl) == INGRESS_AUTH_OK &&
	       cl.kind == TOKEN_KIND_SHELL;
}

static int route_vm(struct ingress_conn *c, const struct wsp_request *r, const char *vm_id)
{
	(void)c;
	(void)r;
	return vm_id[0] != '\0';
}

/* No VM by Host or token, yet a token was sent: a bad one (expired,
 * forged, of a VM gone), refused as the VM's own endpoint would refuse it
 * rather than answered with the web terminal's page. */
static int route_bad_token(struct ingress_conn *c, const struct wsp_request *r,
			   const char *vm_id)
{
	char tok[TOKEN_MAX_LEN + 2];
	(void)c;
	return !vm_id[0] && request_token(r, tok, sizeof tok) != 0;
}

static void refuse_bad_token(struct ingress_conn *c, const struct wsp_request *r,
			     const char *head, size_t headlen, const char *vm_id)
{
	(void)r;
	(void)head;
	(void)headlen;
	(void)vm_id;
	ingress_conn_refuse(c, 403, "the token is not valid for this endpoint");
}

static int route_any(struct ingress_conn *c, const struct wsp_request *r, const char *vm_id)
{
	(void)c;
	(void)r;
	(void)vm_id;
	return 1;
}

/* First match wins. raw_target: the handler passes the request target on
 * unchanged (the application decides what it means); every other handler
 * decides on the path itself, so a path that could mean something else
 * (wsp_path_check: %00, encoded '/', dot or empty segments, ...) is refused
 * before it gets there. */
static const struct {
	int (*match)(struct ingress_conn *c, const struct wsp_request *r, const char *vm_id);
	ingress_handler_fn handle;
	int raw_target;
} ingress_routes[] = {
	{ route_shell, shellws_handle, 0 },
	{ route_vm, proxy_handle, 1 },
	{ route_bad_token, refuse_bad_token, 1 },
	{ route_any, webterm_handle, 0 },
};

static void ingress_route(struct ingress_conn *c, const struct wsp_request *r, const char *head,
			  size_t headlen)
{
	char vm_id[TOKEN_MAX_ID + 1];
	request_vm_id(c->hd, r, vm_id, sizeof vm_id);
	for (size_t i = 0; i < sizeof ingress_routes / sizeof ingress_routes[0]; i++) {
		if (!ingress_routes[i].match(c, r, vm_id))
			continue;
		const char *why = ingress_routes[i].raw_target ? NULL : wsp_path_check(r->path);
		if (why)
			ingress_conn_refuse(c, 400, why);
		else
			ingress_routes[i].handle(c, r, head, headlen, vm_id);
		return;
	}
}

/* ---- lws callbacks ---- */

static struct ingress_conn *conn_new(struct hearthd *hd, struct lws *wsi)
{
	struct ingress_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->hd = hd;
	c->wsi = wsi;
	buf_init(&c->rin, WSP_HEAD_MAX);
	buf_init(&c->wout, INGRESS_CONN_OUT_MAX);
	return c;
}

struct ingress_conn *ingress_conn_new(struct hearthd *hd, const struct ingress_front_ops *fo,
				      void *t)
{
	struct ingress_conn *c = conn_new(hd, NULL);
	if (c) {
		c->fo = fo;
		c->t = t;
	}
	return c;
}

static void conn_free(struct ingress_conn *c)
{
	fresh_remove(c);
	buf_free(&c->rin);
	buf_free(&c->wout);
	free(c);
}

/* The request head, then (routed) the handler's bytes. */
int ingress_conn_rx(struct ingress_conn *c, const uint8_t *in, size_t len)
{
	if (c->hangup)
		return 0;
	if (c->routed) {
		if (!c->ops)
			return 0;
		return c->ops->rx(c->h, in, len);
	}
	size_t take = len;
	/* HTTP/2: the client opens with the preface, not a head. */
	if (!buf_used(&c->rin) && h2srv_preface(in, len) == 1) {
		c->routed = 1;
		h2srv_handle(c, in, len);
		return 0;
	}
	if (take > buf_room(&c->rin))
		take = buf_room(&c->rin);
	buf_put(&c->rin, in, take);
	struct wsp_request *r = malloc(sizeof *r);
	if (!r)
		return -1;
	int n = wsp_parse_request((const char *)buf_ptr(&c->rin), buf_used(&c->rin), r);
	if (n == 0 && take < len)
		n = -2; /* the head does not fit */
	int h2 = h2srv_preface(buf_ptr(&c->rin), buf_used(&c->rin));
	if (h2 >= 0) {
		/* The preface in pieces (its first 18 bytes look like a whole
		 * head): wait for all of it, then hand everything over. */
		free(r);
		if (h2 == 1) {
			c->routed = 1;
			h2srv_handle(c, buf_ptr(&c->rin), buf_used(&c->rin));
			buf_free(&c->rin);
		}
		return 0;
	}
	if (n < 0) {
		c->routed = 1;
		ingress_conn_refuse(c, n == -2 ? 431 : 400, "malformed request");
	} else if (n > 0) {
		c->routed = 1;
		ingress_route(c, r, (const char *)buf_ptr(&c->rin), (size_t)n);
		if (!c->ops && !c->hangup)
			ingress_conn_refuse(c, 500, "no handler took the request");
	}
	free(r);
	if (n <= 0 || !c->ops || c->hangup)
		return 0;
	/* Bytes that came with the head belong to the handler. */
	size_t rest = buf_used(&c->rin) - (size_t)n + (len - take);
	if (!rest) {
		buf_free(&c->rin);
		return 0;
	}
	uint8_t *tail = malloc(rest);
	if (!tail)
		return -1;
	memcpy(tail, buf_ptr(&c->rin) + n, buf_used(&c->rin) - (size_t)n);
	memcpy(tail + buf_used(&c->rin) - (size_t)n, in + take, len - take);
	buf_free(&c->rin);
	int rc = c->ops->rx(c->h, tail, rest);
	free(tail);
	return rc;
}

size_t ingress_conn_out(struct ingress_conn *c, const uint8_t **p, size_t max)
{
	size_t n = buf_used(&c->wout);
	*p = buf_ptr(&c->wout);
	return n < max ? n : max;
}

void ingress_conn_sent(struct ingress_conn *c, size_t n)
{
	buf_consume(&c->wout, n);
	if (c->ops && !c->hangup && buf_used(&c->wout) < INGRESS_CONN_OUT_MAX / 2)
		c->ops->writable(c->h);
}

int ingress_conn_finished(const struct ingress_conn *c)
{
	return c->hangup && !buf_used(&c->wout);
}

void ingress_conn_gone(struct ingress_conn *c)
{
	if (c->ops)
		c->ops->closed(c->h);
	conn_free(c);
}

static int conn_writeable(struct ingress_conn *c, struct lws *wsi)
{
	fresh_remove(c);
	if (c->hangup == 2)
		return -1; /* lws has flushed what we wrote last */
	/* Write while the socket takes it (one poll per chunk is what limits a
	 * bulk stream), refilling from the handler as the queue drains. */
	for (int i = 0; i < INGRESS_WRITES_PER_TURN; i++) {
		if (buf_used(&c->wout)) {
			size_t n = buf_used(&c->wout);
			if (n > INGRESS_CHUNK)
				n = INGRESS_CHUNK;
			memcpy(scratch + LWS_PRE, buf_ptr(&c->wout), n);
			buf_consume(&c->wout, n);
			if (lws_write(wsi, scratch + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
				return -1;
		}
		if (c->ops && !c->hangup && buf_used(&c->wout) < INGRESS_CONN_OUT_MAX / 2)
			c->ops->writable(c->h);
		if (!buf_used(&c->wout) || c->hangup || lws_send_pipe_choked(wsi))
			break;
	}
	if (buf_used(&c->wout))
		lws_callback_on_writable(wsi);
	else if (c->hangup) {
		c->hangup = 2;
		lws_callback_on_writable(wsi);
	}
	return 0;
}

static int ingress_client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			     void *in, size_t len)
{
	struct hearthd *hd = lws_context_user(lws_get_context(wsi));
	/* The vhost's server SSL_CTX, once made (user is the SSL_CTX here). */
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
		if (!hd->cfg.tls_cert[0])
			certcache_attach(user);
		return 0;
	}
	struct ingress_conn **slot = user;
	struct ingress_conn *c = slot ? *slot : NULL;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (!slot || !(*slot = conn_new(hd, wsi)))
			return -1;
		/* The request head must come in time. */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, INGRESS_HEAD_S);
		return 0;
	case LWS_CALLBACK_RAW_RX: {
		if (!c)
			return -1;
		/* The read's requests (HTTP/2 streams, kept-alive HTTP/1.1)
		 * reach the agent in one send. */
		agentlink_cork(1);
		int rc = ingress_conn_rx(c, in, len);
		agentlink_cork(0);
		return rc;
	}
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c ? conn_writeable(c, wsi) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		if (c) {
			*slot = NULL;
			if (c->ops)
				c->ops->closed(c->h);
			conn_free(c);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols ingress_protocols[] = {
	{ INGRESS_CLIENT_PROTO, ingress_client_cb, sizeof(struct ingress_conn *), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int ingress_start(struct hearthd *hd, char *err, size_t errlen)
{
	static struct tlscert_paths tp;
	static char host[128];
	int port;
	const char *cert = hd->cfg.tls_cert, *key = hd->cfg.tls_key;
	if (httpd_parse_listen(hd->cfg.ingress_listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad --ingress-listen %s", hd->cfg.ingress_listen);
		return -1;
	}
	if (!cert[0] != !key[0]) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -1;
	}
	if (!cert[0]) {
		if (tlscert_ensure(hd->cfg.state_dir, &tp, err, errlen) < 0)
			return -1;
		cert = tp.cert;
		key = tp.key;
		/* Our own CA: a leaf per VM name (SNI), see certcache.h. */
		if (certcache_init(hd, &tp, err, errlen) < 0)
			return -1;
	}
	if (agentlink_init(hd, ingress_flush, err, errlen) < 0)
		return -1;
	shellhub_set_default_grace((unsigned)hd->cfg.shell_grace);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	/* hearthd listens (tlsfront.c) and hands this vhost every connection
	 * that does not ask for h2: lws's TLS, then raw bytes to us. */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.vhost_name = "ingress";
	info.protocols = ingress_protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.alpn = "http/1.1";
	/* TLS by lws, then raw bytes to us: we speak HTTP/WebSocket ourselves
	 * (see protocol/wsproto.h for why). lws reads the TLS switch from each
	 * vhost's own options. */
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = INGRESS_CLIENT_PROTO;
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
		       LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL);
	struct lws_vhost *vh = lws_create_vhost(hd->lws, &info);
	if (!vh) {
		snprintf(err, errlen, "cannot serve %s with certificate %s", hd->cfg.ingress_listen,
			 cert);
		return -1;
	}
	return tlsfront_start(hd, host, port, cert, key, !hd->cfg.tls_cert[0], vh,
			      INGRESS_CLIENT_PROTO, err, errlen);
}

void ingress_vm_of(struct hearthd *hd, const struct wsp_request *r, char *id, size_t idlen)
{
	request_vm_id(hd, r, id, idlen); /* by Host, else by the token (connect by address) */
}
