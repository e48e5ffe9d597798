/* test_ramfile.c - saving the pages a process wrote over a privately mapped
 * base file (this process is the "VM"), and applying memory deltas with
 * every record checked. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "vmm/ramfile.h"

#define PG 4096
#define NPG 64

static int tmpfile_in(char *dir, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	return open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
}

/* Base: page i holds byte 'a'+i%20 where i%3==0, else a hole. */
static int make_base(char *dir, char *path, size_t n)
{
	int fd = tmpfile_in(dir, "base", path, n);
	unsigned char b[PG];
	for (int i = 0; i < NPG; i += 3) {
		memset(b, 'a' + i % 20, PG);
		if (pwrite(fd, b, PG, (off_t)i * PG) != PG)
			return -1;
	}
	if (ftruncate(fd, NPG * PG) < 0)
		return -1;
	return fd;
}

static int page_is(int fd, int i, int c)
{
	unsigned char b[PG];
	if (pread(fd, b, PG, (off_t)i * PG) != PG)
		return 0;
	for (int k = 0; k < PG; k++)
		if (b[k] != c)
			return 0;
	return 1;
}

TEST(save_copies_base_and_written_pages)
{
	char dir[] = "/tmp/hearth-test-ramXXXXXX", bp[300], op[300], err[256];
	CHECK(mkdtemp(dir) != NULL);
	int base = make_base(dir, bp, sizeof(bp));
	CHECK(base >= 0);
	unsigned char *m = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, base, 0);
	CHECK(m != MAP_FAILED);
	volatile unsigned char sink = m[PG * 1]; /* read only: stays the base's */
	(void)sink;
	memset(m + 4 * PG, 'X', PG);  /* over a hole */
	memset(m + 6 * PG, 0, PG);    /* zero over data: must read back zero */
	memset(m + 9 * PG, 'Y', 2 * PG);
	int out = tmpfile_in(dir, "out", op, sizeof(op));
	struct ramfile_stats st;
	CHECK_EQ(ramfile_save(getpid(), base, NPG * PG, out, &st, err, sizeof(err)), 0);
	CHECK_EQ(st.dirty_pages, 4u);
	CHECK_EQ(st.dirty_bytes, 3u * PG);
	struct stat s;
	CHECK(fstat(out, &s) == 0 && s.st_size == NPG * PG);
	CHECK(page_is(out, 0, 'a'));
	CHECK(page_is(out, 1, 0));
	CHECK(page_is(out, 3, 'a' + 3));
	CHECK(page_is(out, 4, 'X'));
	CHECK(page_is(out, 6, 0));
	CHECK(page_is(out, 9, 'Y') && page_is(out, 10, 'Y'));
	CHECK(page_is(out, 12, 'a' + 12));
	/* The base file itself was never written. */
	CHECK(page_is(base, 4, 0) && page_is(base, 6, 'a' + 6));

	/* The same as a delta, applied to a copy of the base: the same result. */
	char dp[300], cp[300];
	int delta = tmpfile_in(dir, "delta", dp, sizeof(dp));
	CHECK_EQ(ramfile_save_delta(getpid(), base, NPG * PG, delta, &st, err, sizeof(err)), 0);
	int copy = tmpfile_in(dir, "copy", cp, sizeof(cp));
	unsigned char b[PG];
	for (int i = 0; i < NPG; i++)
		CHECK(pread(base, b, PG, (off_t)i * PG) == PG && pwrite(copy, b, PG, (off_t)i * PG) == PG);
	CHECK_EQ(ramfile_apply_delta(delta, copy, NPG * PG, err, sizeof(err)), 0);
	for (int i = 0; i < NPG; i++) {
		unsigned char x[PG], y[PG];
		CHECK(pread(copy, x, PG, (off_t)i * PG) == PG && pread(out, y, PG, (off_t)i * PG) == PG);
		CHECK(memcmp(x, y, PG) == 0);
	}
	/* Applying twice changes nothing (a restore that died is done again). */
	CHECK_EQ(ramfile_apply_delta(delta, copy, NPG * PG, err, sizeof(err)), 0);
	CHECK(page_is(copy, 4, 'X') && page_is(copy, 6, 0));
	munmap(m, NPG * PG);
	close(base), close(out), close(delta), close(copy);
	unlink(bp), unlink(op), unlink(dp), unlink(cp);
	rmdir(dir);
}

TEST(bad_delta_records_refused)
{
	char dir[] = "/tmp/hearth-test-ramXXXXXX", dp[300], mp[300], err[256];
	CHECK(mkdtemp(dir) != NULL);
	int mem = tmpfile_in(dir, "mem", mp, sizeof(mp));
	CHECK(ftruncate(mem, NPG * PG) == 0);
	static const struct ramfile_rec bad[] = {
		{ 1, 1, 1 },                        /* unaligned */
		{ 0, 0, 1 },                        /* no pages */
		{ NPG * PG, 1, 1 },                 /* past the end */
		{ (NPG - 1) * PG, 2, 1 },           /* runs past the end */
		{ 0, 513, 1 },                      /* more than a chunk */
		{ 0, 1, 7 },                        /* bad flag */
		{ UINT64_MAX - PG + 1, 1, 1 },      /* wraps */
		{ 0, 1, 0 },                        /* data missing */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int d = tmpfile_in(dir, "delta", dp, sizeof(dp));
		CHECK(write(d, &bad[i], sizeof(bad[i])) == (ssize_t)sizeof(bad[i]));
		err[0] = 0;
		CHECK(ramfile_apply_delta(d, mem, NPG * PG, err, sizeof(err)) < 0);
		CHECK(strstr(err, "memory delta") != NULL);
		close(d);
	}
	/* A truncated header. */
	int d = tmpfile_in(dir, "delta", dp, sizeof(dp));
	CHECK(write(d, "abc", 3) == 3);
	CHECK(ramfile_apply_delta(d, mem, NPG * PG, err, sizeof(err)) < 0);
	close(d);
	struct stat s;
	CHECK(fstat(mem, &s) == 0 && s.st_blocks == 0); /* nothing was written */
	close(mem);
	unlink(dp), unlink(mp);
	rmdir(dir);
}

TEST_MAIN(T(save_copies_base_and_written_pages), T(bad_delta_records_refused))
