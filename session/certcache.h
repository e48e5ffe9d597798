/*
 * certcache.h - per-VM server certificates for the ingress, chosen by SNI.
 *
 * A client that asks (SNI) for "<microvm-id>.<endpoint domain>" gets a leaf
 * certificate for exactly that name, signed by hearthd's CA (tlscert.h) and
 * minted on first use: a wildcard "*.localhost" sits directly under a
 * top-level label, which verifying clients refuse. Leaves are ECDSA P-256,
 * live CERTCACHE_LIFETIME_S and are minted again once less than
 * CERTCACHE_RENEW_S is left. Only names of VMs in the store get a leaf (an
 * attacker cannot make hearthd mint for names of its choosing), and at most
 * CERTCACHE_MAX are kept (least recently used goes); any other name, and a
 * client without SNI (by address), gets the vhost's default certificate.
 * Leaves and their keys live in memory only and are never logged.
 * Runs on hearthd's event-loop thread (the TLS handshake's).
 */
#ifndef HEARTH_CERTCACHE_H
#define HEARTH_CERTCACHE_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "session/hearthd.h"

#define CERTCACHE_LIFETIME_S (7 * 86400L)
#define CERTCACHE_RENEW_S (86400L)
#define CERTCACHE_MAX 256

struct tlscert_paths;

/* Load the CA that signs the leaves. 0, or -1 with err. */
int certcache_init(struct hearthd *hd, const struct tlscert_paths *p, char *err, size_t errlen);

/* Pick certificates by SNI on connections of ctx (a certificate callback;
 * whoever owns the server SSL_CTX calls this once). 0, or -1 before init. */
int certcache_attach(SSL_CTX *ctx);

/* Leaves held now (tests and diagnostics). */
size_t certcache_count(void);

#endif
