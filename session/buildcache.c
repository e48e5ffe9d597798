/*
 * buildcache.c - step cache keys and entries (see buildcache.h).
 */
#include "session/buildcache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "session/buildvm.h"
#include "session/fsutil.h"

void buildcache_key(const char *prev, const void *data, size_t len, char key[BUILDCACHE_KEY])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	key[0] = '\0';
	if (!c)
		return;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, prev, strlen(prev)) == 1 && EVP_DigestUpdate(c, "\n", 1) == 1 &&
	    EVP_DigestUpdate(c, data, len) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1 &&
	    mdlen == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(key + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(c);
}

void buildcache_dir(const char *state_dir, const char *key, char *out, size_t n)
{
	fsutil_pathf(out, n, "%s/buildcache/%s", state_dir, key);
}

int buildcache_has(const char *state_dir, const char *key)
{
	char d[4096];
	if (!key[0])
		return 0;
	buildcache_dir(state_dir, key, d, sizeof d);
	return buildvm_snapshot_complete(d);
}
