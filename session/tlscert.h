/*
 * tlscert.h - hearthd's own certificate authority and the ingress's default
 * server certificate (localhost, *.localhost, 127.0.0.1, ::1), made with
 * libcrypto at first start and kept in <state>/tls/ (keys mode 0600); and
 * short-lived leaves for one name signed by that CA (certcache.h keeps them).
 */
#ifndef HEARTH_TLSCERT_H
#define HEARTH_TLSCERT_H

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#define TLSCERT_DAYS 825 /* server certificate lifetime */

struct tlscert_paths {
	char dir[PATH_MAX];
	char ca_cert[PATH_MAX + 16]; /* give this to clients to trust */
	char ca_key[PATH_MAX + 16];
	char cert[PATH_MAX + 16];
	char key[PATH_MAX + 16];
};

/*
 * Fill paths under state_dir and create the CA and server certificate when
 * they do not exist yet (existing files are kept). 0, or -1 with err.
 */
int tlscert_ensure(const char *state_dir, struct tlscert_paths *p, char *err, size_t errlen);

/* Load the CA certificate and its key (the pair must match). 0, or -1. */
int tlscert_load_ca(const struct tlscert_paths *p, X509 **ca, EVP_PKEY **cakey);

/*
 * A fresh P-256 key and a server certificate for the DNS name `name` (the
 * caller has checked it: it goes into the subjectAltName as is), signed by
 * (ca, cakey), valid for secs from now. 0 with both (the caller frees), or -1.
 */
int tlscert_mint(X509 *ca, EVP_PKEY *cakey, const char *name, long secs, X509 **cert,
		 EVP_PKEY **key);

#endif
