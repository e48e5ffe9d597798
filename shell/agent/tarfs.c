/* tarfs.c - file trees to and from tar streams; see tarfs.h. */
#include "shell/agent/tarfs.h"
#include "protocol/tarhdr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define TARFS_CHUNK (64u * 1024)
#define TARFS_DEPTH_MAX 256
#define TARFS_DIRS_MAX (1u << 20) /* directories whose mode/mtime wait for the end */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes; 1 on a clean EOF before any byte, 0 done, -1 error/short. */
static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 1 : -1;
		got += (size_t)r;
	}
	return 0;
}

/* ---- writing ---- */

struct tw {
	int fd;
	char *err;
	size_t errlen;
	uint8_t *buf; /* TARFS_CHUNK */
	struct tar_entry e;
	uint8_t hdr[TARHDR_ENCODE_MAX];
};

static int tw_file_data(struct tw *w, const char *src, uint64_t size)
{
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t left = size;
	if (fd < 0)
		return fail(w->err, w->errlen, "cannot read %s: %s", src, strerror(errno));
	while (left > 0) {
		size_t want = left < TARFS_CHUNK ? (size_t)left : TARFS_CHUNK;
		ssize_t r = read(fd, w->buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return fail(w->err, w->errlen, "cannot read %s: %s", src, strerror(e));
		}
		if (r == 0) { /* the file shrank while we read it: keep the header's size */
			memset(w->buf, 0, want);
			r = (ssize_t)want;
		}
		if (write_all(w->fd, w->buf, (size_t)r) < 0) {
			close(fd);
			return fail(w->err, w->errlen, "write: %s", strerror(errno));
		}
		left -= (uint64_t)r;
	}
	close(fd);
	size_t pad = tarhdr_pad(size);
	memset(w->buf, 0, pad);
	return write_all(w->fd, w->buf, pad) < 0 ? fail(w->err, w->errlen, "write: %s", strerror(errno))
						 : 0;
}

/* One entry: src on disk, name in the archive. */
static int tw_entry(struct tw *w, const char *src, const char *name, int recursive, int depth)
{
	struct stat st;
	struct tar_entry *e = &w->e;
	if (lstat(src, &st) < 0)
		return fail(w->err, w->errlen, "%s: %s", src, strerror(errno));
	if (strlen(name) > TAR_PATH_MAX)
		return fail(w->err, w->errlen, "%s: path too long", src);
	memset(e, 0, sizeof *e);
	snprintf(e->path, sizeof e->path, "%s", name);
	e->mode = st.st_mode & 07777;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->mtime = st.st_mtim.tv_sec;
	if (S_ISREG(st.st_mode)) {
		e->type = TAR_REG;
		e->size = (uint64_t)st.st_size;
	} else if (S_ISDIR(st.st_mode)) {
		if (!recursive)
			return fail(w->err, w->errlen, "%s is a directory (use -r)", src);
		e->type = TAR_DIR;
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(src, e->link, TAR_PATH_MAX);
		if (n < 0 || n >= TAR_PATH_MAX)
			return fail(w->err, w->errlen, "%s: cannot read the link", src);
		e->link[n] = '\0';
		e->type = TAR_SYMLINK;
	} else {
		return 0; /* devices, fifos, sockets are not copied */
	}
	int n = tarhdr_encode(e, w->hdr, sizeof w->hdr);
	if (n < 0)
		return fail(w->err, w->errlen, "%s: cannot be described in tar", src);
	if (write_all(w->fd, w->hdr, (size_t)n) < 0)
		return fail(w->err, w->errlen, "write: %s", strerror(errno));
	if (e->type == TAR_REG)
		return tw_file_data(w, src, e->size);
	if (e->type != TAR_DIR)
		return 0;
	if (depth >= TARFS_DEPTH_MAX)
		return fail(w->err, w->errlen, "%s: nested too deep", src);
	DIR *d = opendir(src);
	if (!d)
		return fail(w->err, w->errlen, "cannot read %s: %s", src, strerror(errno));
	struct dirent *de;
	int rc = 0;
	size_t sl = strlen(src), nl = strlen(name);
	char *csrc = malloc(sl + 258), *cname = malloc(nl + 258);
	if (!csrc || !cname)
		rc = fail(w->err, w->errlen, "out of memory");
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(csrc, sl + 258, "%s%s%s", src, src[sl - 1] == '/' ? "" : "/", de->d_name);
		snprintf(cname, nl + 258, "%s/%s", name, de->d_name);
		rc = tw_entry(w, csrc, cname, 1, depth + 1);
	}
	closedir(d);
	free(csrc);
	free(cname);
	return rc;
}

int tarfs_write(int fd, const char *src, int recursive, char *err, size_t errlen)
{
	char path[TAR_PATH_MAX + 1];
	size_t n = strlen(src);
	if (n == 0 || n > TAR_PATH_MAX)
		return fail(err, errlen, "bad path");
	memcpy(path, src, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
		return fail(err, errlen, "%s: name a file or directory by its own name", src);
	struct tw *w = calloc(1, sizeof *w);
	if (!w || !(w->buf = malloc(TARFS_CHUNK))) {
		free(w);
		return fail(err, errlen, "out of memory");
	}
	w->fd = fd;
	w->err = err;
	w->errlen = errlen;
	int rc = tw_entry(w, path, base, recursive, 0);
	if (rc == 0) {
		memset(w->buf, 0, 2 * TAR_BLOCK);
		if (write_all(fd, w->buf, 2 * TAR_BLOCK) < 0)
			rc = fail(err, errlen, "write: %s", strerror(errno));
	}
	free(w->buf);
	free(w);
	return rc;
}

/* ---- extracting ---- */

struct tdir {
	char *path;
	uint32_t mode;
	uint64_t uid, gid;
	int64_t mtime;
};

struct tx {
	int fd;
	char *err;
	size_t errlen;
	int root_user;
	int dest_is_dir;
	int multi; /* tarfs_extract_multi: any roots, parents made */
	char dest[TAR_PATH_MAX + 1];
	char root[TAR_PATH_MAX + 1]; /* the first component every entry shares */
	char target[2 * TAR_PATH_MAX + 2];
	struct tar_entry e;
	uint8_t blk[TAR_BLOCK];
	uint8_t *buf; /* TARFS_CHUNK */
	struct tdir *dirs;
	size_t ndirs, capdirs;
};

static int tx_skip(struct tx *x, uint64_t n)
{
	while (n > 0) {
		size_t want = n < TARFS_CHUNK ? (size_t)n : TARFS_CHUNK;
		if (read_full(x->fd, x->buf, want) != 0)
			return fail(x->err, x->errlen, "the tar stream ended early");
		n -= want;
	}
	return 0;
}

/* Map the entry's (checked) path to x->target; refuse a second root. */
static int tx_target(struct tx *x)
{
	const char *p = x->e.path, *slash = strchr(p, '/');
	size_t l0 = slash ? (size_t)(slash - p) : strlen(p);
	if (x->multi) {
		/* no root rule */
	} else if (!x->root[0]) {
		memcpy(x->root, p, l0);
		x->root[l0] = '\0';
	} else if (strlen(x->root) != l0 || memcmp(x->root, p, l0) != 0) {
		return fail(x->err, x->errlen, "the tar stream has more than one top-level entry (%s)",
			    p);
	}
	if (x->dest_is_dir)
		snprintf(x->target, sizeof x->target, "%s/%s", x->dest, p);
	else
		snprintf(x->target, sizeof x->target, "%s%s", x->dest, p + l0);
	/* no component between dest and the entry may be a symlink */
	size_t start = strlen(x->dest) + 1, end = strlen(x->target);
	for (size_t i = start; i < end; i++) {
		if (x->target[i] != '/')
			continue;
		struct stat st;
		x->target[i] = '\0';
		int r = lstat(x->target, &st);
		int link = r == 0 && S_ISLNK(st.st_mode);
		/* a multi-root stream may skip its parents' entries: make them */
		if (r < 0 && errno == ENOENT && x->multi && mkdir(x->target, 0755) < 0 &&
		    errno != EEXIST) {
			int e = errno;
			x->target[i] = '/';
			return fail(x->err, x->errlen, "cannot create %s: %s", x->target,
				    strerror(e));
		}
		x->target[i] = '/';
		if (link)
			return fail(x->err, x->errlen, "refusing to write %s through a symlink",
				    x->target);
	}
	return 0;
}

static void tx_owner_fd(struct tx *x, int fd)
{
	if (x->root_user && fchown(fd, (uid_t)x->e.uid, (gid_t)x->e.gid) < 0)
		return; /* an owner the file system refuses: the file stays root's */
}

static int tx_file(struct tx *x)
{
	struct stat st;
	if (lstat(x->target, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return fail(x->err, x->errlen, "cannot write %s: it is a directory", x->target);
		/* multi: replace, never write into (a read-only or hard-linked file) */
		if ((x->multi || !S_ISREG(st.st_mode)) && unlink(x->target) < 0)
			return fail(x->err, x->errlen, "cannot replace %s: %s", x->target,
				    strerror(errno));
	}
	int fd = open(x->target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(x->err, x->errlen, "cannot write %s: %s", x->target, strerror(errno));
	uint64_t left = x->e.size;
	while (left > 0) {
		size_t want = left < TARFS_CHUNK ? (size_t)left : TARFS_CHUNK;
		if (read_full(x->fd, x->buf, want) != 0) {
			close(fd);
			return fail(x->err, x->errlen, "the tar stream ended early in %s", x->e.path);
		}
		if (write_all(fd, x->buf, want) < 0) {
			int e = errno;
			close(fd);
			return fail(x->err, x->errlen, "cannot write %s: %s", x->target, strerror(e));
		}
		left -= want;
	}
	tx_owner_fd(x, fd);
	struct timespec ts[2] = { { x->e.mtime, 0 }, { x->e.mtime, 0 } };
	if (fchmod(fd, x->e.mode) < 0 || futimens(fd, ts) < 0 || close(fd) < 0)
		return fail(x->err, x->errlen, "cannot finish %s: %s", x->target, strerror(errno));
	return tx_skip(x, tarhdr_pad(x->e.size));
}

static int tx_dir(struct tx *x)
{
	struct stat st;
	if (mkdir(x->target, 0700) < 0) {
		if (errno != EEXIST)
			return fail(x->err, x->errlen, "cannot create %s: %s", x->target,
				    strerror(errno));
		if (lstat(x->target, &st) < 0 || !S_ISDIR(st.st_mode))
			return fail(x->err, x->errlen, "cannot create %s: it exists and is not a directory",
				    x->target);
	}
	if (x->ndirs == x->capdirs) {
		size_t cap = x->capdirs ? 2 * x->capdirs : 64;
		struct tdir *d = cap > TARFS_DIRS_MAX ? NULL : realloc(x->dirs, cap * sizeof *d);
		if (!d)
			return fail(x->err, x->errlen, "too many directories");
		x->dirs = d;
		x->capdirs = cap;
	}
	struct tdir *d = &x->dirs[x->ndirs];
	if (!(d->path = strdup(x->target)))
		return fail(x->err, x->errlen, "out of memory");
	d->mode = x->e.mode;
	d->uid = x->e.uid;
	d->gid = x->e.gid;
	d->mtime = x->e.mtime;
	x->ndirs++;
	return 0;
}

static int tx_symlink(struct tx *x)
{
	struct stat st;
	if (lstat(x->target, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return fail(x->err, x->errlen, "cannot write %s: it is a directory", x->target);
		if (unlink(x->target) < 0)
			return fail(x->err, x->errlen, "cannot replace %s: %s", x->target,
				    strerror(errno));
	}
	if (symlink(x->e.link, x->target) < 0)
		return fail(x->err, x->errlen, "cannot create %s: %s", x->target, strerror(errno));
	if (x->root_user && lchown(x->target, (uid_t)x->e.uid, (gid_t)x->e.gid) < 0) {
		/* as for files: an owner refused leaves root's */
	}
	struct timespec ts[2] = { { x->e.mtime, 0 }, { x->e.mtime, 0 } };
	utimensat(AT_FDCWD, x->target, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Directories last, deepest first: their mode may forbid writing, their mtime moves. */
static int tx_finish_dirs(struct tx *x)
{
	int rc = 0;
	for (size_t i = x->ndirs; i-- > 0;) {
		struct tdir *d = &x->dirs[i];
		struct timespec ts[2] = { { d->mtime, 0 }, { d->mtime, 0 } };
		if (x->root_user && lchown(d->path, (uid_t)d->uid, (gid_t)d->gid) < 0) {
			/* kept as root's */
		}
		if (rc == 0 && (chmod(d->path, d->mode) < 0 ||
				utimensat(AT_FDCWD, d->path, ts, AT_SYMLINK_NOFOLLOW) < 0))
			rc = fail(x->err, x->errlen, "cannot finish %s: %s", d->path,
				  strerror(errno));
	}
	return rc;
}

static int tx_run(struct tx *x)
{
	int zeros = 0;
	memset(&x->e, 0, sizeof x->e);
	for (;;) {
		int r = read_full(x->fd, x->blk, TAR_BLOCK);
		if (r == 1)
			return 0; /* the end without end blocks: what arrived is complete */
		if (r < 0)
			return fail(x->err, x->errlen, "the tar stream ended early");
		int rc = tarhdr_decode(x->blk, &x->e);
		if (rc == TARHDR_ZERO) {
			if (++zeros == 2)
				return 0;
			continue;
		}
		zeros = 0;
		if (rc == TARHDR_BAD)
			return fail(x->err, x->errlen, "not a tar stream (bad header)");
		if (rc == TARHDR_LONG)
			return fail(x->err, x->errlen, "a tar header is too long");
		if (rc == TARHDR_SKIP) {
			if (tx_skip(x, x->e.hdr_size + tarhdr_pad(x->e.hdr_size)) < 0)
				return -1;
			continue;
		}
		if (rc == TARHDR_PAX) {
			size_t n = (size_t)x->e.hdr_size;
			uint8_t *p = malloc(n + tarhdr_pad(n) + 1);
			if (!p)
				return fail(x->err, x->errlen, "out of memory");
			if (read_full(x->fd, p, n + tarhdr_pad(n)) != 0) {
				free(p);
				return fail(x->err, x->errlen, "the tar stream ended early");
			}
			rc = tarhdr_pax(p, n, &x->e);
			free(p);
			if (rc != 0)
				return fail(x->err, x->errlen, "a bad pax header");
			continue;
		}
		if (tarhdr_path_check(x->e.path) < 0)
			return fail(x->err, x->errlen, "refusing the unsafe name %s", x->e.path);
		if (tx_target(x) < 0)
			return -1;
		switch (x->e.type) {
		case TAR_REG:
			rc = tx_file(x);
			break;
		case TAR_DIR:
			rc = tx_dir(x);
			break;
		case TAR_SYMLINK:
			rc = tx_symlink(x);
			break;
		default: /* hard links, devices, fifos: not created */
			rc = tx_skip(x, x->e.size + tarhdr_pad(x->e.size));
		}
		if (rc < 0)
			return -1;
	}
}

static int tarfs_extract_mode(int fd, const char *dest, int multi, char *err, size_t errlen);

int tarfs_extract(int fd, const char *dest, char *err, size_t errlen)
{
	return tarfs_extract_mode(fd, dest, 0, err, errlen);
}

/* mkdir -p with 0755 for the parts that are missing. */
static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int tarfs_extract_multi(int fd, const char *dir, char *err, size_t errlen)
{
	return tarfs_extract_mode(fd, dir, 1, err, errlen);
}

static int tarfs_extract_mode(int fd, const char *dest, int multi, char *err, size_t errlen)
{
	struct tx *x = calloc(1, sizeof *x);
	struct stat st;
	size_t n = strlen(dest);
	if (!x || !(x->buf = malloc(TARFS_CHUNK))) {
		free(x);
		return fail(err, errlen, "out of memory");
	}
	int rc = -1;
	if (n == 0 || n > TAR_PATH_MAX) {
		fail(err, errlen, "bad destination path");
		goto out;
	}
	x->fd = fd;
	x->err = err;
	x->errlen = errlen;
	x->root_user = geteuid() == 0;
	memcpy(x->dest, dest, n + 1);
	while (n > 1 && x->dest[n - 1] == '/')
		x->dest[--n] = '\0';
	x->multi = multi;
	if (multi && (x->dest[0] != '/' || mkdir_p(x->dest) < 0 || stat(x->dest, &st) < 0 ||
		      !S_ISDIR(st.st_mode))) {
		if (x->dest[0] != '/')
			fail(err, errlen, "%s: the directory must be absolute", x->dest);
		else
			fail(err, errlen, "cannot create the directory %s: %s", x->dest,
			     errno ? strerror(errno) : "not a directory");
		goto out;
	}
	x->dest_is_dir = stat(x->dest, &st) == 0 && S_ISDIR(st.st_mode);
	rc = tx_run(x);
	if (tx_finish_dirs(x) < 0 && rc == 0)
		rc = -1;
out:
	for (size_t i = 0; i < x->ndirs; i++)
		free(x->dirs[i].path);
	free(x->dirs);
	free(x->buf);
	free(x);
	return rc;
}
