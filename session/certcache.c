/* certcache.c - leaf certificates per VM name, by SNI; see certcache.h. */
#include "session/certcache.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/vmhost.h"
#include "session/store.h"
#include "session/tlscert.h"
#include "session/vmstate.h"

struct leaf {
	char id[VMHOST_ID_MAX + 1];
	X509 *cert;
	EVP_PKEY *key;
	int64_t expires;  /* epoch seconds */
	uint64_t used;    /* LRU stamp */
};

static struct {
	struct hearthd *hd;
	X509 *ca;
	EVP_PKEY *cakey;
	struct leaf leaves[CERTCACHE_MAX];
	size_t n;
	uint64_t clock;
} cc;

int certcache_init(struct hearthd *hd, const struct tlscert_paths *p, char *err, size_t errlen)
{
	cc.hd = hd;
	if (tlscert_load_ca(p, &cc.ca, &cc.cakey) < 0) {
		snprintf(err, errlen, "tls: cannot load the local CA to sign endpoint certificates");
		return -1;
	}
	return 0;
}

size_t certcache_count(void)
{
	return cc.n;
}

static void leaf_clear(struct leaf *l)
{
	X509_free(l->cert);
	EVP_PKEY_free(l->key);
	memset(l, 0, sizeof *l);
}

/* 1 when id names a VM that is not terminated. */
static int vm_exists(const char *id)
{
	struct store_vm *v = malloc(sizeof *v);
	int ok = v && store_vm_get(cc.hd->store, id, v) == 1 &&
		 vmstate_parse(v->state) != VS_TERMINATED;
	free(v);
	return ok;
}

/* The cached leaf for id, minted (or renewed) as needed; NULL for none. */
static struct leaf *leaf_for(const char *id)
{
	int64_t now = hd_now();
	struct leaf *l = NULL, *lru = &cc.leaves[0];
	for (size_t i = 0; i < cc.n; i++) {
		if (strcmp(cc.leaves[i].id, id) == 0)
			l = &cc.leaves[i];
		if (cc.leaves[i].used < lru->used)
			lru = &cc.leaves[i];
	}
	if (l && l->expires - now > CERTCACHE_RENEW_S) {
		l->used = ++cc.clock;
		return l;
	}
	/* Mint only for VMs that exist: the name comes from the client. */
	if (!vm_exists(id))
		return NULL;
	if (!l)
		l = cc.n < CERTCACHE_MAX ? &cc.leaves[cc.n++] : lru;
	leaf_clear(l);
	char name[VMHOST_ID_MAX + 2 + sizeof cc.hd->cfg.endpoint_domain];
	snprintf(name, sizeof name, "%s.%s", id, cc.hd->cfg.endpoint_domain);
	if (tlscert_mint(cc.ca, cc.cakey, name, CERTCACHE_LIFETIME_S, &l->cert, &l->key) < 0) {
		/* Keep the table dense: the last entry moves into the hole. */
		*l = cc.leaves[--cc.n];
		memset(&cc.leaves[cc.n], 0, sizeof cc.leaves[cc.n]);
		return NULL;
	}
	snprintf(l->id, sizeof l->id, "%s", id);
	l->expires = now + CERTCACHE_LIFETIME_S;
	l->used = ++cc.clock;
	return l;
}

/* OpenSSL's certificate callback: runs once the ClientHello (SNI included)
 * is read, before the server's certificate is chosen. 1 always: a name we
 * do not serve gets the default certificate, not a failed handshake. */
static int cert_cb(SSL *ssl, void *arg)
{
	(void)arg;
	const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char id[VMHOST_ID_MAX + 1];
	if (!sn || vmhost_parse(sn, strlen(sn), cc.hd->cfg.endpoint_domain, 0, id, sizeof id) < 0)
		return 1;
	struct leaf *l = leaf_for(id);
	if (l && SSL_use_cert_and_key(ssl, l->cert, l->key, NULL, 1) != 1)
		ERR_clear_error();
	return 1;
}

int certcache_attach(SSL_CTX *ctx)
{
	if (!cc.ca)
		return -1;
	SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
	return 0;
}
