/*
 * buildcache.c - step cache keys and entries (see buildcache.h).
 */
#include "session/buildcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "session/fsutil.h"
#include "vmm/snapfile.h"

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

/* A snapshot is complete once the engine wrote its manifest (qemu's, or the
 * host engine's), which it does last. */
static int entry_complete(const char *dir)
{
	return fsutil_exists(dir, "manifest.json") || fsutil_exists(dir, "host.json");
}

int buildcache_has(const char *state_dir, const char *key)
{
	char d[4096];
	if (!key[0])
		return 0;
	buildcache_dir(state_dir, key, d, sizeof d);
	return entry_complete(d);
}

void buildcache_touch(const char *state_dir, const char *key)
{
	char d[PATH_MAX];
	if (!key[0])
		return;
	buildcache_dir(state_dir, key, d, sizeof d);
	utimensat(AT_FDCWD, d, NULL, 0);
}

struct entry {
	char key[BUILDCACHE_KEY];
	uint64_t bytes;
	int64_t used_ns;
	int parent;   /* index of the entry this one's disk backs onto, -1 none */
	int children; /* entries backing onto this one */
	int complete, gone;
};

static int is_key(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == BUILDCACHE_KEY - 1 && s[n] == '\0';
}

/* Bytes that removing dir frees: its files with a single link. */
static uint64_t dir_bytes(const char *dir)
{
	uint64_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_nlink == 1)
			n += (uint64_t)st.st_blocks * 512;
	closedir(d);
	return n;
}

/* The key of the cache entry a disk backing path names, or "". */
static void backing_key(const char *backing, char key[BUILDCACHE_KEY])
{
	const char *p = strstr(backing, "/buildcache/");
	key[0] = '\0';
	if (!p)
		return;
	p += strlen("/buildcache/");
	if (strlen(p) < BUILDCACHE_KEY || p[BUILDCACHE_KEY - 1] != '/')
		return;
	memcpy(key, p, BUILDCACHE_KEY - 1);
	key[BUILDCACHE_KEY - 1] = '\0';
	if (!is_key(key))
		key[0] = '\0';
}

static int list_entries(const char *root, struct entry **out, unsigned *n, char *err,
			size_t errlen)
{
	DIR *d = opendir(root);
	struct dirent *e;
	struct entry *v = NULL;
	unsigned cap = 0;
	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (!is_key(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (*n == cap) {
			unsigned nc = cap ? cap * 2 : 64;
			struct entry *nv = realloc(v, nc * sizeof *v);
			if (!nv) {
				closedir(d);
				free(v);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			v = nv;
			cap = nc;
		}
		struct entry *x = &v[(*n)++];
		memset(x, 0, sizeof *x);
		memcpy(x->key, e->d_name, BUILDCACHE_KEY); /* is_key: 64 hex + NUL */
		x->used_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		x->parent = -1;
	}
	closedir(d);
	*out = v;
	return 0;
}

/* Fill sizes, completeness and the backing links. */
static int link_entries(const char *root, struct entry *v, unsigned n, char *err, size_t errlen)
{
	struct snap_manifest *m = malloc(sizeof *m);
	char dir[PATH_MAX], pk[BUILDCACHE_KEY], merr[256];
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		fsutil_pathf(dir, sizeof dir, "%s/%s", root, v[i].key);
		v[i].bytes = dir_bytes(dir);
		v[i].complete = entry_complete(dir);
		if (!fsutil_exists(dir, "manifest.json") ||
		    snapfile_read(dir, m, merr, sizeof merr) < 0 || !m->has_disk)
			continue;
		backing_key(m->disk_backing, pk);
		for (unsigned j = 0; pk[0] && j < n; j++)
			if (j != i && !strcmp(v[j].key, pk)) {
				v[i].parent = (int)j;
				v[j].children++;
				break;
			}
	}
	free(m);
	return 0;
}

/* The least recently used entry nothing backs onto (incomplete ones first),
 * not used since keep_ns, or -1. */
static int pick(const struct entry *v, unsigned n, int64_t keep_ns)
{
	int best = -1;
	for (unsigned i = 0; i < n; i++) {
		if (v[i].gone || v[i].children || v[i].used_ns >= keep_ns)
			continue;
		if (best < 0 || v[i].complete < v[best].complete ||
		    (v[i].complete == v[best].complete && v[i].used_ns < v[best].used_ns))
			best = (int)i;
	}
	return best;
}

int buildcache_evict(const char *state_dir, uint64_t max_bytes, int64_t keep_ns,
		     struct buildcache_stats *st, char *err, size_t errlen)
{
	char root[PATH_MAX], dir[PATH_MAX];
	struct entry *v = NULL;
	unsigned n = 0;
	memset(st, 0, sizeof *st);
	fsutil_pathf(root, sizeof root, "%s/buildcache", state_dir);
	if (list_entries(root, &v, &n, err, errlen) < 0)
		return -1;
	if (link_entries(root, v, n, err, errlen) < 0) {
		free(v);
		return -1;
	}
	st->entries = n;
	for (unsigned i = 0; i < n; i++)
		st->bytes += v[i].bytes;
	uint64_t held = st->bytes;
	for (;;) {
		int i = pick(v, n, keep_ns);
		if (i < 0 || (v[i].complete && held <= max_bytes))
			break;
		fsutil_pathf(dir, sizeof dir, "%s/%s", root, v[i].key);
		fsutil_rm_rf(dir);
		v[i].gone = 1;
		held -= v[i].bytes;
		st->freed += v[i].bytes;
		st->evicted++;
		if (v[i].parent >= 0)
			v[v[i].parent].children--;
	}
	free(v);
	return 0;
}
