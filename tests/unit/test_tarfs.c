/*
 * test_tarfs.c - the agent's FILES put (shell/agent/tarfs.c): the
 * multi-root extraction of MUX_FILES_MULTI (any roots, merged into the
 * directory, made when missing), its refusals, and the one-root rule that
 * the plain put keeps.
 */
#include "protocol/tarhdr.h"
#include "shell/agent/tarfs.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

struct tent {
	const char *path;
	char type; /* 'f', 'd', 'l' */
	const char *data; /* file body or link target */
};

/* A tar stream of the entries in tmp/s.tar, opened for reading. */
static int stream(const struct tent *t, size_t n)
{
	char path[128];
	static uint8_t hdr[TARHDR_ENCODE_MAX], zero[2 * TAR_BLOCK];
	static struct tar_entry e;
	snprintf(path, sizeof path, "%s/s.tar", tmp);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memset(&e, 0, sizeof e);
		snprintf(e.path, sizeof e.path, "%s", t[i].path);
		e.mode = t[i].type == 'd' ? 0755 : 0644;
		e.mtime = 1700000000;
		e.type = t[i].type == 'd' ? TAR_DIR : t[i].type == 'l' ? TAR_SYMLINK : TAR_REG;
		if (t[i].type == 'l')
			snprintf(e.link, sizeof e.link, "%s", t[i].data);
		if (t[i].type == 'f')
			e.size = strlen(t[i].data);
		int k = tarhdr_encode(&e, hdr, sizeof hdr);
		if (k < 0 || write(fd, hdr, (size_t)k) != k)
			return -1;
		if (t[i].type == 'f') {
			if (write(fd, t[i].data, e.size) != (ssize_t)e.size ||
			    write(fd, zero, tarhdr_pad(e.size)) != (ssize_t)tarhdr_pad(e.size))
				return -1;
		}
	}
	if (write(fd, zero, sizeof zero) != sizeof zero || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	return fd;
}

static int put(const struct tent *t, size_t n, const char *dir, int multi, char *err)
{
	int fd = stream(t, n);
	if (fd < 0)
		return -2;
	err[0] = '\0';
	int rc = multi ? tarfs_extract_multi(fd, dir, err, 256) : tarfs_extract(fd, dir, err, 256);
	close(fd);
	return rc;
}

static int body_is(const char *path, const char *want)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)n);
}

TEST(test_setup)
{
	snprintf(tmp, sizeof tmp, "/tmp/test_tarfs.XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
}

TEST(test_multi_roots)
{
	char dir[128], p[256], err[256];
	struct stat st;
	snprintf(dir, sizeof dir, "%s/new/deep/dir", tmp); /* made like mkdir -p */
	struct tent t[] = {
		{ "a", 'f', "A" },
		{ "b/c", 'f', "C" }, /* no entry for b: made 0755 */
		{ "d", 'd', NULL },
		{ "d/e", 'l', "../a" },
	};
	int rc = put(t, 4, dir, 1, err);
	if (rc)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(rc, 0);
	snprintf(p, sizeof p, "%s/a", dir);
	CHECK(body_is(p, "A"));
	snprintf(p, sizeof p, "%s/b/c", dir);
	CHECK(body_is(p, "C"));
	snprintf(p, sizeof p, "%s/b", dir);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755);
	snprintf(p, sizeof p, "%s/d/e", dir);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(lstat(dir, &st) == 0 && (st.st_mode & 0777) == 0755);
}

TEST(test_multi_merges)
{
	char dir[128], p[256], err[256];
	snprintf(dir, sizeof dir, "%s/merge", tmp);
	struct tent first[] = { { "x", 'd', NULL }, { "x/old", 'f', "old" }, { "x/f", 'f', "1" } };
	CHECK_EQ(put(first, 3, dir, 1, err), 0);
	snprintf(p, sizeof p, "%s/x/f", dir);
	CHECK_EQ(chmod(p, 0444), 0); /* replaced, not written into */
	struct tent second[] = { { "x/f", 'f', "22" }, { "y", 'f', "y" } };
	CHECK_EQ(put(second, 2, dir, 1, err), 0);
	CHECK(body_is(p, "22"));
	snprintf(p, sizeof p, "%s/x/old", dir);
	CHECK(body_is(p, "old"));
	snprintf(p, sizeof p, "%s/y", dir);
	CHECK(body_is(p, "y"));
}

TEST(test_multi_refusals)
{
	char dir[128], p[256], err[256], out[128];
	struct stat st;
	snprintf(dir, sizeof dir, "%s/ref", tmp);
	struct tent up[] = { { "../escape", 'f', "x" } };
	CHECK_EQ(put(up, 1, dir, 1, err), -1);
	CHECK(strstr(err, "unsafe") != NULL);
	snprintf(p, sizeof p, "%s/escape", tmp);
	CHECK(lstat(p, &st) < 0);
	struct tent abs[] = { { "/abs", 'f', "x" } };
	CHECK_EQ(put(abs, 1, dir, 1, err), -1);
	/* a link in the stream, then a write through it */
	snprintf(out, sizeof out, "%s/outside", tmp);
	CHECK_EQ(mkdir(out, 0755), 0);
	struct tent through[] = { { "s", 'l', out }, { "s/x", 'f', "x" } };
	CHECK_EQ(put(through, 2, dir, 1, err), -1);
	CHECK(strstr(err, "symlink") != NULL);
	snprintf(p, sizeof p, "%s/x", out);
	CHECK(lstat(p, &st) < 0);
	/* a relative directory is refused */
	CHECK_EQ(put(up + 0, 0, "rel/dir", 1, err), -1);
}

TEST(test_single_root_kept)
{
	char dir[128], err[256];
	snprintf(dir, sizeof dir, "%s/single", tmp);
	CHECK_EQ(mkdir(dir, 0755), 0);
	struct tent two[] = { { "a", 'f', "A" }, { "b", 'f', "B" } };
	CHECK_EQ(put(two, 2, dir, 0, err), -1);
	CHECK(strstr(err, "more than one") != NULL);
	CHECK_EQ(put(two, 1, dir, 0, err), 0);
}

TEST(test_cleanup)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	CHECK_EQ(system(cmd), 0);
}

TEST_MAIN(T(test_setup), T(test_multi_roots), T(test_multi_merges), T(test_multi_refusals),
	  T(test_single_root_kept), T(test_cleanup))
