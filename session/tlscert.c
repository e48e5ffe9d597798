/* tlscert.c - a local CA and the ingress certificate; see tlscert.h. */
#include "session/tlscert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLSCERT_CA_DAYS 3650
#define TLSCERT_SAN "DNS:localhost,DNS:*.localhost,IP:127.0.0.1,IP:::1"

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "tls: %s", what);
	return -1;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -1;
	int ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static X509_NAME *make_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	if (n && (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"hearth",
					       -1, -1, 0) ||
		  !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					      -1, 0))) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* A certificate for key, named cn with the names san (a leaf), signed by
 * (issuer, ikey) or self-signed, valid secs from an hour ago. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		       EVP_PKEY *ikey, int ca, long secs)
{
	X509 *x = X509_new();
	X509_NAME *name = make_name(cn);
	BIGNUM *serial = BN_new();
	int ok = x && name && serial && X509_set_version(x, 2) &&
		 BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
		 X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
		 X509_gmtime_adj(X509_getm_notAfter(x), secs) && X509_set_pubkey(x, key) &&
		 X509_set_subject_name(x, name) &&
		 X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509 *signer = issuer ? issuer : x;
	if (ok && ca)
		ok = add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
		     add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
	else if (ok)
		ok = add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
		     add_ext(x, signer, NID_key_usage, "critical,digitalSignature") == 0 &&
		     add_ext(x, signer, NID_ext_key_usage, "serverAuth") == 0 &&
		     add_ext(x, signer, NID_subject_alt_name, san) == 0;
	if (ok)
		ok = add_ext(x, signer, NID_subject_key_identifier, "hash") == 0 &&
		     add_ext(x, signer, NID_authority_key_identifier, "keyid:always") == 0 &&
		     X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0;
	BN_free(serial);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Write a PEM file atomically (temp + rename) with the given mode. */
static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* The CA: loaded when present, else made and written. */
static int load_or_make_ca(const struct tlscert_paths *p, X509 **ca, EVP_PKEY **cakey)
{
	if (exists(p->ca_cert) && exists(p->ca_key)) {
		*ca = read_cert(p->ca_cert);
		*cakey = read_key(p->ca_key);
		return *ca && *cakey ? 0 : -1;
	}
	*cakey = EVP_EC_gen("P-256");
	*ca = *cakey ? make_cert(*cakey, "hearth local CA", NULL, NULL, NULL, 1, TLSCERT_CA_DAYS * 86400L) : NULL;
	if (!*ca || write_pem(p->ca_key, 0600, NULL, *cakey) < 0 ||
	    write_pem(p->ca_cert, 0644, *ca, NULL) < 0)
		return -1;
	return 0;
}

int tlscert_load_ca(const struct tlscert_paths *p, X509 **ca, EVP_PKEY **cakey)
{
	*ca = read_cert(p->ca_cert);
	*cakey = read_key(p->ca_key);
	if (*ca && *cakey && X509_check_private_key(*ca, *cakey) == 1)
		return 0;
	X509_free(*ca);
	EVP_PKEY_free(*cakey);
	*ca = NULL;
	*cakey = NULL;
	return -1;
}

int tlscert_mint(X509 *ca, EVP_PKEY *cakey, const char *name, long secs, X509 **cert,
		 EVP_PKEY **key)
{
	char san[300];
	if ((size_t)snprintf(san, sizeof san, "DNS:%s", name) >= sizeof san)
		return -1;
	/* P-256: a fresh key costs well under a millisecond, so one per leaf. */
	*key = EVP_EC_gen("P-256");
	/* The CN is informative only (clients match the SAN) and holds 64 bytes. */
	const char *cn = strlen(name) <= 64 ? name : "hearth microVM endpoint";
	*cert = *key ? make_cert(*key, cn, san, ca, cakey, 0, secs) : NULL;
	if (*cert)
		return 0;
	EVP_PKEY_free(*key);
	*key = NULL;
	return -1;
}

int tlscert_ensure(const char *state_dir, struct tlscert_paths *p, char *err, size_t errlen)
{
	if (strlen(state_dir) + 5 >= sizeof p->dir)
		return fail(err, errlen, "state directory path is too long");
	snprintf(p->dir, sizeof p->dir, "%s/tls", state_dir);
	snprintf(p->ca_cert, sizeof p->ca_cert, "%s/ca.pem", p->dir);
	snprintf(p->ca_key, sizeof p->ca_key, "%s/ca.key", p->dir);
	snprintf(p->cert, sizeof p->cert, "%s/server.pem", p->dir);
	snprintf(p->key, sizeof p->key, "%s/server.key", p->dir);
	if (mkdir(p->dir, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, "cannot create the tls directory");
	if (exists(p->cert) && exists(p->key))
		return 0;
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	int rc = -1;
	if (load_or_make_ca(p, &ca, &cakey) < 0) {
		fail(err, errlen, "cannot load or create the local CA");
		goto out;
	}
	key = EVP_EC_gen("P-256");
	cert = key ? make_cert(key, "localhost", TLSCERT_SAN, ca, cakey, 0, TLSCERT_DAYS * 86400L)
		   : NULL;
	if (!cert) {
		fail(err, errlen, "cannot create the server certificate");
		goto out;
	}
	/* Key first: a certificate without its key would be kept as "present". */
	if (write_pem(p->key, 0600, NULL, key) < 0 || write_pem(p->cert, 0644, cert, NULL) < 0) {
		unlink(p->key);
		fail(err, errlen, "cannot write the server certificate");
		goto out;
	}
	rc = 0;
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return rc;
}
