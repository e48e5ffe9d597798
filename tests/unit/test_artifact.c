/*
 * test_artifact.c - the code artifact's zip checks and extraction
 * (session/artifact.c): zips written with libarchive's zip writer into a
 * temp dir, one good and each bad case, plus codeArtifact.uri resolution.
 */
#include "session/artifact.h"
#include "tests/unit/test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

struct zent {
	const char *name;
	char type;        /* 'f' file, 'd' dir, 'l' symlink */
	const char *data; /* file body or link target */
	size_t zeros;     /* 'f' with data NULL: this many zero bytes */
	int perm;
};

/* Write the entries as a zip (deflate) or, with tar set, a tar; 0 or -1. */
static int make_archive(const char *path, const struct zent *z, size_t n, int tar)
{
	struct archive *a = archive_write_new();
	if (tar)
		archive_write_set_format_pax_restricted(a);
	else
		archive_write_set_format_zip(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		return -1;
	static char zeros[65536];
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, z[i].name);
		archive_entry_set_perm(e, z[i].perm ? (unsigned)z[i].perm : 0644);
		size_t size = 0;
		if (z[i].type == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (z[i].type == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, z[i].data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			size = z[i].data ? strlen(z[i].data) : z[i].zeros;
			archive_entry_set_size(e, (la_int64_t)size);
		}
		if (archive_write_header(a, e) != ARCHIVE_OK)
			return -1;
		if (z[i].type == 'f' && z[i].data)
			archive_write_data(a, z[i].data, size);
		for (size_t left = z[i].data ? 0 : size; left > 0;) {
			size_t k = left < sizeof zeros ? left : sizeof zeros;
			archive_write_data(a, zeros, k);
			left -= k;
		}
		archive_entry_free(e);
	}
	int rc = archive_write_close(a) == ARCHIVE_OK ? 0 : -1;
	archive_write_free(a);
	return rc;
}

static void *slurp(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	char *p = malloc((size_t)st.st_size + 1);
	ssize_t r = read(fd, p, (size_t)st.st_size);
	close(fd);
	*n = r < 0 ? 0 : (size_t)r;
	return p;
}

/* Check a zip of these entries in memory and from the file; the reason of both. */
static enum build_reason check(const struct zent *z, size_t n, const struct artifact_limits *lim,
			       char *msg, size_t msglen)
{
	struct artifact_limits def;
	char path[256], dir[256];
	static int seq;
	artifact_limits_default(&def);
	if (!lim)
		lim = &def;
	snprintf(path, sizeof path, "%s/z%d.zip", tmpdir, ++seq);
	snprintf(dir, sizeof dir, "%s/x%d", tmpdir, seq);
	if (make_archive(path, z, n, 0) < 0)
		return BR_COUNT;
	size_t len;
	void *mem = slurp(path, &len);
	enum build_reason r1 = BR_NONE, r2 = BR_NONE;
	msg[0] = '\0';
	int rc1 = artifact_check_mem(mem, len, lim, &r1, msg, msglen);
	free(mem);
	char msg2[256];
	uint64_t bytes = 0;
	int rc2 = artifact_extract(path, dir, lim, &bytes, &r2, msg2, sizeof msg2);
	struct stat st;
	int left = lstat(dir, &st) == 0;
	if (rc1 != rc2 || r1 != r2 || (rc2 < 0 && left))
		return BR_COUNT; /* the passes disagree, or a failed extraction left files */
	return rc1 == 0 ? BR_NONE : r1;
}

#define DF { "Dockerfile", 'f', "FROM busybox\n", 0, 0 }

TEST(test_good_zip_extracted)
{
	struct zent z[] = {
		DF,
		{ "app/", 'd', NULL, 0, 0 },
		{ "app/run.sh", 'f', "#!/bin/sh\necho hi\n", 0, 0755 },
		{ "app/data.txt", 'f', "data", 0, 0600 },
		{ "deep/a/b/c.txt", 'f', "c", 0, 0 }, /* parents without entries */
		{ "cur", 'l', "app/run.sh", 0, 0 },
		{ "app/up", 'l', "../Dockerfile", 0, 0 },
	};
	char path[1024], dir[256], msg[256], buf[64];
	struct artifact_limits l;
	enum build_reason r = BR_NONE;
	uint64_t bytes = 0;
	struct stat st;
	artifact_limits_default(&l);
	snprintf(path, sizeof path, "%s/good.zip", tmpdir);
	snprintf(dir, sizeof dir, "%s/good", tmpdir);
	CHECK_EQ(make_archive(path, z, sizeof z / sizeof z[0], 0), 0);
	CHECK_EQ(artifact_extract(path, dir, &l, &bytes, &r, msg, sizeof msg), 0);
	CHECK_EQ(bytes, strlen("FROM busybox\n") + strlen("#!/bin/sh\necho hi\n") + 4 + 1);
	snprintf(path, sizeof path, "%s/app/run.sh", dir);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755);
	snprintf(path, sizeof path, "%s/app/data.txt", dir);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0644 && st.st_size == 4);
	snprintf(path, sizeof path, "%s/deep/a/b/c.txt", dir);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	snprintf(path, sizeof path, "%s/cur", dir);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	CHECK(n == 10 && !memcmp(buf, "app/run.sh", 10));
	snprintf(path, sizeof path, "%s", dir);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
	/* the directory must not exist yet */
	snprintf(path, sizeof path, "%s/good.zip", tmpdir);
	CHECK_EQ(artifact_extract(path, dir, &l, &bytes, &r, msg, sizeof msg), -1);
}

TEST(test_bad_names)
{
	char msg[256];
	struct zent dotdot[] = { DF, { "../evil", 'f', "x", 0, 0 } };
	CHECK_EQ(check(dotdot, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "unsafe") != NULL);
	struct zent inner[] = { DF, { "a/../../evil", 'f', "x", 0, 0 } };
	CHECK_EQ(check(inner, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	struct zent abs[] = { DF, { "/etc/evil", 'f', "x", 0, 0 } };
	CHECK_EQ(check(abs, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "unsafe") != NULL);
}

TEST(test_bad_symlinks)
{
	char msg[256];
	struct zent etc[] = { DF, { "l", 'l', "/etc", 0, 0 } };
	CHECK_EQ(check(etc, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "points out") != NULL);
	struct zent up[] = { DF, { "a/l", 'l', "../../x", 0, 0 } };
	CHECK_EQ(check(up, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	/* writing through a symlink that stays inside is refused too */
	struct zent through[] = { DF, { "sub/", 'd', NULL, 0, 0 }, { "l", 'l', "sub", 0, 0 },
				  { "l/x", 'f', "x", 0, 0 } };
	CHECK_EQ(check(through, 4, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	/* a link that climbs and comes back stays inside: fine */
	struct zent ok[] = { DF, { "a/l", 'l', "../Dockerfile", 0, 0 } };
	CHECK_EQ(check(ok, 2, NULL, msg, sizeof msg), BR_NONE);
}

TEST(test_duplicates)
{
	char msg[256];
	struct zent dup[] = { DF, { "a", 'f', "1", 0, 0 }, { "a", 'f', "2", 0, 0 } };
	CHECK_EQ(check(dup, 3, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "twice") != NULL);
	struct zent clean[] = { DF, { "a/./b", 'f', "1", 0, 0 }, { "a/b", 'f', "2", 0, 0 } };
	CHECK_EQ(check(clean, 3, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	struct zent df2[] = { DF, { "./Dockerfile", 'f', "FROM x\n", 0, 0 } };
	CHECK_EQ(check(df2, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	struct zent fileparent[] = { DF, { "a", 'f', "1", 0, 0 }, { "a/b", 'f', "2", 0, 0 } };
	CHECK_EQ(check(fileparent, 3, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
}

TEST(test_caps)
{
	char msg[256];
	struct artifact_limits l;
	artifact_limits_default(&l);
	l.max_entries = 3;
	struct zent many[] = { DF, { "a", 'f', "1", 0, 0 }, { "b", 'f', "1", 0, 0 },
			       { "c", 'f', "1", 0, 0 } };
	CHECK_EQ(check(many, 3, &l, msg, sizeof msg), BR_NONE);
	CHECK_EQ(check(many, 4, &l, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "entries") != NULL);
	artifact_limits_default(&l);
	l.max_file = 1000;
	struct zent big[] = { DF, { "big", 'f', NULL, 1001, 0 } };
	CHECK_EQ(check(big, 2, &l, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "per-file") != NULL);
	big[1].zeros = 1000;
	CHECK_EQ(check(big, 2, &l, msg, sizeof msg), BR_NONE);
	artifact_limits_default(&l);
	l.max_total = 1500;
	struct zent total[] = { DF, { "a", 'f', NULL, 1000, 0 }, { "b", 'f', NULL, 1000, 0 } };
	CHECK_EQ(check(total, 3, &l, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "total") != NULL);
}

TEST(test_ratio_bomb)
{
	char msg[256];
	/* 50 MB of zeros deflate to a few dozen KB: past 200:1 */
	struct zent bomb[] = { DF, { "zeros", 'f', NULL, 50u << 20, 0 } };
	CHECK_EQ(check(bomb, 2, NULL, msg, sizeof msg), BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "ratio") != NULL);
}

TEST(test_not_a_zip)
{
	char path[512], msg[256];
	struct artifact_limits l;
	enum build_reason r = BR_NONE;
	artifact_limits_default(&l);
	struct zent z[] = { DF };
	snprintf(path, sizeof path, "%s/t.tar", tmpdir);
	CHECK_EQ(make_archive(path, z, 1, 1), 0);
	size_t len;
	void *mem = slurp(path, &len);
	CHECK(mem != NULL);
	int rc = artifact_check_mem(mem, len, &l, &r, msg, sizeof msg);
	free(mem);
	CHECK_EQ(rc, -1);
	CHECK_EQ(r, BR_ARCHIVE_INVALID);
	CHECK(strstr(msg, "not a zip") != NULL);
	uint8_t rnd[4096];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof rnd; i++)
		rnd[i] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
	r = BR_NONE;
	CHECK_EQ(artifact_check_mem(rnd, sizeof rnd, &l, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_ARCHIVE_INVALID);
	r = BR_NONE;
	CHECK_EQ(artifact_check_mem("", 0, &l, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_ARCHIVE_INVALID);
	/* extraction of the tar: refused, nothing left behind */
	char dir[512];
	struct stat st;
	snprintf(dir, sizeof dir, "%s/tarx", tmpdir);
	r = BR_NONE;
	CHECK_EQ(artifact_extract(path, dir, &l, NULL, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_ARCHIVE_INVALID);
	CHECK(lstat(dir, &st) < 0);
}

TEST(test_no_dockerfile)
{
	char msg[256];
	struct zent none[] = { { "app.py", 'f', "print(1)", 0, 0 } };
	CHECK_EQ(check(none, 1, NULL, msg, sizeof msg), BR_ARCHIVE_DOCKERFILE_NOT_FOUND);
	struct zent nested[] = { { "sub/Dockerfile", 'f', "FROM x", 0, 0 } };
	CHECK_EQ(check(nested, 1, NULL, msg, sizeof msg), BR_ARCHIVE_DOCKERFILE_NOT_FOUND);
	struct zent isdir[] = { { "Dockerfile/", 'd', NULL, 0, 0 } };
	CHECK_EQ(check(isdir, 1, NULL, msg, sizeof msg), BR_ARCHIVE_DOCKERFILE_NOT_FOUND);
	struct zent dotslash[] = { { "./Dockerfile", 'f', "FROM x", 0, 0 } };
	CHECK_EQ(check(dotslash, 1, NULL, msg, sizeof msg), BR_NONE);
}

TEST(test_resolve)
{
	char state[256], p[512], path[512], msg[256];
	enum build_reason r;
	snprintf(state, sizeof state, "%s/state", tmpdir);
	snprintf(p, sizeof p, "%s/artifacts/bkt/dir", state);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "mkdir -p %s && echo x > %s/x.zip", p, p);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(artifact_resolve(state, "s3://bkt/dir/x.zip", path, sizeof path, &r, msg,
				  sizeof msg), 0);
	snprintf(p, sizeof p, "%s/artifacts/bkt/dir/x.zip", state);
	CHECK_STR(path, p);
	r = BR_NONE;
	CHECK_EQ(artifact_resolve(state, "s3://nobkt/x.zip", path, sizeof path, &r, msg,
				  sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_BUCKET);
	CHECK_EQ(artifact_resolve(state, "s3://", path, sizeof path, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_BUCKET);
	CHECK_EQ(artifact_resolve(state, "s3://bkt/missing.zip", path, sizeof path, &r, msg,
				  sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_KEY);
	CHECK_EQ(artifact_resolve(state, "s3://bkt", path, sizeof path, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_KEY);
	CHECK_EQ(artifact_resolve(state, "s3://bkt/dir", path, sizeof path, &r, msg, sizeof msg),
		 -1);
	CHECK_EQ(r, BR_S3_INVALID_OBJECT);
	CHECK_EQ(artifact_resolve(state, "s3://bkt/../bkt/dir/x.zip", path, sizeof path, &r, msg,
				  sizeof msg), -1);
	CHECK_EQ(r, BR_S3_ACCESS_DENIED);
	CHECK_EQ(artifact_resolve(state, "s3://../artifacts/x", path, sizeof path, &r, msg,
				  sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_BUCKET);
	char uri[600];
	snprintf(uri, sizeof uri, "file://%s", p);
	CHECK_EQ(artifact_resolve(state, uri, path, sizeof path, &r, msg, sizeof msg), 0);
	CHECK_STR(path, p);
	CHECK_EQ(artifact_resolve(state, p, path, sizeof path, &r, msg, sizeof msg), 0);
	CHECK_EQ(artifact_resolve(state, "x.zip", path, sizeof path, &r, msg, sizeof msg), -1);
	CHECK_EQ(r, BR_S3_INVALID_OBJECT);
	CHECK_EQ(artifact_resolve(state, "/nonexistent/x.zip", path, sizeof path, &r, msg,
				  sizeof msg), -1);
	CHECK_EQ(r, BR_S3_NO_SUCH_KEY);
}

TEST(test_reason_names)
{
	CHECK_STR(build_reason_name(BR_NONE), "");
	CHECK_STR(build_reason_name(BR_ARCHIVE_INVALID), "ARCHIVE_INVALID");
	CHECK_STR(build_reason_name(BR_ARCHIVE_DOCKERFILE_NOT_FOUND), "ARCHIVE_DOCKERFILE_NOT_FOUND");
	CHECK_STR(build_reason_name(BR_S3_NO_SUCH_BUCKET), "S3_NO_SUCH_BUCKET");
	CHECK_STR(build_reason_name(BR_DISK_STORAGE_FULL), "DISK_STORAGE_FULL");
	CHECK_STR(build_reason_name(BR_INTERNAL_PLATFORM_ERROR), "INTERNAL_PLATFORM_ERROR");
	for (int i = 1; i < BR_COUNT; i++)
		CHECK(build_reason_name((enum build_reason)i)[0] != '\0');
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_artifact.XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
}

static void cleanup(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void test_setup(void)
{
	setup();
	atexit(cleanup);
}

TEST_MAIN(T(test_setup), T(test_good_zip_extracted), T(test_bad_names), T(test_bad_symlinks),
	  T(test_duplicates), T(test_caps), T(test_ratio_bomb), T(test_not_a_zip),
	  T(test_no_dockerfile), T(test_resolve), T(test_reason_names))
