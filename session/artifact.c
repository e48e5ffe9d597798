/*
 * artifact.c - codeArtifact.uri to a zip, checked and unpacked with
 * libarchive (zip format only); see artifact.h.
 *
 * One scan function serves both passes: the check (nothing written) and the
 * extraction (which runs the same checks again, so a zip that changes
 * between the passes is still bounded). Sizes are counted on the bytes
 * libarchive actually inflates, never taken from the headers alone. Files
 * are created relative to directory fds with O_NOFOLLOW|O_EXCL, so no entry
 * can write through a symlink or over another entry.
 */
#include "session/artifact.h"
#include "session/fsutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ART_NAME_MAX ARTIFACT_NAME_MAX
#define ART_CHUNK (64u * 1024)
/* Below this many unpacked bytes the ratio is not judged: a small zip of
 * text compresses far better than 200:1 without being a bomb. */
#define ART_RATIO_FLOOR (16ull << 20)

static const char *const br_names[BR_COUNT] = {
	[BR_NONE] = "",
	[BR_S3_ACCESS_DENIED] = "S3_ACCESS_DENIED",
	[BR_S3_NO_SUCH_KEY] = "S3_NO_SUCH_KEY",
	[BR_S3_NO_SUCH_BUCKET] = "S3_NO_SUCH_BUCKET",
	[BR_S3_INVALID_OBJECT] = "S3_INVALID_OBJECT",
	[BR_ARCHIVE_DOCKERFILE_NOT_FOUND] = "ARCHIVE_DOCKERFILE_NOT_FOUND",
	[BR_ARCHIVE_INVALID] = "ARCHIVE_INVALID",
	[BR_CONTAINER_BUILD_FAILED] = "CONTAINER_BUILD_FAILED",
	[BR_DISK_STORAGE_FULL] = "DISK_STORAGE_FULL",
	[BR_INTERNAL_PLATFORM_ERROR] = "INTERNAL_PLATFORM_ERROR",
};

const char *build_reason_name(enum build_reason r)
{
	return (unsigned)r < BR_COUNT ? br_names[r] : "INTERNAL_PLATFORM_ERROR";
}

void artifact_limits_default(struct artifact_limits *l)
{
	l->max_zip = 512ull << 20;
	l->max_entries = 20000;
	l->max_file = 1ull << 30;
	l->max_total = 2ull << 30;
	l->max_ratio = 200;
}

static int fail(enum build_reason *r, char *msg, size_t msglen, enum build_reason code,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(enum build_reason *r, char *msg, size_t msglen, enum build_reason code,
		const char *fmt, ...)
{
	va_list ap;
	if (r)
		*r = code;
	va_start(ap, fmt);
	if (msg && msglen)
		vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- codeArtifact.uri ---- */

static int resolve_stat(const char *path, enum build_reason *r, char *msg, size_t msglen,
			const char *uri)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == EACCES)
			return fail(r, msg, msglen, BR_S3_ACCESS_DENIED, "%s: permission denied", uri);
		return fail(r, msg, msglen, BR_S3_NO_SUCH_KEY, "%s: no such object", uri);
	}
	if (!S_ISREG(st.st_mode))
		return fail(r, msg, msglen, BR_S3_INVALID_OBJECT, "%s: not a regular file", uri);
	return 0;
}

static int s3_name_ok(const char *s, size_t n, int allow_slash)
{
	if (n == 0)
		return 0;
	/* every '/'-separated part non-empty and neither "." nor ".." */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 0 || (l == 1 && s[i] == '.') || (l == 2 && s[i] == '.' && s[i + 1] == '.'))
			return 0;
		if (j < n && !allow_slash)
			return 0;
		i = j + 1;
		if (j + 1 == n)
			return 0; /* a trailing '/' names a "directory", not an object */
	}
	return 1;
}

int artifact_resolve(const char *state_dir, const char *uri, char *path, size_t n,
		     enum build_reason *r, char *msg, size_t msglen)
{
	if (!strncmp(uri, "s3://", 5)) {
		const char *b = uri + 5, *slash = strchr(b, '/');
		size_t bl = slash ? (size_t)(slash - b) : strlen(b);
		if (!s3_name_ok(b, bl, 0))
			return fail(r, msg, msglen, BR_S3_NO_SUCH_BUCKET, "%s: no bucket named", uri);
		int w = snprintf(path, n, "%s/artifacts/%.*s", state_dir, (int)bl, b);
		if (w < 0 || (size_t)w >= n)
			return fail(r, msg, msglen, BR_S3_INVALID_OBJECT, "%s: name too long", uri);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return fail(r, msg, msglen, BR_S3_NO_SUCH_BUCKET,
				    "%s: no such bucket (hearth reads s3://BUCKET/KEY from %s/artifacts/BUCKET/KEY)",
				    uri, state_dir);
		const char *key = slash ? slash + 1 : "";
		if (!*key)
			return fail(r, msg, msglen, BR_S3_NO_SUCH_KEY, "%s: no key named", uri);
		if (!s3_name_ok(key, strlen(key), 1))
			return fail(r, msg, msglen, BR_S3_ACCESS_DENIED,
				    "%s: the key must not hold empty, \".\" or \"..\" parts", uri);
		w = snprintf(path, n, "%s/artifacts/%.*s/%s", state_dir, (int)bl, b, key);
		if (w < 0 || (size_t)w >= n)
			return fail(r, msg, msglen, BR_S3_INVALID_OBJECT, "%s: name too long", uri);
		return resolve_stat(path, r, msg, msglen, uri);
	}
	const char *p = uri;
	if (!strncmp(uri, "file://", 7))
		p = uri + 7;
	if (p[0] != '/')
		return fail(r, msg, msglen, BR_S3_INVALID_OBJECT,
			    "%s: not an s3://, file:/// or absolute path", uri);
	if (strlen(p) >= n)
		return fail(r, msg, msglen, BR_S3_INVALID_OBJECT, "%s: name too long", uri);
	memcpy(path, p, strlen(p) + 1);
	return resolve_stat(path, r, msg, msglen, uri);
}

/* ---- the scan ---- */

struct ent {
	char *name;
	int dir;
};

struct scan {
	const struct artifact_limits *l;
	uint64_t zip_len;
	int dirfd; /* -1: check only */
	struct ent *ents;
	size_t n, cap;
	uint64_t total;
	int dockerfile;
	enum build_reason *r;
	char *msg;
	size_t msglen;
	uint8_t *buf;
	char name[ART_NAME_MAX + 1];
};

#define INVALID(s, ...) fail((s)->r, (s)->msg, (s)->msglen, BR_ARCHIVE_INVALID, __VA_ARGS__)

/* Clean a name in place ("./a//b/" -> "a/b"); -1 for absolute, "..", too long. */
int artifact_clean_name(const char *in, char *out)
{
	size_t o = 0, n = strlen(in);
	if (n > ART_NAME_MAX || in[0] == '/')
		return -1;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && in[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 2 && in[i] == '.' && in[i + 1] == '.')
			return -1;
		if (l > 0 && !(l == 1 && in[i] == '.')) {
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

/* Does a link at name with this target stay inside the context (lexically)? */
static int link_inside(const char *name, const char *target)
{
	long depth = 0;
	if (!target[0] || target[0] == '/' || strlen(target) > ART_NAME_MAX)
		return 0;
	for (const char *c = name; (c = strchr(c, '/')); c++)
		depth++;
	for (const char *c = target; *c;) {
		size_t l = strcspn(c, "/");
		if (l == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (l > 0 && !(l == 1 && c[0] == '.')) {
			depth++;
		}
		c += l;
		if (*c == '/')
			c++;
	}
	return 1;
}

static int io_fail(struct scan *s, const char *what, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return fail(s->r, s->msg, s->msglen, BR_DISK_STORAGE_FULL, "%s: %s", what, strerror(e));
	if (e == EEXIST || e == ELOOP || e == ENOTDIR || e == EISDIR)
		return INVALID(s, "the zip's entry %s collides with another entry", what);
	return fail(s->r, s->msg, s->msglen, BR_INTERNAL_PLATFORM_ERROR, "%s: %s", what, strerror(e));
}

/* The directory fd holding name's last component (parents made 0755, never
 * through a symlink); *base gets the last component. -1 on error. */
static int parent_fd(struct scan *s, char *name, const char **base)
{
	int fd = s->dirfd;
	char *c = name, *slash;
	while ((slash = strchr(c, '/'))) {
		*slash = '\0';
		int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				*slash = '/';
				if (fd != s->dirfd)
					close(fd);
				return io_fail(s, name, e);
			}
			nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = errno;
		*slash = '/';
		if (fd != s->dirfd)
			close(fd);
		if (nfd < 0)
			return io_fail(s, name, e);
		fd = nfd;
		c = slash + 1;
	}
	*base = c;
	return fd;
}

static int entry_record(struct scan *s, int dir)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct ent *e = realloc(s->ents, cap * sizeof *e);
		if (!e)
			return fail(s->r, s->msg, s->msglen, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
		s->ents = e;
		s->cap = cap;
	}
	if (!(s->ents[s->n].name = strdup(s->name)))
		return fail(s->r, s->msg, s->msglen, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	s->ents[s->n].dir = dir;
	s->n++;
	return 0;
}

/* Count (and write) one file's data; sizes judged on what is inflated. */
static int scan_data(struct scan *s, struct archive *a, int perm)
{
	int fd = -1, pfd = -1;
	const char *base;
	uint64_t size = 0;
	if (s->dirfd >= 0) {
		if ((pfd = parent_fd(s, s->name, &base)) < 0)
			return -1;
		mode_t mode = (perm & 0111) ? 0755 : 0644;
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		int e = errno;
		if (pfd != s->dirfd)
			close(pfd);
		if (fd < 0)
			return io_fail(s, s->name, e);
		if (fchmod(fd, mode) < 0) {
			e = errno;
			close(fd);
			return io_fail(s, s->name, e);
		}
	}
	for (;;) {
		la_ssize_t got = archive_read_data(a, s->buf, ART_CHUNK);
		if (got == 0)
			break;
		if (got < 0) {
			if (fd >= 0)
				close(fd);
			return INVALID(s, "%s: %s", s->name, archive_error_string(a));
		}
		size += (uint64_t)got;
		s->total += (uint64_t)got;
		const char *why = NULL;
		if (size > s->l->max_file)
			why = "a file is larger than the per-file limit";
		else if (s->total > s->l->max_total)
			why = "the unpacked files are larger than the total limit";
		else if (s->total > ART_RATIO_FLOOR &&
			 s->total / (s->zip_len ? s->zip_len : 1) >= s->l->max_ratio)
			why = "the compression ratio is past the limit (a zip bomb?)";
		if (why) {
			if (fd >= 0)
				close(fd);
			return INVALID(s, "%s (%s)", why, s->name);
		}
		if (fd >= 0) {
			size_t off = 0;
			while (off < (size_t)got) {
				ssize_t w = write(fd, s->buf + off, (size_t)got - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					int e = errno;
					close(fd);
					return io_fail(s, s->name, e);
				}
				off += (size_t)w;
			}
		}
	}
	if (fd >= 0 && close(fd) < 0)
		return io_fail(s, s->name, errno);
	return 0;
}

static int scan_dir(struct scan *s)
{
	const char *base;
	int pfd = parent_fd(s, s->name, &base);
	if (pfd < 0)
		return -1;
	int rc = 0;
	if (mkdirat(pfd, base, 0755) < 0) {
		struct stat st;
		if (errno != EEXIST || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			rc = io_fail(s, s->name, errno == EEXIST ? EEXIST : errno);
	}
	if (rc == 0 && fchmodat(pfd, base, 0755, 0) < 0)
		rc = io_fail(s, s->name, errno);
	if (pfd != s->dirfd)
		close(pfd);
	return rc;
}

static int scan_symlink(struct scan *s, const char *target)
{
	const char *base;
	int pfd = parent_fd(s, s->name, &base);
	if (pfd < 0)
		return -1;
	int rc = symlinkat(target, pfd, base) < 0 ? io_fail(s, s->name, errno) : 0;
	if (pfd != s->dirfd)
		close(pfd);
	return rc;
}

static int scan_entry(struct scan *s, struct archive *a, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		raw = archive_entry_pathname_utf8(e);
	if (!raw)
		return INVALID(s, "an entry's name cannot be read");
	if (artifact_clean_name(raw, s->name) < 0)
		return INVALID(s, "unsafe entry name %.200s (absolute, \"..\" or too long)", raw);
	if (archive_entry_is_encrypted(e))
		return INVALID(s, "%s is encrypted", s->name);
	if (archive_entry_hardlink(e))
		return INVALID(s, "%s is a hard link", s->name);
	if (s->n >= s->l->max_entries)
		return INVALID(s, "more than %llu entries", (unsigned long long)s->l->max_entries);
	unsigned type = archive_entry_filetype(e);
	if (!s->name[0]) {
		if (type == AE_IFDIR)
			return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : INVALID(s, "a bad entry");
		return INVALID(s, "an entry without a name");
	}
	if (type == AE_IFREG) {
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
		    (uint64_t)archive_entry_size(e) > s->l->max_file)
			return INVALID(s, "a file is larger than the per-file limit (%s)", s->name);
		if (!strcmp(s->name, "Dockerfile"))
			s->dockerfile = 1;
		if (entry_record(s, 0) < 0)
			return -1;
		return scan_data(s, a, (int)archive_entry_perm(e));
	}
	if (type == AE_IFDIR) {
		if (entry_record(s, 1) < 0)
			return -1;
		if (s->dirfd >= 0 && scan_dir(s) < 0)
			return -1;
		return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : INVALID(s, "%s: %s", s->name,
									 archive_error_string(a));
	}
	if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);
		if (!t)
			t = archive_entry_symlink_utf8(e);
		if (!t || !link_inside(s->name, t))
			return INVALID(s, "the symlink %s points out of the context", s->name);
		if (entry_record(s, 0) < 0)
			return -1;
		if (s->dirfd >= 0 && scan_symlink(s, t) < 0)
			return -1;
		return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : INVALID(s, "%s: %s", s->name,
									 archive_error_string(a));
	}
	return INVALID(s, "%s is not a file, directory or symlink", s->name);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

/* After all entries: duplicates, and a file or link used as a directory. */
static int scan_names(struct scan *s)
{
	qsort(s->ents, s->n, sizeof *s->ents, ent_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0 && !strcmp(s->ents[i].name, s->ents[i - 1].name))
			return INVALID(s, "the name %s appears twice", s->ents[i].name);
		/* every parent must be a directory or absent (made on the way) */
		char *nm = s->name;
		snprintf(nm, sizeof s->name, "%s", s->ents[i].name);
		for (char *c = nm; (c = strchr(c, '/')); c++) {
			*c = '\0';
			struct ent key = { .name = nm }, *p;
			p = bsearch(&key, s->ents, s->n, sizeof *s->ents, ent_cmp);
			if (p && !p->dir)
				return INVALID(s, "%s is inside %s, which is not a directory",
					       s->ents[i].name, p->name);
			*c = '/';
		}
	}
	if (!s->dockerfile)
		return fail(s->r, s->msg, s->msglen, BR_ARCHIVE_DOCKERFILE_NOT_FOUND,
			    "no Dockerfile at the root of the zip");
	return 0;
}

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ents[i].name);
	free(s->ents);
	free(s->buf);
	s->ents = NULL;
	s->buf = NULL;
	s->n = s->cap = 0;
}

/* Run the scan over an opened archive; a is freed. */
static int scan_run(struct scan *s, struct archive *a, int open_rc)
{
	int rc = 0;
	if (!(s->buf = malloc(ART_CHUNK)))
		rc = fail(s->r, s->msg, s->msglen, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	else if (open_rc != ARCHIVE_OK)
		rc = INVALID(s, "not a zip: %s", archive_error_string(a));
	while (rc == 0) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = INVALID(s, "%s%s", s->n ? "" : "not a zip: ",
				     archive_error_string(a) ? archive_error_string(a) : "bad entry");
			break;
		}
		rc = scan_entry(s, a, e);
	}
	archive_read_free(a);
	if (rc == 0)
		rc = scan_names(s);
	return rc;
}

static struct archive *zip_reader(void)
{
	struct archive *a = archive_read_new();
	if (a)
		archive_read_support_format_zip(a); /* zip only: anything else is refused */
	return a;
}

#define ZIP_MIN 22 /* the end-of-central-directory record alone */

int artifact_check_mem(const void *zip, size_t len, const struct artifact_limits *l,
		       enum build_reason *r, char *msg, size_t msglen)
{
	struct scan s = { .l = l, .zip_len = len, .dirfd = -1, .r = r, .msg = msg, .msglen = msglen };
	if (len > l->max_zip)
		return fail(r, msg, msglen, BR_ARCHIVE_INVALID, "the zip is larger than %llu bytes",
			    (unsigned long long)l->max_zip);
	if (len < ZIP_MIN)
		return fail(r, msg, msglen, BR_ARCHIVE_INVALID, "not a zip (%zu bytes)", len);
	struct archive *a = zip_reader();
	if (!a)
		return fail(r, msg, msglen, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	int rc = scan_run(&s, a, archive_read_open_memory(a, zip, len));
	scan_free(&s);
	return rc;
}

int artifact_extract(const char *zip_path, const char *dir, const struct artifact_limits *l,
		     uint64_t *code_bytes, enum build_reason *r, char *msg, size_t msglen)
{
	struct scan s = { .l = l, .dirfd = -1, .r = r, .msg = msg, .msglen = msglen };
	struct stat st;
	int fd = open(zip_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(r, msg, msglen, errno == EACCES ? BR_S3_ACCESS_DENIED : BR_S3_NO_SUCH_KEY,
			    "%s: %s", zip_path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(r, msg, msglen, BR_S3_INVALID_OBJECT, "%s: not a regular file", zip_path);
	}
	if ((uint64_t)st.st_size > l->max_zip || st.st_size < ZIP_MIN) {
		close(fd);
		return fail(r, msg, msglen, BR_ARCHIVE_INVALID, "%s", st.st_size < ZIP_MIN ?
			    "not a zip (too short)" : "the zip is larger than the limit");
	}
	s.zip_len = (uint64_t)st.st_size;
	/* pass 1: check only */
	struct archive *a = zip_reader();
	int rc = a ? scan_run(&s, a, archive_read_open_fd(a, fd, ART_CHUNK))
		   : fail(r, msg, msglen, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	scan_free(&s);
	if (rc < 0) {
		close(fd);
		return -1;
	}
	/* pass 2: the same checks, writing */
	if (mkdir(dir, 0700) < 0) {
		int e = errno;
		close(fd);
		return fail(r, msg, msglen, e == ENOSPC || e == EDQUOT ? BR_DISK_STORAGE_FULL
								     : BR_INTERNAL_PLATFORM_ERROR,
			    "%s: %s", dir, strerror(e));
	}
	s.total = 0;
	s.dockerfile = 0;
	s.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s.dirfd < 0 || lseek(fd, 0, SEEK_SET) != 0 || !(a = zip_reader()))
		rc = fail(r, msg, msglen, BR_INTERNAL_PLATFORM_ERROR, "%s: %s", dir, strerror(errno));
	else
		rc = scan_run(&s, a, archive_read_open_fd(a, fd, ART_CHUNK));
	if (s.dirfd >= 0)
		close(s.dirfd);
	close(fd);
	if (rc == 0 && code_bytes)
		*code_bytes = s.total;
	scan_free(&s);
	if (rc < 0)
		fsutil_rm_rf(dir);
	return rc;
}
