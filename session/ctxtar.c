/*
 * ctxtar.c - the tar streams of a build (libarchive); see ctxtar.h.
 *
 * One walk selects what a COPY/ADD takes from the context and hands each
 * entry to a sink: the tar writer (ctxtar_copy) or a SHA-256 (ctxtar_hash),
 * so the cache key and the copy can never disagree on what was selected.
 * The context is read through directory fds with O_NOFOLLOW: a symlink is
 * copied as a symlink, never followed, and a source path that passes
 * through one is refused. Directories are listed in name order, so the
 * stream and the hash are the same on every run.
 */
#include "session/ctxtar.h"
#include "protocol/dockerignore.h"
#include "session/artifact.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CT_PATH_MAX 4096
#define CT_DEPTH_MAX 256
#define CT_CHUNK (64u * 1024)
#define CT_MATCH_MAX 100000 /* entries a wildcard source may select */

static int fail(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && msglen)
		vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- entries and sinks ---- */

struct centry {
	const char *name; /* relative to the put's directory */
	unsigned type;    /* AE_IFREG, AE_IFDIR, AE_IFLNK */
	unsigned mode;    /* 07777 */
	long uid, gid;
	uint64_t size;
	int64_t mtime;
	const char *link;
	/* the data of a file: an fd, a string or an archive being unpacked */
	int fd;
	const char *body;
	struct archive *ar;
};

struct sink {
	int unpack;      /* ADD archives are unpacked (the tar); hashed as files (the key) */
	struct archive *tw; /* the tar writer, or NULL */
	EVP_MD_CTX *md;  /* the hash, or NULL */
	uint8_t *buf;
	char *msg;
	size_t msglen;
};

/* Read up to n bytes of e's data; 0 at the end, -1 on error. */
static ssize_t centry_read(const struct centry *e, uint64_t off, uint8_t *buf, size_t n)
{
	if (e->body) {
		uint64_t len = strlen(e->body);
		if (off >= len)
			return 0;
		size_t k = len - off < n ? (size_t)(len - off) : n;
		memcpy(buf, e->body + off, k);
		return (ssize_t)k;
	}
	if (e->ar)
		return archive_read_data(e->ar, buf, n);
	for (;;) {
		ssize_t r = read(e->fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static void md_u64(EVP_MD_CTX *md, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	EVP_DigestUpdate(md, b, 8);
}

static void md_str(EVP_MD_CTX *md, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	md_u64(md, n);
	if (n)
		EVP_DigestUpdate(md, s, n);
}

/* Hand one entry to the sink: a tar header and data, or hash records. */
static int sink_emit(struct sink *k, const struct centry *e)
{
	if (k->md) {
		md_u64(k->md, e->type);
		md_str(k->md, e->name);
		md_u64(k->md, e->mode);
		md_u64(k->md, (uint64_t)e->uid);
		md_u64(k->md, (uint64_t)e->gid);
		md_u64(k->md, e->size);
		md_str(k->md, e->link);
	}
	if (k->tw) {
		struct archive_entry *ae = archive_entry_new();
		if (!ae)
			return fail(k->msg, k->msglen, "out of memory");
		archive_entry_set_pathname(ae, e->name);
		archive_entry_set_filetype(ae, e->type);
		archive_entry_set_perm(ae, e->mode);
		archive_entry_set_uid(ae, e->uid);
		archive_entry_set_gid(ae, e->gid);
		archive_entry_set_mtime(ae, e->mtime, 0);
		archive_entry_set_size(ae, e->type == AE_IFREG ? (la_int64_t)e->size : 0);
		if (e->type == AE_IFLNK)
			archive_entry_set_symlink(ae, e->link);
		int r = archive_write_header(k->tw, ae);
		archive_entry_free(ae);
		if (r != ARCHIVE_OK)
			return fail(k->msg, k->msglen, "%s: %s", e->name, archive_error_string(k->tw));
	}
	if (e->type != AE_IFREG)
		return 0;
	uint64_t off = 0;
	while (off < e->size) {
		size_t want = e->size - off < CT_CHUNK ? (size_t)(e->size - off) : CT_CHUNK;
		ssize_t r = centry_read(e, off, k->buf, want);
		if (r < 0)
			return fail(k->msg, k->msglen, "cannot read %s", e->name);
		if (r == 0) { /* the file shrank while we read it: the header's size holds */
			memset(k->buf, 0, want);
			r = (ssize_t)want;
		}
		if (k->md)
			EVP_DigestUpdate(k->md, k->buf, (size_t)r);
		if (k->tw && archive_write_data(k->tw, k->buf, (size_t)r) != r)
			return fail(k->msg, k->msglen, "write: %s", archive_error_string(k->tw));
		off += (uint64_t)r;
	}
	return 0;
}

/* ---- the walk ---- */

struct walk {
	const struct dfignore *ign;
	const struct ctxtar_opts *o;
	struct sink *k;
	char *msg;
	size_t msglen;
};

static long own(long v)
{
	return v < 0 ? 0 : v;
}

static unsigned mode_of(const struct walk *w, unsigned m)
{
	return w->o->chmod >= 0 ? (unsigned)w->o->chmod & 07777 : m & 07777;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_one(struct walk *w, int dfd, const char *base, const char *rel, const char *out,
		    int depth);

/* The sorted names of the directory fd (dup'd: the caller keeps dfd). */
static char **list_dir(int dfd, size_t *n)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			char **nv = realloc(v, cap * sizeof *v);
			if (!nv)
				goto bad;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto bad;
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof *v, name_cmp);
	if (!v)
		v = calloc(1, sizeof *v);
	return v;
bad:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	*n = 0;
	return NULL;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int join(char *dst, const char *a, const char *b)
{
	int r = a[0] ? snprintf(dst, CT_PATH_MAX + 1, "%s/%s", a, b)
		     : snprintf(dst, CT_PATH_MAX + 1, "%s", b);
	return r < 0 || r > CT_PATH_MAX ? -1 : 0;
}

/* Emit the contents of directory dfd (context path rel) under out. */
static int walk_contents(struct walk *w, int dfd, const char *rel, const char *out, int depth)
{
	size_t n;
	char **names = list_dir(dfd, &n);
	if (!names)
		return fail(w->msg, w->msglen, "cannot read %s: %s", rel[0] ? rel : ".",
			    strerror(errno));
	char *crel = malloc(CT_PATH_MAX + 1), *cout = malloc(CT_PATH_MAX + 1);
	int rc = crel && cout ? 0 : fail(w->msg, w->msglen, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (join(crel, rel, names[i]) < 0 || join(cout, out, names[i]) < 0)
			rc = fail(w->msg, w->msglen, "%s/%s: path too long", rel, names[i]);
		else
			rc = walk_one(w, dfd, names[i], crel, cout, depth + 1);
	}
	free(crel);
	free(cout);
	free_names(names, n);
	return rc;
}

/* Is fd (at its start) a tar archive, compressed or not? Leaves fd at 0. */
static int is_tar(int fd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int yes = 0;
	if (!a)
		return 0;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, CT_CHUNK) == ARCHIVE_OK) {
		int r = archive_read_next_header(a, &e);
		yes = r == ARCHIVE_OK || r == ARCHIVE_WARN || r == ARCHIVE_EOF;
	}
	archive_read_free(a);
	return lseek(fd, 0, SEEK_SET) == 0 && yes;
}

/* ADD: the entries of the tar archive fd, under out. */
static int walk_unpack(struct walk *w, int fd, const char *rel, const char *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char *name = malloc(CT_PATH_MAX + 2), *full = malloc(CT_PATH_MAX + 2);
	int rc = 0;
	if (!a || !name || !full) {
		archive_read_free(a);
		free(name);
		free(full);
		return fail(w->msg, w->msglen, "out of memory");
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, CT_CHUNK) != ARCHIVE_OK)
		rc = fail(w->msg, w->msglen, "%s: %s", rel, archive_error_string(a));
	while (rc == 0) {
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = fail(w->msg, w->msglen, "%s: %s", rel, archive_error_string(a));
			break;
		}
		const char *p = archive_entry_pathname(ae);
		if (!p || artifact_clean_name(p, name) < 0) {
			rc = fail(w->msg, w->msglen, "%s: refusing the unsafe name %.200s", rel,
				  p ? p : "(unreadable)");
			break;
		}
		unsigned type = archive_entry_filetype(ae);
		if (!name[0] || archive_entry_hardlink(ae) ||
		    (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK))
			continue; /* the root itself, hard links, devices: not copied */
		if (join(full, out, name) < 0) {
			rc = fail(w->msg, w->msglen, "%s: %s: path too long", rel, name);
			break;
		}
		struct centry e = {
			.name = full,
			.type = type,
			.mode = mode_of(w, archive_entry_perm(ae)),
			.uid = w->o->uid < 0 ? (long)archive_entry_uid(ae) : w->o->uid,
			.gid = w->o->gid < 0 ? (long)archive_entry_gid(ae) : w->o->gid,
			.size = type == AE_IFREG && archive_entry_size(ae) > 0
					? (uint64_t)archive_entry_size(ae) : 0,
			.mtime = archive_entry_mtime(ae) > 0 ? archive_entry_mtime(ae) : 0,
			.link = archive_entry_symlink(ae),
			.fd = -1,
			.ar = a,
		};
		if (type == AE_IFLNK && !e.link) {
			rc = fail(w->msg, w->msglen, "%s: %s: unreadable link", rel, name);
			break;
		}
		rc = sink_emit(w->k, &e);
	}
	archive_read_free(a);
	free(name);
	free(full);
	return rc;
}

/*
 * One context entry base in directory dfd (context path rel) as out.
 * .dockerignore'd entries are left out; an excluded directory is still
 * walked when a "!" rule may bring something below it back.
 */
static int walk_one(struct walk *w, int dfd, const char *base, const char *rel, const char *out,
		    int depth)
{
	struct stat st;
	if (depth > CT_DEPTH_MAX)
		return fail(w->msg, w->msglen, "%s: nested too deep", rel);
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(w->msg, w->msglen, "%s: %s", rel, strerror(errno));
	int ignored = dfignore_match(w->ign, rel);
	struct centry e = {
		.name = out,
		.mode = mode_of(w, st.st_mode),
		.uid = own(w->o->uid),
		.gid = own(w->o->gid),
		.mtime = st.st_mtim.tv_sec > 0 ? st.st_mtim.tv_sec : 0,
		.fd = -1,
	};
	if (S_ISDIR(st.st_mode)) {
		if (ignored && !dfignore_may_reinclude(w->ign, rel))
			return 0;
		int fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(w->msg, w->msglen, "cannot read %s: %s", rel, strerror(errno));
		e.type = AE_IFDIR;
		int rc = ignored ? 0 : sink_emit(w->k, &e);
		if (rc == 0)
			rc = walk_contents(w, fd, rel, out, depth);
		close(fd);
		return rc;
	}
	if (ignored)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		char link[CT_PATH_MAX + 1];
		ssize_t n = readlinkat(dfd, base, link, CT_PATH_MAX);
		if (n < 0 || n >= CT_PATH_MAX)
			return fail(w->msg, w->msglen, "%s: cannot read the link", rel);
		link[n] = '\0';
		e.type = AE_IFLNK;
		e.link = link;
		return sink_emit(w->k, &e);
	}
	if (!S_ISREG(st.st_mode))
		return 0; /* devices, fifos, sockets are not copied */
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(w->msg, w->msglen, "cannot read %s: %s", rel, strerror(errno));
	e.type = AE_IFREG;
	e.size = (uint64_t)st.st_size;
	e.fd = fd;
	int rc = sink_emit(w->k, &e);
	close(fd);
	return rc;
}

/* ---- sources ---- */

struct src {
	char *rel; /* context-relative, cleaned; "" is the context itself */
	int dir;
};

struct plan {
	struct src *v;
	size_t n, cap;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].rel);
	free(p->v);
	memset(p, 0, sizeof *p);
}

static int plan_add(struct plan *p, const char *rel, int dir)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct src *v = cap > CT_MATCH_MAX ? NULL : realloc(p->v, cap * sizeof *v);
		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	if (!(p->v[p->n].rel = strdup(rel)))
		return -1;
	p->v[p->n++].dir = dir;
	return 0;
}

/* Clean a source against the context root; -1 when ".." climbs out of it. */
static int src_clean(const char *in, char *out)
{
	size_t o = 0, n = strlen(in);
	if (n > CT_PATH_MAX)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && in[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 2 && in[i] == '.' && in[i + 1] == '.') {
			if (o == 0)
				return -1;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (l > 0 && !(l == 1 && in[i] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, in + i, l);
			o += l;
		}
		i = j + 1;
	}
	out[o] = '\0';
	return 0;
}

static int has_wild(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return 1;
	}
	return 0;
}

/* Open the directory holding rel's last component (never through a
 * symlink); *base points into rel. -1 with errno. */
static int open_parent(int root, char *rel, const char **base)
{
	int fd = dup(root);
	char *c = rel, *slash;
	while (fd >= 0 && (slash = strchr(c, '/'))) {
		*slash = '\0';
		int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(fd);
		fd = nfd;
		c = slash + 1;
	}
	*base = c;
	return fd;
}

/* Could pat match something below the directory rel? ('*' never crosses
 * '/': only "**" or more components than rel has.) */
static int glob_deeper(const char *pat, const char *rel)
{
	size_t np = 0, nr = 0;
	if (strstr(pat, "**"))
		return 1;
	for (; *pat; pat++)
		np += *pat == '/';
	for (; *rel; rel++)
		nr += *rel == '/';
	return np > nr;
}

/* Wildcard matches below the directory dfd (context path rel). */
static int glob_walk(struct walk *w, struct plan *p, const char *pat, int dfd, const char *rel,
		     int depth)
{
	size_t n;
	if (depth > CT_DEPTH_MAX)
		return 0;
	char **names = list_dir(dfd, &n);
	if (!names)
		return fail(w->msg, w->msglen, "cannot read %s: %s", rel[0] ? rel : ".",
			    strerror(errno));
	char *crel = malloc(CT_PATH_MAX + 1);
	int rc = crel ? 0 : fail(w->msg, w->msglen, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		if (join(crel, rel, names[i]) < 0 ||
		    fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		int dir = S_ISDIR(st.st_mode);
		int ignored = dfignore_match(w->ign, crel);
		int m = dfignore_glob(pat, crel);
		if (m < 0) {
			rc = fail(w->msg, w->msglen, "bad source pattern %s", pat);
		} else if (m == 1 && (!ignored || (dir && dfignore_may_reinclude(w->ign, crel)))) {
			if (plan_add(p, crel, dir) < 0)
				rc = fail(w->msg, w->msglen, "%s: too many matches", pat);
		} else if (dir && m == 0 && glob_deeper(pat, crel)) {
			int fd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				rc = glob_walk(w, p, pat, fd, crel, depth + 1);
				close(fd);
			}
		}
	}
	free(crel);
	free_names(names, n);
	return rc;
}

/* Expand one source into the plan. */
static int plan_source(struct walk *w, struct plan *p, int root, const char *src)
{
	char rel[CT_PATH_MAX + 1];
	const char *s = src;
	while (*s == '/')
		s++; /* "/x" names the context's x, as in Docker */
	if (src_clean(s, rel) < 0)
		return fail(w->msg, w->msglen, "COPY source %s: outside the build context", src);
	if (has_wild(rel)) {
		/* walk from the literal directories before the first wildcard */
		size_t lit = 0;
		char tmp[CT_PATH_MAX + 1];
		for (const char *c = rel; (c = strchr(c, '/')); c++) {
			memcpy(tmp, rel, (size_t)(c - rel));
			tmp[c - rel] = '\0';
			if (has_wild(tmp))
				break;
			lit = (size_t)(c - rel);
		}
		char dir[CT_PATH_MAX + 1];
		memcpy(dir, rel, lit);
		dir[lit] = '\0';
		int fd;
		if (lit) {
			const char *base;
			int pfd = open_parent(root, dir, &base);
			fd = pfd >= 0 ? openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
							      O_CLOEXEC)
				      : -1;
			if (pfd >= 0)
				close(pfd);
		} else {
			fd = dup(root);
		}
		size_t before = p->n;
		int rc = fd >= 0 ? glob_walk(w, p, rel, fd, dir, 0) : 0;
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return -1;
		if (p->n == before)
			return fail(w->msg, w->msglen,
				    "COPY source %s: no file in the context matches it", src);
		return 0;
	}
	if (!rel[0])
		return plan_add(p, "", 1) < 0 ? fail(w->msg, w->msglen, "out of memory") : 0;
	const char *base;
	int pfd = open_parent(root, rel, &base);
	struct stat st;
	if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		if (pfd >= 0)
			close(pfd);
		if (e == ELOOP || e == ENOTDIR)
			return fail(w->msg, w->msglen,
				    "COPY source %s: passes through a symlink or a file", src);
		return fail(w->msg, w->msglen, "COPY source %s: not found in the build context",
			    src);
	}
	close(pfd);
	int dir = S_ISDIR(st.st_mode);
	if (dfignore_match(w->ign, rel) && !(dir && dfignore_may_reinclude(w->ign, rel)))
		return fail(w->msg, w->msglen,
			    "COPY source %s: excluded by .dockerignore", src);
	return plan_add(p, rel, dir) < 0 ? fail(w->msg, w->msglen, "out of memory") : 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The whole COPY/ADD through one sink; *dir gets the put's directory. */
static int run_copy(struct sink *k, const char *ctx_dir, const struct dfignore *ign,
		    const char *const *srcs, size_t nsrcs, const char *const *inl_names,
		    const char *const *inl_bodies, size_t ninl, const char *dest,
		    const struct ctxtar_opts *o, char *dir, size_t n, char *msg, size_t msglen)
{
	struct walk w = { .ign = ign, .o = o, .k = k, .msg = msg, .msglen = msglen };
	struct plan p = { 0 };
	size_t dl = strlen(dest);
	if (dest[0] != '/' || dl > CT_PATH_MAX)
		return fail(msg, msglen, "the destination %s must be an absolute path", dest);
	if (nsrcs + ninl == 0)
		return fail(msg, msglen, "COPY needs a source");
	int slash = dest[dl - 1] == '/';
	int root = open(ctx_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return fail(msg, msglen, "cannot open the build context: %s", strerror(errno));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nsrcs; i++)
		rc = plan_source(&w, &p, root, srcs[i]);
	if (rc == 0 && (p.n + ninl > 1 || nsrcs + ninl > 1) && !slash)
		rc = fail(msg, msglen,
			  "COPY with more than one source needs a destination ending in '/' (%s)",
			  dest);
	/* the put's directory: dest itself, or its parent for one file renamed */
	char pdir[CT_PATH_MAX + 1], one[CT_PATH_MAX + 1] = "";
	snprintf(pdir, sizeof pdir, "%s", dest);
	while (strlen(pdir) > 1 && pdir[strlen(pdir) - 1] == '/')
		pdir[strlen(pdir) - 1] = '\0';
	int single_file = rc == 0 && !slash && ((p.n == 1 && !p.v[0].dir) || (ninl == 1 && !p.n));
	int fd1 = -1;
	if (single_file && p.n == 1 && k->unpack) {
		/* ADD of one archive unpacks into dest, a directory */
		const char *b;
		char rel[CT_PATH_MAX + 1];
		snprintf(rel, sizeof rel, "%s", p.v[0].rel);
		int pfd = open_parent(root, rel, &b);
		fd1 = pfd >= 0 ? openat(pfd, b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (pfd >= 0)
			close(pfd);
		if (fd1 >= 0 && is_tar(fd1))
			single_file = 0;
		if (fd1 >= 0)
			close(fd1);
	}
	if (single_file) {
		char *s = strrchr(pdir, '/');
		snprintf(one, sizeof one, "%s", s + 1);
		if (s == pdir)
			pdir[1] = '\0';
		else
			*s = '\0';
	}
	if (rc == 0 && strlen(pdir) >= n)
		rc = fail(msg, msglen, "%s: path too long", pdir);
	if (rc == 0)
		snprintf(dir, n, "%s", pdir);
	if (k->md && rc == 0) {
		md_str(k->md, pdir);
		md_u64(k->md, (uint64_t)o->uid);
		md_u64(k->md, (uint64_t)o->gid);
		md_u64(k->md, (uint64_t)(int64_t)o->chmod);
		md_u64(k->md, (uint64_t)o->add_unpack);
	}
	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		struct src *s = &p.v[i];
		if (s->dir && !s->rel[0]) {
			rc = walk_contents(&w, root, "", "", 0);
			continue;
		}
		const char *b;
		char rel[CT_PATH_MAX + 1];
		snprintf(rel, sizeof rel, "%s", s->rel);
		int pfd = open_parent(root, rel, &b);
		if (pfd < 0) {
			rc = fail(msg, msglen, "cannot read %s: %s", s->rel, strerror(errno));
			break;
		}
		if (s->dir) {
			int fd = openat(pfd, b, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = fd < 0 ? fail(msg, msglen, "cannot read %s: %s", s->rel, strerror(errno))
				    : walk_contents(&w, fd, s->rel, "", 0);
			if (fd >= 0)
				close(fd);
		} else {
			int done = 0;
			if (k->unpack) {
				int fd = openat(pfd, b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				if (fd >= 0 && is_tar(fd)) {
					rc = walk_unpack(&w, fd, s->rel, "");
					done = 1;
				}
				if (fd >= 0)
					close(fd);
			}
			if (!done)
				rc = walk_one(&w, pfd, b, s->rel, one[0] ? one : base_name(s->rel), 0);
		}
		close(pfd);
	}
	for (size_t i = 0; rc == 0 && i < ninl; i++) {
		struct centry e = {
			.name = one[0] ? one : base_name(inl_names[i]),
			.type = AE_IFREG,
			.mode = o->chmod >= 0 ? (unsigned)o->chmod & 07777 : 0644,
			.uid = own(o->uid),
			.gid = own(o->gid),
			.size = strlen(inl_bodies[i]),
			.fd = -1,
			.body = inl_bodies[i],
		};
		if (!e.name[0])
			rc = fail(msg, msglen, "an inline file without a name");
		else
			rc = sink_emit(k, &e);
	}
	close(root);
	plan_free(&p);
	return rc;
}

int ctxtar_copy(int fd, const char *ctx_dir, const struct dfignore *ign,
		const char *const *srcs, size_t nsrcs, const char *const *inl_names,
		const char *const *inl_bodies, size_t ninl, const char *dest,
		const struct ctxtar_opts *o, char *dir, size_t n, char *msg, size_t msglen)
{
	struct sink k = { .unpack = o->add_unpack, .msg = msg, .msglen = msglen };
	if (!(k.buf = malloc(CT_CHUNK)) || !(k.tw = archive_write_new())) {
		free(k.buf);
		return fail(msg, msglen, "out of memory");
	}
	/* ustar, with pax records only where ustar cannot say it (PROTOCOL.md 1.3.1) */
	archive_write_set_format_pax_restricted(k.tw);
	archive_write_set_bytes_in_last_block(k.tw, 1);
	int rc = 0;
	if (archive_write_open_fd(k.tw, fd) != ARCHIVE_OK)
		rc = fail(msg, msglen, "write: %s", archive_error_string(k.tw));
	if (rc == 0)
		rc = run_copy(&k, ctx_dir, ign, srcs, nsrcs, inl_names, inl_bodies, ninl, dest, o,
			      dir, n, msg, msglen);
	if (archive_write_close(k.tw) != ARCHIVE_OK && rc == 0)
		rc = fail(msg, msglen, "write: %s", archive_error_string(k.tw));
	archive_write_free(k.tw);
	free(k.buf);
	return rc;
}

int ctxtar_hash(const char *ctx_dir, const struct dfignore *ign, const char *const *srcs,
		size_t nsrcs, const char *const *inl_names, const char *const *inl_bodies,
		size_t ninl, const char *dest, const struct ctxtar_opts *o, char hex[65],
		char *msg, size_t msglen)
{
	struct sink k = { .unpack = 0, .msg = msg, .msglen = msglen };
	char dir[CT_PATH_MAX + 1];
	if (!(k.buf = malloc(CT_CHUNK)) || !(k.md = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(k.md, EVP_sha256(), NULL) != 1) {
		free(k.buf);
		EVP_MD_CTX_free(k.md);
		return fail(msg, msglen, "out of memory");
	}
	md_str(k.md, "hearth ctxtar 1");
	int rc = run_copy(&k, ctx_dir, ign, srcs, nsrcs, inl_names, inl_bodies, ninl, dest, o, dir,
			  sizeof dir, msg, msglen);
	uint8_t d[32];
	unsigned dn = 0;
	if (rc == 0 && EVP_DigestFinal_ex(k.md, d, &dn) == 1 && dn == 32) {
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	} else if (rc == 0) {
		rc = fail(msg, msglen, "sha256 failed");
	}
	EVP_MD_CTX_free(k.md);
	free(k.buf);
	return rc;
}
