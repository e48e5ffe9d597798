/* identity.c - per-VM ES256 identity tokens, their keys and delivery; see identity.h. */
#include "session/identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "protocol/api_ident.h"
#include "protocol/mux.h"
#include "protocol/tarhdr.h"
#include "session/agentlink.h"

#define ID_KEYS_MAX 8

/* snprintf for paths and names whose truncation the caller checks (or cannot happen). */
static int fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int r = vsnprintf(out, n, f, ap);
	va_end(ap);
	return r >= 0 && (size_t)r < n ? 0 : -1;
}
#define ID_DELIVER_WINDOW (64u * 1024)

struct id_key {
	EVP_PKEY *pkey;
	char kid[24];
	char x[48], y[48]; /* base64url coordinates */
	int64_t mtime;
};

static struct {
	int loaded;
	struct id_key keys[ID_KEYS_MAX];
	int nkeys, signer; /* keys[signer] signs: the newest */
} ids;

static void b64url(const uint8_t *p, size_t n, char *out, size_t cap)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = t[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = '\0';
}

/* Fill the key's public coordinates and kid (the thumbprint's prefix). */
static int key_describe(struct id_key *k)
{
	BIGNUM *x = NULL, *y = NULL;
	uint8_t xb[32], yb[32], xy[64], h[32];
	unsigned hl = 0;
	int rc = -1;
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
	    BN_bn2binpad(x, xb, 32) == 32 && BN_bn2binpad(y, yb, 32) == 32) {
		b64url(xb, 32, k->x, sizeof k->x);
		b64url(yb, 32, k->y, sizeof k->y);
		memcpy(xy, xb, 32);
		memcpy(xy + 32, yb, 32);
		if (EVP_Digest(xy, sizeof xy, h, &hl, EVP_sha256(), NULL) == 1) {
			char full[48];
			b64url(h, 12, full, sizeof full);
			full[16] = '\0'; /* 96 bits of the thumbprint */
			memcpy(k->kid, full, 17);
			rc = 0;
		}
	}
	BN_free(x);
	BN_free(y);
	return rc;
}

static int key_load(const char *path, struct id_key *k)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	if (!f)
		return -1;
	k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k->pkey || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_EC || key_describe(k) < 0) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		return -1;
	}
	k->mtime = stat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
	return 0;
}

/* A new P-256 key written 0600 into dir. */
static int key_create(const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	if (!pk)
		return -1;
	struct id_key k = { .pkey = pk };
	if (key_describe(&k) < 0) {
		EVP_PKEY_free(pk);
		return -1;
	}
	if (fmt(tmp, sizeof tmp, "%s/.new-%d", dir, (int)getpid()) < 0 ||
	    fmt(path, sizeof path, "%s/es256-%s.pem", dir, k.kid) < 0) {
		EVP_PKEY_free(pk);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok = f && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1;
	if (f)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	EVP_PKEY_free(pk);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Load the keys of <state>/identity once (creating one when there is none). */
static int keys_load(struct hearthd *hd)
{
	char dir[PATH_MAX];
	if (ids.loaded)
		return ids.nkeys > 0 ? 0 : -1;
	if (fmt(dir, sizeof dir, "%s/identity", hd->cfg.state_dir) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	for (int pass = 0; pass < 2 && ids.nkeys == 0; pass++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)) && ids.nkeys < ID_KEYS_MAX) {
			size_t n = strlen(de->d_name);
			char path[PATH_MAX];
			if (n < 5 || strcmp(de->d_name + n - 4, ".pem") || de->d_name[0] == '.')
				continue;
			if (fmt(path, sizeof path, "%s/%s", dir, de->d_name) < 0)
				continue;
			if (key_load(path, &ids.keys[ids.nkeys]) == 0) {
				if (ids.keys[ids.nkeys].mtime >= ids.keys[ids.signer].mtime)
					ids.signer = ids.nkeys;
				ids.nkeys++;
			}
		}
		if (d)
			closedir(d);
		if (ids.nkeys == 0 && (pass == 1 || key_create(dir) < 0))
			break;
	}
	ids.loaded = 1;
	return ids.nkeys > 0 ? 0 : -1;
}

static void issuer(struct hearthd *hd, char *out, size_t cap)
{
	snprintf(out, cap, "http://%s", hd->cfg.api_listen);
}

/* ES256 over msg: the raw r||s, base64url. */
static int sign(const char *msg, size_t n, char *out, size_t cap)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[128], rs[64];
	size_t dl = sizeof der;
	int rc = -1;
	if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ids.keys[ids.signer].pkey) == 1 &&
	    EVP_DigestSign(ctx, der, &dl, (const uint8_t *)msg, n) == 1) {
		const uint8_t *p = der;
		ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dl);
		const BIGNUM *r, *s;
		if (sig) {
			ECDSA_SIG_get0(sig, &r, &s);
			if (BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32) {
				b64url(rs, 64, out, cap);
				rc = 0;
			}
			ECDSA_SIG_free(sig);
		}
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

static char *b64url_json(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s), cap = n / 3 * 4 + 8;
	char *out = malloc(cap);
	if (out)
		b64url((const uint8_t *)s, n, out, cap);
	return out;
}

static int tag_add(const char *k, const char *v, void *ctx)
{
	json_object_object_add(ctx, k, json_object_new_string(v));
	return 0;
}

char *identity_mint(struct hearthd *hd, const struct store_vm *vm, const char *audience,
		    char *err, size_t errlen)
{
	if (keys_load(hd) < 0) {
		snprintf(err, errlen, "no identity key (%s/identity)", hd->cfg.state_dir);
		return NULL;
	}
	char iss[200], jti[33];
	uint8_t rnd[16];
	int64_t now = hd_now();
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return NULL;
	}
	/* The VM's tags (TagResource on its ARN) as one object claim. */
	char arn[512];
	json_object *tags = json_object_new_object();
	if (api_ident_microvm_arn(vm->id, arn, sizeof arn) < 0 ||
	    store_tag_list(hd->store, arn, tag_add, tags) < 0) {
		json_object_put(tags);
		snprintf(err, errlen, "the VM's tags could not be read");
		return NULL;
	}
	for (int i = 0; i < 16; i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	issuer(hd, iss, sizeof iss);
	json_object *h = json_object_new_object(), *c = json_object_new_object();
	json_object_object_add(h, "alg", json_object_new_string("ES256"));
	json_object_object_add(h, "typ", json_object_new_string("JWT"));
	json_object_object_add(h, "kid", json_object_new_string(ids.keys[ids.signer].kid));
	json_object_object_add(c, "iss", json_object_new_string(iss));
	json_object_object_add(c, "sub", json_object_new_string(vm->id));
	json_object_object_add(c, "aud", json_object_new_string(audience ? audience : IDENTITY_AUDIENCE));
	json_object_object_add(c, "iat", json_object_new_int64(now));
	json_object_object_add(c, "nbf", json_object_new_int64(now - 5));
	json_object_object_add(c, "exp", json_object_new_int64(now + hd->cfg.identity_ttl));
	json_object_object_add(c, "jti", json_object_new_string(jti));
	json_object_object_add(c, "microvm_id", json_object_new_string(vm->id));
	json_object_object_add(c, "image", json_object_new_string(vm->image));
	json_object_object_add(c, "image_version", json_object_new_string(vm->image_version));
	json_object_object_add(c, "run_generation", json_object_new_int64(vm->generation));
	json_object_object_add(c, "tags", tags);
	char *hb = b64url_json(h), *cb = b64url_json(c), *tok = NULL;
	json_object_put(h);
	json_object_put(c);
	if (hb && cb) {
		size_t n = strlen(hb) + 1 + strlen(cb);
		tok = malloc(n + 1 + 100);
		if (tok) {
			fmt(tok, n + 1, "%s.%s", hb, cb);
			tok[n] = '.';
			if (sign(tok, n, tok + n + 1, 100) < 0) {
				free(tok);
				tok = NULL;
				snprintf(err, errlen, "signing failed");
			}
		}
	}
	free(hb);
	free(cb);
	return tok;
}

json_object *identity_jwks(struct hearthd *hd)
{
	if (keys_load(hd) < 0)
		return NULL;
	json_object *o = json_object_new_object(), *keys = json_object_new_array();
	for (int i = 0; i < ids.nkeys; i++) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "kty", json_object_new_string("EC"));
		json_object_object_add(k, "crv", json_object_new_string("P-256"));
		json_object_object_add(k, "x", json_object_new_string(ids.keys[i].x));
		json_object_object_add(k, "y", json_object_new_string(ids.keys[i].y));
		json_object_object_add(k, "kid", json_object_new_string(ids.keys[i].kid));
		json_object_object_add(k, "use", json_object_new_string("sig"));
		json_object_object_add(k, "alg", json_object_new_string("ES256"));
		json_object_array_add(keys, k);
	}
	json_object_object_add(o, "keys", keys);
	return o;
}

json_object *identity_discovery(struct hearthd *hd)
{
	char iss[200], jwks[300];
	issuer(hd, iss, sizeof iss);
	snprintf(jwks, sizeof jwks, "%s%s", iss, IDENTITY_JWKS_PATH);
	json_object *o = json_object_new_object(), *a;
	json_object_object_add(o, "issuer", json_object_new_string(iss));
	json_object_object_add(o, "jwks_uri", json_object_new_string(jwks));
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("id_token"));
	json_object_object_add(o, "response_types_supported", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("public"));
	json_object_object_add(o, "subject_types_supported", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("ES256"));
	json_object_object_add(o, "id_token_signing_alg_values_supported", a);
	a = json_object_new_array();
	static const char *const claims[] = { "iss", "sub", "aud", "iat", "nbf", "exp", "jti",
					      "microvm_id", "image", "image_version",
					      "run_generation", "tags" };
	for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++)
		json_object_array_add(a, json_object_new_string(claims[i]));
	json_object_object_add(o, "claims_supported", a);
	return o;
}

int identity_public(const struct httpmsg_request *rq)
{
	return rq->method && rq->raw_path && !strcmp(rq->method, "GET") &&
	       (!strcmp(rq->raw_path, IDENTITY_JWKS_PATH) ||
		!strcmp(rq->raw_path, IDENTITY_DISCOVERY_PATH));
}

/* ---- delivery: a FILES PUT of hearth/identity.jwt into /run ---- */

struct id_put {
	struct hearthd *hd;
	struct agentlink_chan *ch;
	char vm[64];
	uint8_t *tar;
	size_t len, off;
	int eof_sent;
};

static void put_free(struct id_put *p)
{
	if (p->ch)
		agentlink_close(p->ch);
	if (p->tar)
		OPENSSL_cleanse(p->tar, p->len);
	free(p->tar);
	free(p);
}

static void put_send(struct id_put *p)
{
	size_t room = agentlink_send_room(p->ch);
	size_t n = p->len - p->off < room ? p->len - p->off : room;
	if (n && agentlink_data(p->ch, p->tar + p->off, n) == 0)
		p->off += n;
	if (p->off == p->len && !p->eof_sent && agentlink_eof(p->ch) == 0)
		p->eof_sent = 1;
}

static void put_frame(void *owner, const struct mux_frame *f)
{
	struct id_put *p = owner;
	struct mux_exit ex;
	struct mux_data d;
	struct mux_fail fl;
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		put_send(p);
		break;
	case MUX_DATA: /* stderr: the agent's reason */
		if (mux_decode_data(f, &d) == MUX_OK) {
			hd_log("%s: identity: %.*s", p->vm, (int)(d.len > 200 ? 200 : d.len),
			       (const char *)d.p);
			agentlink_window(p->ch, d.len);
		}
		break;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) == MUX_OK && (ex.how != MUX_EXIT_CODE || ex.value != 0)) {
			hd_log("%s: identity: the token could not be written", p->vm);
			identity_vm_delivered(p->hd, p->vm, 0);
		}
		break;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			hd_log("%s: identity: %.*s (an agent without FILES?)", p->vm,
			       (int)fl.msg.len, fl.msg.p);
		identity_vm_delivered(p->hd, p->vm, 0);
		/* fall through */
	case MUX_CLOSE:
		put_free(p);
		break;
	default:
		break;
	}
}

static void put_down(void *owner, const char *reason)
{
	struct id_put *p = owner;
	hd_log("%s: identity: not delivered: %s", p->vm, reason);
	identity_vm_delivered(p->hd, p->vm, 0);
	put_free(p);
}

static void put_writable(void *owner)
{
	put_send(owner);
}

static const struct agentlink_ops put_ops = { put_frame, put_down, put_writable };

void identity_vm_running(struct hearthd *hd, const struct store_vm *vm)
{
	char err[200];
	/* The host engine's "guest" is this machine: its /run is not the VM's. */
	if (!strcmp(hd->cfg.engine, "host"))
		return;
	char *tok = identity_mint(hd, vm, NULL, err, sizeof err);
	if (!tok) {
		hd_log("%s: identity: %s", vm->id, err);
		identity_vm_delivered(hd, vm->id, 0);
		return;
	}
	size_t tl = strlen(tok);
	struct id_put *p = calloc(1, sizeof *p);
	static struct tar_entry e;
	size_t cap = 2 * TARHDR_ENCODE_MAX + tl + 4 * TAR_BLOCK;
	if (!p || !(p->tar = calloc(1, cap))) {
		free(p);
		OPENSSL_cleanse(tok, tl);
		free(tok);
		return;
	}
	p->hd = hd;
	fmt(p->vm, sizeof p->vm, "%s", vm->id);
	memset(&e, 0, sizeof e);
	strcpy(e.path, "hearth");
	e.type = TAR_DIR;
	e.mode = 0755;
	e.mtime = hd_now();
	int n = tarhdr_encode(&e, p->tar, cap);
	strcpy(e.path, "hearth/identity.jwt");
	e.type = TAR_REG;
	e.mode = 0444;
	e.size = tl;
	int m = n > 0 ? tarhdr_encode(&e, p->tar + n, cap - (size_t)n) : -1;
	if (m < 0) {
		put_free(p);
		OPENSSL_cleanse(tok, tl);
		free(tok);
		return;
	}
	memcpy(p->tar + n + m, tok, tl);
	p->len = (size_t)n + (size_t)m + tl + tarhdr_pad(tl) + 2 * TAR_BLOCK; /* zeros from calloc */
	OPENSSL_cleanse(tok, tl);
	free(tok);
	static struct mux_open o;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	o.window = ID_DELIVER_WINDOW;
	o.want_stdin = 1;
	o.files_op = MUX_FILES_PUT;
	o.files_path = mux_cstr(IDENTITY_GUEST_DIR);
	/* Started; a failure reported later (or at once) overrides this. */
	identity_vm_delivered(hd, vm->id, 1);
	p->ch = agentlink_open(hd, vm->id, &o, &put_ops, p, err, sizeof err);
	if (!p->ch) {
		hd_log("%s: identity: %s", vm->id, err);
		identity_vm_delivered(hd, vm->id, 0);
		put_free(p);
	}
}
