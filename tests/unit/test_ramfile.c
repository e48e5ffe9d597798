/* test_ramfile.c - saving the pages a process wrote over a privately mapped
 * base file (this process is the "VM"), and applying memory deltas with
 * every record checked. */
#include <errno.h>
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

/* An image's memory as a sealed memfd: the base's bytes (holes as holes),
 * no write through any descriptor (not even one reopened read-write through
 * /proc, as QEMU opens its mem-path), no shared-writable mapping, no size
 * change; a private mapping takes writes that stay private; and a save with
 * the memfd as base (a clone's first suspend) copies its data. */
TEST(sealed_memfd_refuses_writes)
{
	char dir[] = "/tmp/hearth-test-ramXXXXXX", bp[300], op[300], err[256], self[64];
	CHECK(mkdtemp(dir) != NULL);
	int base = make_base(dir, bp, sizeof(bp));
	CHECK(base >= 0);
	CHECK(ramfile_seal(base, NPG * PG + PG, "t", err, sizeof(err)) < 0); /* wrong size */
	int fd = ramfile_seal(base, NPG * PG, "t", err, sizeof(err));
	CHECK(fd >= 0);
	CHECK_EQ(ramfile_sealed(fd, NPG * PG, err, sizeof(err)), 0);
	CHECK(ramfile_sealed(fd, NPG * PG - PG, err, sizeof(err)) < 0);
	CHECK(ramfile_sealed(base, NPG * PG, err, sizeof(err)) < 0); /* a file: no seals */
	for (int i = 0; i < NPG; i++)
		CHECK(page_is(fd, i, i % 3 ? 0 : 'a' + i % 20));
	struct stat s;
	CHECK(fstat(fd, &s) == 0 && s.st_blocks * 512 <= (NPG / 3 + 1) * PG); /* holes kept */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	int rw = open(self, O_RDWR | O_CLOEXEC);
	CHECK(rw >= 0);
	CHECK(pwrite(rw, "x", 1, 0) < 0 && errno == EPERM);
	CHECK(pwrite(fd, "x", 1, PG) < 0 && errno == EPERM);
	CHECK(ftruncate(rw, 0) < 0 && ftruncate(rw, 2 * NPG * PG) < 0);
	CHECK(fallocate(rw, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG) < 0);
	CHECK(mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0) == MAP_FAILED);
	unsigned char *m = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, rw, 0);
	CHECK(m != MAP_FAILED);
	memset(m + 3 * PG, 'Z', PG);
	CHECK(page_is(fd, 3, 'a' + 3));
	int out = tmpfile_in(dir, "out", op, sizeof(op));
	struct ramfile_stats st;
	CHECK_EQ(ramfile_save(getpid(), fd, NPG * PG, out, &st, err, sizeof(err)), 0);
	CHECK(page_is(out, 3, 'Z') && page_is(out, 6, 'a' + 6) && page_is(out, 1, 0));
	CHECK_EQ(st.dirty_pages, 1u);
	munmap(m, NPG * PG);
	close(rw), close(fd), close(out), close(base);
	unlink(bp), unlink(op);
	rmdir(dir);
}

/* A clone's suspend against its image's sealed memory: the pages it wrote
 * as a delta (counted first), written back into a fresh private mapping of
 * the same memfd (a new process's RAM) reproduce the clone's memory; the
 * memfd stays the image's. */
TEST(delta_over_sealed_base_into_process)
{
	char dir[] = "/tmp/hearth-test-ramXXXXXX", bp[300], dp[300], err[256];
	CHECK(mkdtemp(dir) != NULL);
	int base = make_base(dir, bp, sizeof(bp));
	int fd = ramfile_seal(base, NPG * PG, "t", err, sizeof(err));
	CHECK(fd >= 0);
	unsigned char *m = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED);
	volatile unsigned char sink = m[PG * 3]; /* read: stays the base's */
	(void)sink;
	memset(m + 2 * PG, 'Q', PG);      /* over a hole */
	memset(m + 6 * PG, 0, PG);        /* zero over data */
	memset(m + 20 * PG, 'R', 3 * PG); /* a run */
	uint64_t pages = 0;
	CHECK_EQ(ramfile_written(getpid(), fd, NPG * PG, &pages, err, sizeof(err)), 0);
	CHECK_EQ(pages, 5u);
	int delta = tmpfile_in(dir, "delta", dp, sizeof(dp));
	struct ramfile_stats st;
	CHECK_EQ(ramfile_save_delta(getpid(), fd, NPG * PG, delta, &st, err, sizeof(err)), 0);
	struct stat ds;
	CHECK(fstat(delta, &ds) == 0 && ds.st_size < 5 * PG + 5 * 64); /* only what was written */
	/* The clone ends (its memory kept aside); a new one maps the base. */
	unsigned char *want = malloc(NPG * PG);
	CHECK(want != NULL);
	memcpy(want, m, NPG * PG);
	munmap(m, NPG * PG);
	unsigned char *n = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(n != MAP_FAILED);
	CHECK(n[6 * PG] == 'a' + 6 && n[2 * PG] == 0);
	CHECK_EQ(ramfile_apply_delta_pid(delta, getpid(), fd, NPG * PG, err, sizeof(err)), 0);
	CHECK(memcmp(want, n, NPG * PG) == 0);
	free(want);
	CHECK(page_is(fd, 6, 'a' + 6) && page_is(fd, 2, 0) && page_is(fd, 20, 0)); /* memfd untouched */
	/* A record past what the process maps is refused. */
	munmap(n, NPG * PG);
	n = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(ramfile_apply_delta_pid(delta, getpid(), fd, NPG * PG, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not mapped") != NULL);
	munmap(n, 8 * PG);
	close(fd), close(base), close(delta);
	unlink(bp), unlink(dp);
	rmdir(dir);
}

/* A save past RAM_DIRECT_AFTER (32 MiB) writes the rest with O_DIRECT where
 * the file system takes it (not tmpfs, whose files get every page allocated
 * instead), gives the fd its flags back, and the file holds every page. */
TEST(big_save_goes_direct_and_reads_back)
{
	enum { BIG = 40 << 20 };
	const char *t = getenv("TMPDIR");
	char dir[200], bp[300], op[300], err[256];
	snprintf(dir, sizeof(dir), "%.150s/hearth-test-ramXXXXXX", t && *t ? t : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	int base = tmpfile_in(dir, "base", bp, sizeof(bp));
	CHECK(base >= 0 && ftruncate(base, BIG) == 0);
	unsigned char *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE, base, 0);
	CHECK(m != MAP_FAILED);
	for (size_t i = 0; i < BIG / PG; i++)
		memset(m + i * PG, 1 + (int)(i % 251), PG);
	int out = tmpfile_in(dir, "out", op, sizeof(op));
	int fl = fcntl(out, F_GETFL);
	struct ramfile_stats st;
	CHECK_EQ(ramfile_save(getpid(), base, BIG, out, &st, err, sizeof(err)), 0);
	CHECK_EQ(st.dirty_bytes, (uint64_t)BIG);
	CHECK_EQ(fcntl(out, F_GETFL), fl);
	if (ramfile_holes_safe(dir)) /* not tmpfs */
		CHECK(st.direct_bytes >= (uint64_t)BIG - (32u << 20) - (2u << 20));
	else
		CHECK_EQ(st.direct_bytes, 0u);
	for (size_t i = 0; i < BIG / PG; i += 97)
		CHECK(page_is(out, (int)i, 1 + (int)(i % 251)));
	CHECK(page_is(out, BIG / PG - 1, 1 + (int)((BIG / PG - 1) % 251)));
	munmap(m, BIG);
	close(base), close(out);
	unlink(bp), unlink(op);
	rmdir(dir);
}

TEST_MAIN(T(save_copies_base_and_written_pages), T(bad_delta_records_refused),
	  T(sealed_memfd_refuses_writes), T(delta_over_sealed_base_into_process),
	  T(big_save_goes_direct_and_reads_back))
