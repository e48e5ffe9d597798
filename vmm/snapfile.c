/* snapfile.c - snapshot manifest and integrity checks. */
#include "vmm/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- XXH64, streaming over 32-byte stripes ---- */
#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t xround(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}
static inline uint64_t xmerge(uint64_t acc, uint64_t v)
{
	acc ^= xround(0, v);
	return acc * P1 + P4;
}

struct xxh {
	uint64_t v[4];
	uint64_t total;
	uint8_t tail[32];
	size_t ntail;
};

static void xxh_init(struct xxh *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = P1 + P2;
	s->v[1] = P2;
	s->v[2] = 0;
	s->v[3] = (uint64_t)0 - P1;
}

static void xxh_stripes(struct xxh *s, const uint8_t *p, size_t n)
{
	uint64_t v0 = s->v[0], v1 = s->v[1], v2 = s->v[2], v3 = s->v[3];
	for (; n >= 32; p += 32, n -= 32) {
		v0 = xround(v0, rd64(p));
		v1 = xround(v1, rd64(p + 8));
		v2 = xround(v2, rd64(p + 16));
		v3 = xround(v3, rd64(p + 24));
	}
	s->v[0] = v0, s->v[1] = v1, s->v[2] = v2, s->v[3] = v3;
}

static void xxh_update(struct xxh *s, const uint8_t *p, size_t n)
{
	s->total += n;
	if (s->ntail) {
		size_t k = 32 - s->ntail < n ? 32 - s->ntail : n;
		memcpy(s->tail + s->ntail, p, k);
		s->ntail += k, p += k, n -= k;
		if (s->ntail < 32)
			return;
		xxh_stripes(s, s->tail, 32);
		s->ntail = 0;
	}
	size_t whole = n & ~(size_t)31;
	xxh_stripes(s, p, whole);
	memcpy(s->tail, p + whole, n - whole);
	s->ntail = n - whole;
}

static uint64_t xxh_final(const struct xxh *s)
{
	uint64_t h;
	if (s->total >= 32) {
		h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = xmerge(h, s->v[i]);
	} else {
		h = P5;
	}
	h += s->total;
	const uint8_t *p = s->tail;
	size_t n = s->ntail;
	for (; n >= 8; p += 8, n -= 8) {
		h ^= xround(0, rd64(p));
		h = rotl64(h, 27) * P1 + P4;
	}
	if (n >= 4) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl64(h, 23) * P2 + P3;
		p += 4, n -= 4;
	}
	for (; n; p++, n--) {
		h ^= (uint64_t)*p * P5;
		h = rotl64(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t snapfile_xxh64(const void *p, size_t n)
{
	struct xxh s;
	xxh_init(&s);
	xxh_update(&s, p, n);
	return xxh_final(&s);
}

int snapfile_hash_fd(int fd, uint64_t *size, uint64_t *hash, char *err, size_t errlen)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *b = malloc(CHUNK);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct xxh s;
	xxh_init(&s);
	off_t off = 0;
	for (;;) {
		ssize_t r = pread(fd, b, CHUNK, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		xxh_update(&s, b, (size_t)r);
		off += r;
	}
	free(b);
	*size = (uint64_t)off;
	*hash = xxh_final(&s);
	return 0;
}

/* ---- manifest ---- */

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v && *v ? json_object_new_string(v) : json_object_new_null());
}

static struct json_object *file_obj(const char *name, uint64_t size, uint64_t hash)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016" PRIx64, hash);
	struct json_object *f = json_object_new_object();
	json_object_object_add(f, "file", json_object_new_string(name));
	json_object_object_add(f, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(f, "xxh64", json_object_new_string(hex));
	return f;
}

int snapfile_write(const char *dir, const struct snap_manifest *m, char *err, size_t errlen)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_string(SNAP_FORMAT));
	int v2 = m->version == SNAP_VERSION;
	json_object_object_add(o, "version", json_object_new_int(v2 ? SNAP_VERSION : SNAP_VERSION_EAGER));
	add_str(o, "engine", m->engine);
	add_str(o, "accel", m->accel);
	add_str(o, "kernel", m->kernel);
	add_str(o, "initrd", m->initrd);
	add_str(o, "base_disk", m->base_disk);
	add_str(o, "cmdline", m->cmdline);
	json_object_object_add(o, "memoryMiB", json_object_new_int64(m->mem_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64(m->vcpus));
	json_object_object_add(o, "net", json_object_new_boolean(m->net != 0));
	if (m->net) /* which backend: a restore with another one is refused */
		add_str(o, "netBackend", m->net == 2 ? "tap" : "user");
	json_object_object_add(o, "direct", json_object_new_boolean(m->direct));
	if (v2) {
		/* Raw RAM, mapped on restore: no hash (see snapfile_verify). */
		struct json_object *mo = json_object_new_object();
		json_object_object_add(mo, "file", json_object_new_string(SNAP_MEMORY));
		json_object_object_add(mo, "size", json_object_new_int64((int64_t)m->mem_size));
		json_object_object_add(mo, "layout", json_object_new_string("raw"));
		if (m->mem_base[0]) {
			json_object_object_add(mo, "base", json_object_new_string(m->mem_base));
			json_object_object_add(mo, "baseState", file_obj(SNAP_STATE, m->base_state_size,
									  m->base_state_hash));
		}
		if (m->has_delta)
			json_object_object_add(mo, "delta",
					       file_obj(SNAP_DELTA, m->delta_size, m->delta_hash));
		json_object_object_add(o, "memory", mo);
		json_object_object_add(o, "kind",
				       json_object_new_string(m->consumable ? "suspend" : "snapshot"));
		json_object_object_add(o, "state", file_obj(SNAP_STATE, m->state_size, m->state_hash));
	} else {
		json_object_object_add(o, "memory", file_obj(SNAP_MEMORY, m->mem_size, m->mem_hash));
	}
	if (m->has_disk) {
		struct json_object *d = file_obj(SNAP_DISK, m->disk_size, m->disk_hash);
		add_str(d, "backing", m->disk_backing);
		if (m->disk_depth)
			json_object_object_add(d, "depth", json_object_new_int64(m->disk_depth));
		json_object_object_add(o, "disk", d);
	} else {
		json_object_object_add(o, "disk", json_object_new_null());
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	char tmp[PATH_MAX], fin[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, SNAP_MANIFEST);
	snprintf(fin, sizeof(fin), "%s/%s", dir, SNAP_MANIFEST);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	size_t n = strlen(s);
	ssize_t w = write(fd, s, n);
	if (w != (ssize_t)n || write(fd, "\n", 1) != 1) {
		snprintf(err, errlen, "%s: short write", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, fin) < 0) {
		snprintf(err, errlen, "%s: %s", fin, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable once the directory is synced. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		unlink(fin);
		goto out;
	}
	close(dfd);
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

static int get_str(struct json_object *o, const char *k, char *dst, size_t cap, int required,
		   char *err, size_t errlen)
{
	struct json_object *v = NULL;
	dst[0] = 0;
	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "snapshot manifest: missing \"%s\"", k);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= cap) {
		snprintf(err, errlen, "snapshot manifest: bad \"%s\"", k);
		return -1;
	}
	memcpy(dst, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	if (strlen(dst) != (size_t)json_object_get_string_len(v)) {
		snprintf(err, errlen, "snapshot manifest: NUL in \"%s\"", k);
		return -1;
	}
	return 0;
}

static int get_uint(struct json_object *o, const char *k, uint64_t max, uint64_t *out, char *err,
		    size_t errlen)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "snapshot manifest: missing or bad \"%s\"", k);
		return -1;
	}
	int64_t x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max) {
		snprintf(err, errlen, "snapshot manifest: \"%s\" out of range", k);
		return -1;
	}
	*out = (uint64_t)x;
	return 0;
}

static int get_file(struct json_object *o, const char *name, uint64_t *size, uint64_t *hash,
		    char *err, size_t errlen)
{
	char fname[64], hex[32];
	uint64_t sz;
	if (get_str(o, "file", fname, sizeof(fname), 1, err, errlen) < 0 ||
	    get_uint(o, "size", INT64_MAX, &sz, err, errlen) < 0 ||
	    get_str(o, "xxh64", hex, sizeof(hex), 1, err, errlen) < 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long h = strtoull(hex, &end, 16);
	if (strcmp(fname, name) != 0 || strlen(hex) != 16 || *end || errno) {
		snprintf(err, errlen, "snapshot manifest: bad entry for %s", name);
		return -1;
	}
	*size = sz;
	*hash = h;
	return 0;
}

/* A version 2 memory entry: raw RAM of exactly the guest's memory size. */
static int get_file(struct json_object *o, const char *name, uint64_t *size, uint64_t *hash,
		    char *err, size_t errlen);

static int get_raw(struct json_object *o, uint64_t mem_mib, struct snap_manifest *m, char *err,
		   size_t errlen)
{
	uint64_t *size = &m->mem_size;
	struct json_object *d;
	if (json_object_object_get_ex(o, "delta", &d) && !json_object_is_type(d, json_type_null)) {
		if (!json_object_is_type(d, json_type_object) ||
		    get_file(d, SNAP_DELTA, &m->delta_size, &m->delta_hash, err, errlen) < 0) {
			if (!err[0])
				snprintf(err, errlen, "snapshot manifest: bad \"delta\"");
			return -1;
		}
		m->has_delta = 1;
	}
	/* Another snapshot's memory under this delta: an absolute, clean path. */
	if (get_str(o, "base", m->mem_base, sizeof(m->mem_base), 0, err, errlen) < 0)
		return -1;
	size_t bl = strlen(m->mem_base);
	if (bl && (m->mem_base[0] != '/' || strstr(m->mem_base, "/../") ||
		   (bl >= 3 && !strcmp(m->mem_base + bl - 3, "/..")) || !m->has_delta ||
		   strpbrk(m->mem_base, "\n\r\t"))) {
		snprintf(err, errlen, "snapshot manifest: bad \"base\"");
		m->mem_base[0] = 0;
		return -1;
	}
	struct json_object *bs;
	if (bl && (!json_object_object_get_ex(o, "baseState", &bs) ||
		   !json_object_is_type(bs, json_type_object) ||
		   get_file(bs, SNAP_STATE, &m->base_state_size, &m->base_state_hash, err, errlen) < 0)) {
		snprintf(err, errlen, "snapshot manifest: bad \"baseState\" for the base");
		m->mem_base[0] = 0;
		return -1;
	}
	char fname[64], layout[16];
	uint64_t sz;
	if (get_str(o, "file", fname, sizeof(fname), 1, err, errlen) < 0 ||
	    get_uint(o, "size", INT64_MAX, &sz, err, errlen) < 0 ||
	    get_str(o, "layout", layout, sizeof(layout), 1, err, errlen) < 0)
		return -1;
	if (strcmp(fname, SNAP_MEMORY) != 0 || strcmp(layout, "raw") != 0 ||
	    sz != mem_mib * 1024 * 1024) {
		snprintf(err, errlen, "snapshot manifest: bad entry for %s", SNAP_MEMORY);
		return -1;
	}
	*size = sz;
	return 0;
}

int snapfile_parse(const char *text, size_t len, struct snap_manifest *m, char *err,
		   size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (len > SNAP_MAX_MANIFEST) {
		snprintf(err, errlen, "snapshot manifest too large");
		return -1;
	}
	struct json_tokener *tok = json_tokener_new_ex(8);
	struct json_object *o = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	int ok = tok && o && json_tokener_get_error(tok) == json_tokener_success;
	if (tok)
		json_tokener_free(tok);
	if (!ok || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(err, errlen, "snapshot manifest is not valid JSON (truncated or corrupt)");
		return -1;
	}
	int rc = -1;
	char fmt[32];
	uint64_t ver, mem, vcpus;
	struct json_object *v;
	if (get_str(o, "format", fmt, sizeof(fmt), 1, err, errlen) < 0)
		goto out;
	if (strcmp(fmt, SNAP_FORMAT) != 0) {
		snprintf(err, errlen, "not a hearth snapshot (format \"%s\")", fmt);
		goto out;
	}
	if (get_uint(o, "version", 1000, &ver, err, errlen) < 0)
		goto out;
	if (ver != SNAP_VERSION && ver != SNAP_VERSION_EAGER) {
		snprintf(err, errlen,
			 "snapshot format version %llu not supported (this hearth reads %d and %d)",
			 (unsigned long long)ver, SNAP_VERSION_EAGER, SNAP_VERSION);
		goto out;
	}
	m->version = (int)ver;
	if (get_str(o, "engine", m->engine, sizeof(m->engine), 1, err, errlen) < 0 ||
	    get_str(o, "accel", m->accel, sizeof(m->accel), 1, err, errlen) < 0 ||
	    get_str(o, "kernel", m->kernel, sizeof(m->kernel), 1, err, errlen) < 0 ||
	    get_str(o, "initrd", m->initrd, sizeof(m->initrd), 0, err, errlen) < 0 ||
	    get_str(o, "base_disk", m->base_disk, sizeof(m->base_disk), 0, err, errlen) < 0 ||
	    get_str(o, "cmdline", m->cmdline, sizeof(m->cmdline), 0, err, errlen) < 0 ||
	    get_uint(o, "memoryMiB", 1u << 20, &mem, err, errlen) < 0 ||
	    get_uint(o, "vcpus", 256, &vcpus, err, errlen) < 0)
		goto out;
	if (!mem || !vcpus) {
		snprintf(err, errlen, "snapshot manifest: zero memory or vcpus");
		goto out;
	}
	m->mem_mib = (unsigned)mem;
	m->vcpus = (unsigned)vcpus;
	m->net = json_object_object_get_ex(o, "net", &v) && json_object_get_boolean(v);
	if (m->net && json_object_object_get_ex(o, "netBackend", &v) &&
	    json_object_is_type(v, json_type_string))
		m->net = !strcmp(json_object_get_string(v), "tap") ? 2 : 1;
	m->direct = json_object_object_get_ex(o, "direct", &v) && json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "memory", &v) ||
	    !json_object_is_type(v, json_type_object) ||
	    (ver == SNAP_VERSION ? get_raw(v, mem, m, err, errlen)
				 : get_file(v, SNAP_MEMORY, &m->mem_size, &m->mem_hash, err,
					    errlen)) < 0) {
		if (!err[0])
			snprintf(err, errlen, "snapshot manifest: missing \"memory\"");
		goto out;
	}
	if (ver == SNAP_VERSION) {
		char kind[16];
		if (get_str(o, "kind", kind, sizeof(kind), 1, err, errlen) < 0)
			goto out;
		if (strcmp(kind, "suspend") != 0 && strcmp(kind, "snapshot") != 0) {
			snprintf(err, errlen, "snapshot manifest: bad \"kind\"");
			goto out;
		}
		m->consumable = !strcmp(kind, "suspend");
	}
	if (ver == SNAP_VERSION &&
	    (!json_object_object_get_ex(o, "state", &v) ||
	     !json_object_is_type(v, json_type_object) ||
	     get_file(v, SNAP_STATE, &m->state_size, &m->state_hash, err, errlen) < 0)) {
		if (!err[0])
			snprintf(err, errlen, "snapshot manifest: missing \"state\"");
		goto out;
	}
	if (json_object_object_get_ex(o, "disk", &v) && json_object_is_type(v, json_type_object)) {
		m->has_disk = 1;
		if (get_file(v, SNAP_DISK, &m->disk_size, &m->disk_hash, err, errlen) < 0 ||
		    get_str(v, "backing", m->disk_backing, sizeof(m->disk_backing), 0, err, errlen) < 0)
			goto out;
		struct json_object *dv;
		uint64_t depth = 0;
		if (json_object_object_get_ex(v, "depth", &dv) &&
		    get_uint(v, "depth", 100000, &depth, err, errlen) < 0)
			goto out;
		m->disk_depth = (unsigned)depth;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int snapfile_read(const char *dir, struct snap_manifest *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_MANIFEST);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "not a snapshot: %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(SNAP_MAX_MANIFEST + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (buf && n <= SNAP_MAX_MANIFEST &&
	       (r = read(fd, buf + n, SNAP_MAX_MANIFEST + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (!buf || r < 0) {
		free(buf);
		snprintf(err, errlen, "%s: read failed", path);
		return -1;
	}
	err[0] = 0;
	int rc = snapfile_parse(buf, n, m, err, errlen);
	free(buf);
	return rc;
}

static int verify_one(const char *dir, const char *name, uint64_t size, uint64_t hash, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
		snprintf(err, errlen, "snapshot %s is truncated or altered: %lld bytes, manifest says %llu",
			 path, (long long)st.st_size, (unsigned long long)size);
		close(fd);
		return -1;
	}
	uint64_t got_size, got;
	int rc = snapfile_hash_fd(fd, &got_size, &got, err, errlen);
	close(fd);
	if (rc < 0)
		return -1;
	if (got != hash || got_size != size) {
		snprintf(err, errlen, "snapshot %s is corrupt: checksum %016llx, manifest says %016llx",
			 path, (unsigned long long)got, (unsigned long long)hash);
		return -1;
	}
	return 0;
}

/* Size only (see snapfile.h). */
static int verify_size(const char *dir, const char *name, uint64_t size, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		snprintf(err, errlen, "snapshot %s is truncated or altered: %lld bytes, manifest says %llu",
			 path, (long long)st.st_size, (unsigned long long)size);
		return -1;
	}
	return 0;
}

int snapfile_verify(const char *dir, const struct snap_manifest *m, char *err, size_t errlen)
{
	if (m->version == SNAP_VERSION) {
		if (verify_size(m->mem_base[0] ? m->mem_base : dir, SNAP_MEMORY, m->mem_size, err,
				errlen) < 0 ||
		    verify_one(dir, SNAP_STATE, m->state_size, m->state_hash, err, errlen) < 0 ||
		    (m->has_delta &&
		     verify_one(dir, SNAP_DELTA, m->delta_size, m->delta_hash, err, errlen) < 0))
			return -1;
	} else if (verify_one(dir, SNAP_MEMORY, m->mem_size, m->mem_hash, err, errlen) < 0) {
		return -1;
	}
	if (m->has_disk && verify_one(dir, SNAP_DISK, m->disk_size, m->disk_hash, err, errlen) < 0)
		return -1;
	return 0;
}
