/* tarhdr.c - ustar/pax headers; see tarhdr.h. */
#include "protocol/tarhdr.h"

#include <stdio.h>
#include <string.h>

/* ustar field offsets and sizes */
enum {
	F_NAME = 0, L_NAME = 100,
	F_MODE = 100, L_MODE = 8,
	F_UID = 108, L_UID = 8,
	F_GID = 116, L_GID = 8,
	F_SIZE = 124, L_SIZE = 12,
	F_MTIME = 136, L_MTIME = 12,
	F_CHKSUM = 148, L_CHKSUM = 8,
	F_TYPE = 156,
	F_LINK = 157, L_LINK = 100,
	F_MAGIC = 257,
	F_VERSION = 263,
	F_PREFIX = 345, L_PREFIX = 155,
};

size_t tarhdr_pad(uint64_t n)
{
	return (size_t)((TAR_BLOCK - n % TAR_BLOCK) % TAR_BLOCK);
}

/* An octal field (spaces or NUL end it), or base-256 (high bit set). */
static int get_num(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (p[0] & 0x80) {
		if (p[0] != 0x80)
			return -1; /* negative or too large */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | p[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return -1;
	*out = v;
	return 0;
}

static unsigned checksum(const uint8_t *b)
{
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (i >= F_CHKSUM && i < F_CHKSUM + L_CHKSUM) ? ' ' : b[i];
	return sum;
}

/* Copy a NUL-padded field into a C string. */
static void get_str(const uint8_t *p, size_t n, char *out)
{
	size_t l = 0;
	while (l < n && p[l])
		l++;
	memcpy(out, p, l);
	out[l] = '\0';
}

int tarhdr_decode(const uint8_t blk[TAR_BLOCK], struct tar_entry *e)
{
	uint64_t sum, mode, uid, gid, size, mtime;
	size_t i;
	for (i = 0; i < TAR_BLOCK && blk[i] == 0; i++)
		;
	if (i == TAR_BLOCK)
		return TARHDR_ZERO;
	if (memcmp(blk + F_MAGIC, "ustar", 5) != 0)
		return TARHDR_BAD;
	if (get_num(blk + F_CHKSUM, L_CHKSUM, &sum) < 0 || sum != checksum(blk))
		return TARHDR_BAD;
	if (get_num(blk + F_MODE, L_MODE, &mode) < 0 || get_num(blk + F_UID, L_UID, &uid) < 0 ||
	    get_num(blk + F_GID, L_GID, &gid) < 0 || get_num(blk + F_SIZE, L_SIZE, &size) < 0 ||
	    get_num(blk + F_MTIME, L_MTIME, &mtime) < 0)
		return TARHDR_BAD;
	uint8_t type = blk[F_TYPE];
	if (type == 'x') {
		e->hdr_size = size;
		return size > TAR_PAX_MAX ? TARHDR_LONG : TARHDR_PAX;
	}
	if (type == 'g' || type == 'V' || type == 'L' || type == 'K') {
		e->hdr_size = size;
		return TARHDR_SKIP;
	}
	e->type = type == '\0' ? TAR_REG : type;
	e->mode = (uint32_t)(mode & 07777);
	if (!(e->set & TAR_SET_UID))
		e->uid = uid;
	if (!(e->set & TAR_SET_GID))
		e->gid = gid;
	if (!(e->set & TAR_SET_SIZE))
		e->size = size;
	if (!(e->set & TAR_SET_MTIME))
		e->mtime = (int64_t)(mtime > INT64_MAX ? INT64_MAX : mtime);
	if (!(e->set & TAR_SET_PATH)) {
		char name[L_NAME + 1], prefix[L_PREFIX + 1];
		get_str(blk + F_NAME, L_NAME, name);
		get_str(blk + F_PREFIX, L_PREFIX, prefix);
		if (prefix[0] && memcmp(blk + F_MAGIC, "ustar\0", 6) == 0)
			snprintf(e->path, sizeof e->path, "%s/%s", prefix, name);
		else
			snprintf(e->path, sizeof e->path, "%s", name);
	}
	if (!(e->set & TAR_SET_LINK))
		get_str(blk + F_LINK, L_LINK, e->link);
	if (e->type == TAR_DIR || e->type == TAR_SYMLINK || e->type == TAR_HARDLINK)
		e->size = 0; /* no data follows these, whatever the field says */
	e->set = 0;
	return TARHDR_ENTRY;
}

/* One "key=value" of a pax record into e. */
static int pax_field(const char *k, size_t kl, const char *v, size_t vl, struct tar_entry *e)
{
	uint64_t n = 0;
	int numeric = (kl == 4 && !memcmp(k, "size", 4)) || (kl == 3 && !memcmp(k, "uid", 3)) ||
		      (kl == 3 && !memcmp(k, "gid", 3)) || (kl == 5 && !memcmp(k, "mtime", 5));
	if (numeric) {
		size_t i = 0;
		if (vl == 0)
			return TARHDR_BAD;
		for (; i < vl && v[i] >= '0' && v[i] <= '9'; i++) {
			if (n > (UINT64_MAX - 9) / 10)
				return TARHDR_BAD;
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		/* mtime may carry a fraction: whole seconds are kept */
		if (i == 0 || (i < vl && !(kl == 5 && v[i] == '.')))
			return TARHDR_BAD;
	}
	if (kl == 4 && !memcmp(k, "path", 4)) {
		if (vl > TAR_PATH_MAX || memchr(v, 0, vl))
			return TARHDR_LONG;
		memcpy(e->path, v, vl);
		e->path[vl] = '\0';
		e->set |= TAR_SET_PATH;
	} else if (kl == 8 && !memcmp(k, "linkpath", 8)) {
		if (vl > TAR_PATH_MAX || memchr(v, 0, vl))
			return TARHDR_LONG;
		memcpy(e->link, v, vl);
		e->link[vl] = '\0';
		e->set |= TAR_SET_LINK;
	} else if (kl == 4 && !memcmp(k, "size", 4)) {
		e->size = n;
		e->set |= TAR_SET_SIZE;
	} else if (kl == 3 && !memcmp(k, "uid", 3)) {
		e->uid = n;
		e->set |= TAR_SET_UID;
	} else if (kl == 3 && !memcmp(k, "gid", 3)) {
		e->gid = n;
		e->set |= TAR_SET_GID;
	} else if (kl == 5 && !memcmp(k, "mtime", 5)) {
		e->mtime = (int64_t)(n > INT64_MAX ? INT64_MAX : n);
		e->set |= TAR_SET_MTIME;
	}
	/* other keys (atime, ctime, uname, SCHILY.*, ...) are ignored */
	return 0;
}

int tarhdr_pax(const uint8_t *p, size_t n, struct tar_entry *e)
{
	size_t off = 0;
	if (n > TAR_PAX_MAX)
		return TARHDR_LONG;
	while (off < n) {
		/* "LEN key=value\n", LEN counting the whole record */
		size_t len = 0, i = off;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
			len = len * 10 + (size_t)(p[i] - '0');
			if (len > n)
				return TARHDR_BAD;
		}
		if (i == off || i >= n || p[i] != ' ' || len < (i - off) + 3 || len > n - off)
			return TARHDR_BAD;
		const char *rec = (const char *)p + i + 1;
		size_t rl = off + len - (i + 1); /* key=value\n */
		if (rec[rl - 1] != '\n')
			return TARHDR_BAD;
		const char *eq = memchr(rec, '=', rl - 1);
		if (!eq || eq == rec)
			return TARHDR_BAD;
		int rc = pax_field(rec, (size_t)(eq - rec), eq + 1, (size_t)(rec + rl - 1 - (eq + 1)), e);
		if (rc != 0)
			return rc;
		off += len;
	}
	return 0;
}

/* Octal into a field of n bytes: n-1 digits and a NUL. -1 when it does not fit. */
static int put_oct(uint8_t *p, size_t n, uint64_t v)
{
	char tmp[32];
	int l = snprintf(tmp, sizeof tmp, "%0*llo", (int)(n - 1), (unsigned long long)v);
	if (l < 0 || (size_t)l != n - 1)
		return -1;
	memcpy(p, tmp, n - 1);
	p[n - 1] = '\0';
	return 0;
}

/* Append one pax record "LEN key=value\n" at out+*off; -1 when it does not fit. */
static int pax_record(uint8_t *out, size_t cap, size_t *off, const char *key, const char *val)
{
	size_t body = 1 + strlen(key) + 1 + strlen(val) + 1; /* " key=value\n" */
	size_t len = body + 1;
	/* the length counts its own digits */
	for (;;) {
		char d[24];
		size_t digits = (size_t)snprintf(d, sizeof d, "%zu", len);
		if (digits + body == len)
			break;
		len = digits + body;
	}
	if (len > cap - *off)
		return -1;
	int w = snprintf((char *)out + *off, cap - *off, "%zu %s=%s\n", len, key, val);
	if (w < 0 || (size_t)w != len)
		return -1;
	*off += len;
	return 0;
}

static void ustar_fill(uint8_t *b, const char *name, uint32_t mode, uint64_t uid, uint64_t gid,
		       uint64_t size, int64_t mtime, uint8_t type, const char *link)
{
	memset(b, 0, TAR_BLOCK);
	memcpy(b + F_NAME, name, strnlen(name, L_NAME));
	put_oct(b + F_MODE, L_MODE, mode & 07777);
	put_oct(b + F_UID, L_UID, uid);
	put_oct(b + F_GID, L_GID, gid);
	put_oct(b + F_SIZE, L_SIZE, size);
	put_oct(b + F_MTIME, L_MTIME, (uint64_t)(mtime < 0 ? 0 : mtime));
	b[F_TYPE] = type;
	memcpy(b + F_LINK, link, strnlen(link, L_LINK));
	memcpy(b + F_MAGIC, "ustar\0", 6);
	memcpy(b + F_VERSION, "00", 2);
	char ck[8];
	snprintf(ck, sizeof ck, "%06o", checksum(b) & 0777777);
	memcpy(b + F_CHKSUM, ck, 6);
	b[F_CHKSUM + 6] = '\0';
	b[F_CHKSUM + 7] = ' ';
}

int tarhdr_encode(const struct tar_entry *e, uint8_t *out, size_t cap)
{
	size_t pl = strnlen(e->path, TAR_PATH_MAX + 1), ll = strnlen(e->link, TAR_PATH_MAX + 1);
	uint8_t scratch[L_SIZE];
	if (pl == 0 || pl > TAR_PATH_MAX || ll > TAR_PATH_MAX || cap < TAR_BLOCK)
		return -1;
	int big_size = put_oct(scratch, L_SIZE, e->size) < 0;
	int big_uid = put_oct(scratch, L_UID, e->uid) < 0;
	int big_gid = put_oct(scratch, L_GID, e->gid) < 0;
	int big_mtime = e->mtime < 0 || put_oct(scratch, L_MTIME, (uint64_t)e->mtime) < 0;
	int long_path = pl >= L_NAME, long_link = ll >= L_LINK;
	size_t off = 0;
	if (big_size || big_uid || big_gid || big_mtime || long_path || long_link) {
		uint8_t data[2 * TAR_PATH_MAX + 256];
		size_t dl = 0;
		char num[32];
		int bad = 0;
		if (long_path)
			bad |= pax_record(data, sizeof data, &dl, "path", e->path);
		if (long_link)
			bad |= pax_record(data, sizeof data, &dl, "linkpath", e->link);
		if (big_size) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)e->size);
			bad |= pax_record(data, sizeof data, &dl, "size", num);
		}
		if (big_uid) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)e->uid);
			bad |= pax_record(data, sizeof data, &dl, "uid", num);
		}
		if (big_gid) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)e->gid);
			bad |= pax_record(data, sizeof data, &dl, "gid", num);
		}
		if (big_mtime) {
			/* before 1970: stored as 0 (pax "mtime" would allow negatives; rare) */
			snprintf(num, sizeof num, "%lld", (long long)(e->mtime < 0 ? 0 : e->mtime));
			bad |= pax_record(data, sizeof data, &dl, "mtime", num);
		}
		if (bad)
			return -1;
		size_t need = TAR_BLOCK + dl + tarhdr_pad(dl) + TAR_BLOCK;
		if (need > cap)
			return -1;
		ustar_fill(out, "././@PaxHeader", 0644, 0, 0, dl, e->mtime, 'x', "");
		memcpy(out + TAR_BLOCK, data, dl);
		memset(out + TAR_BLOCK + dl, 0, tarhdr_pad(dl));
		off = TAR_BLOCK + dl + tarhdr_pad(dl);
	}
	if (off + TAR_BLOCK > cap)
		return -1;
	ustar_fill(out + off, e->path, e->mode, big_uid ? 0 : e->uid, big_gid ? 0 : e->gid,
		   big_size ? 0 : e->size, big_mtime ? 0 : e->mtime, e->type, e->link);
	return (int)(off + TAR_BLOCK);
}

int tarhdr_path_check(char *path)
{
	while (path[0] == '.' && path[1] == '/') {
		size_t n = strlen(path);
		memmove(path, path + 2, n - 1);
		while (path[0] == '/')
			memmove(path, path + 1, strlen(path));
	}
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (n == 0 || path[0] == '/')
		return -1;
	for (const char *c = path; *c;) {
		const char *end = strchr(c, '/');
		size_t l = end ? (size_t)(end - c) : strlen(c);
		if (l == 0 || (l == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		c += l;
		if (*c == '/')
			c++;
	}
	return 0;
}
