/*
 * upstls.c - a TLS client towards the application over an agent tcp
 * channel's bytes, and the probe that decides it; see upstls.h.
 */
#include "session/upstls.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/tlssniff.h"
#include "protocol/token.h"
#include "session/agentlink.h"
#include "session/hearthd.h"

struct upstls {
	char vm_id[TOKEN_MAX_ID + 1];
	unsigned port;
	SSL *ssl;
	BIO *rb, *wb;   /* network side: from / to the agent channel (the SSL owns them) */
	uint8_t *first; /* plaintext for right after the handshake */
	size_t firstlen;
	int established;
	const char *why;
	const struct upstls_cfg *cfg;
	void *owner;
	lws_sorted_usec_list_t sul; /* the handshake's deadline */
};

/* One context per ALPN list the callers use (a handful). */
static SSL_CTX *ctx_for(const char *alpn)
{
	static struct {
		const char *alpn;
		SSL_CTX *ctx;
	} ctxs[4];
	size_t i;
	for (i = 0; i < sizeof ctxs / sizeof ctxs[0] && ctxs[i].ctx; i++)
		if (ctxs[i].alpn == alpn || (alpn && ctxs[i].alpn && !strcmp(ctxs[i].alpn, alpn)))
			return ctxs[i].ctx;
	if (i == sizeof ctxs / sizeof ctxs[0])
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	/* No verification: the app's certificate is the guest's own. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (alpn && SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn,
					    (unsigned)strlen(alpn))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	ctxs[i].alpn = alpn;
	ctxs[i].ctx = ctx;
	return ctx;
}

static void remember(const char *vm_id, unsigned port);
static void forget(const char *vm_id, unsigned port);

static void expired(lws_sorted_usec_list_t *sul)
{
	struct upstls *t = lws_container_of(sul, struct upstls, sul);
	if (t->established)
		return;
	if (!t->why)
		t->why = "no TLS handshake with the application within 10 s";
	t->cfg->expired(t->owner); /* frees t */
}

struct upstls *upstls_new(struct hearthd *hd, const char *vm_id, unsigned port,
			  const struct upstls_cfg *cfg, void *owner, const void *first,
			  size_t firstlen, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_for(cfg->alpn);
	struct upstls *t = calloc(1, sizeof *t);
	if (!ctx || !t || strlen(vm_id) > TOKEN_MAX_ID ||
	    (firstlen && !(t->first = malloc(firstlen)))) {
		free(t);
		snprintf(err, errlen, "cannot start TLS towards the application");
		return NULL;
	}
	t->ssl = SSL_new(ctx);
	t->rb = BIO_new(BIO_s_mem());
	t->wb = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rb || !t->wb) {
		BIO_free(t->rb);
		BIO_free(t->wb);
		SSL_free(t->ssl);
		free(t->first);
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	SSL_set_bio(t->ssl, t->rb, t->wb);
	SSL_set_connect_state(t->ssl);
	if (cfg->sni)
		SSL_set_tlsext_host_name(t->ssl, cfg->sni);
	if (firstlen)
		memcpy(t->first, first, firstlen);
	t->firstlen = firstlen;
	strcpy(t->vm_id, vm_id);
	t->port = port;
	t->cfg = cfg;
	t->owner = owner;
	lws_sul_schedule(hd->lws, 0, &t->sul, expired, UPSTLS_HANDSHAKE_MS * LWS_US_PER_MS);
	return t;
}

void upstls_free(struct upstls *t)
{
	if (!t)
		return;
	if (!t->established)
		forget(t->vm_id, t->port);
	lws_sul_cancel(&t->sul);
	SSL_free(t->ssl);
	free(t->first);
	free(t);
}

const char *upstls_error(const struct upstls *t)
{
	return t->why ? t->why : "TLS to the application failed";
}

int upstls_established(const struct upstls *t)
{
	return t->established;
}

/* Ciphertext for the app, within ch's room; 1 when none waits. */
static int drain(struct upstls *t, struct agentlink_chan *ch)
{
	uint8_t tmp[16384];
	while (BIO_ctrl_pending(t->wb)) {
		size_t room = ch ? agentlink_send_room(ch) : 0;
		if (room > sizeof tmp)
			room = sizeof tmp;
		if (!room)
			return 0;
		int n = BIO_read(t->wb, tmp, (int)room);
		if (n <= 0 || agentlink_data(ch, tmp, (size_t)n) < 0)
			return 0; /* cannot happen within the room */
	}
	return 1;
}

static int fail(struct upstls *t, const char *why)
{
	if (!t->why)
		t->why = why;
	return -1;
}

/* 1 established, 0 the handshake goes on, -1 failed. */
static int handshake(struct upstls *t, struct agentlink_chan *ch)
{
	if (t->why)
		return -1;
	if (t->established)
		return 1;
	int r = SSL_do_handshake(t->ssl);
	if (r != 1) {
		int e = SSL_get_error(t->ssl, r);
		ERR_clear_error();
		drain(t, ch);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return fail(t, "the TLS handshake with the application failed");
	}
	t->established = 1;
	lws_sul_cancel(&t->sul);
	remember(t->vm_id, t->port);
	if (t->firstlen && SSL_write(t->ssl, t->first, (int)t->firstlen) != (int)t->firstlen)
		return fail(t, "TLS to the application failed");
	free(t->first);
	t->first = NULL;
	t->firstlen = 0;
	drain(t, ch);
	return 1;
}

int upstls_feed(struct upstls *t, const uint8_t *p, size_t n)
{
	if (n > (size_t)INT32_MAX || BIO_write(t->rb, p, (int)n) != (int)n)
		return fail(t, "out of memory");
	return 0;
}

long upstls_read(struct upstls *t, struct agentlink_chan *ch, uint8_t *b, size_t cap)
{
	size_t before = BIO_ctrl_pending(t->rb);
	long rc;
	int h = handshake(t, ch);
	if (h <= 0)
		rc = h;
	else if (!cap)
		rc = 0;
	else {
		int k = SSL_read(t->ssl, b, cap > INT32_MAX ? INT32_MAX : (int)cap);
		if (k > 0)
			rc = k;
		else {
			int e = SSL_get_error(t->ssl, k);
			ERR_clear_error();
			rc = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0
			     : e == SSL_ERROR_ZERO_RETURN ? UPSTLS_CLOSED
							  : fail(t, "TLS from the application failed");
		}
	}
	size_t used = before - BIO_ctrl_pending(t->rb);
	if (used && ch)
		agentlink_window(ch, (uint32_t)used);
	drain(t, ch); /* handshake messages, key updates */
	return rc;
}

long upstls_room(struct upstls *t, struct agentlink_chan *ch)
{
	int h = handshake(t, ch);
	if (h <= 0)
		return h;
	drain(t, ch);
	size_t pend = BIO_ctrl_pending(t->wb);
	return pend < UPSTLS_OUT_MAX ? (long)(UPSTLS_OUT_MAX - pend) : 0;
}

int upstls_write(struct upstls *t, struct agentlink_chan *ch, const void *p, size_t n)
{
	if (!t->established || t->why)
		return -1;
	/* A memory BIO takes a whole write. */
	if (n && (n > (size_t)INT32_MAX || SSL_write(t->ssl, p, (int)n) != (int)n)) {
		ERR_clear_error();
		return fail(t, "TLS to the application failed");
	}
	drain(t, ch);
	return 0;
}

/* ---- the probe ---- */

void upstls_probe_start(struct upstls_probe *pr)
{
	upstls_probe_end(pr);
	pr->on = 1;
}

void upstls_probe_sent(struct upstls_probe *pr, const void *p, size_t n)
{
	if (!pr->on || pr->over || !n)
		return;
	uint8_t *r = pr->len + n <= UPSTLS_REPLAY_MAX ? realloc(pr->p, pr->len + n) : NULL;
	if (!r) {
		pr->over = 1;
		free(pr->p);
		pr->p = NULL;
		pr->len = 0;
		return;
	}
	memcpy(r + pr->len, p, n);
	pr->p = r;
	pr->len += n;
}

void upstls_probe_end(struct upstls_probe *pr)
{
	free(pr->p);
	pr->p = NULL;
	pr->len = 0;
	pr->on = 0;
	pr->over = 0;
}

int upstls_looks_tls(const uint8_t *p, size_t n)
{
	return tlssniff_answer(p, n) == TLSSNIFF_TLS;
}

/* ---- which (VM, port) speaks TLS ---- */

static struct {
	char vm_id[TOKEN_MAX_ID + 1];
	unsigned port;
	uint64_t used; /* last use, for replacing the oldest */
} known[UPSTLS_REMEMBER];
static uint64_t known_clock;

static int known_find(const char *vm_id, unsigned port)
{
	for (int i = 0; i < UPSTLS_REMEMBER; i++)
		if (known[i].port == port && known[i].vm_id[0] && !strcmp(known[i].vm_id, vm_id))
			return i;
	return -1;
}

int upstls_known(const char *vm_id, unsigned port)
{
	int i = known_find(vm_id, port);
	if (i >= 0)
		known[i].used = ++known_clock;
	return i >= 0;
}

static void remember(const char *vm_id, unsigned port)
{
	if (upstls_known(vm_id, port))
		return;
	int old = 0;
	for (int i = 1; i < UPSTLS_REMEMBER; i++)
		if (known[i].used < known[old].used)
			old = i;
	strcpy(known[old].vm_id, vm_id);
	known[old].port = port;
	known[old].used = ++known_clock;
}

static void forget(const char *vm_id, unsigned port)
{
	int i = known_find(vm_id, port);
	if (i >= 0)
		memset(&known[i], 0, sizeof known[i]);
}

void upstls_forget_vm(const char *vm_id)
{
	for (int i = 0; i < UPSTLS_REMEMBER; i++)
		if (known[i].vm_id[0] && !strcmp(known[i].vm_id, vm_id))
			memset(&known[i], 0, sizeof known[i]);
}
