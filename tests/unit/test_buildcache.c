/* test_buildcache.c - the step cache's eviction (session/buildcache.c): least
 * recently used first, never an entry another one backs onto, incomplete
 * entries always, hard links not counted. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/buildcache.h"
#include "session/fsutil.h"
#include "test.h"
#include "vmm/snapfile.h"

static char state[64];

static void key_of(char c, char key[BUILDCACHE_KEY])
{
	memset(key, c, BUILDCACHE_KEY - 1);
	key[BUILDCACHE_KEY - 1] = '\0';
}

static void entry_dir(char c, char *out, size_t n)
{
	char k[BUILDCACHE_KEY];
	key_of(c, k);
	buildcache_dir(state, k, out, n);
}

/* An entry named by c (its key is c repeated) holding kib KiB of data, whose
 * disk backs onto the entry named parent (0: the base image), last used at
 * time t; complete unless no_manifest. */
static int mk(char c, char parent, int kib, time_t t, int no_manifest)
{
	char d[PATH_MAX], f[PATH_MAX + 16], err[256];
	entry_dir(c, d, sizeof d);
	if (fsutil_mkdir_p(d, 0700) < 0)
		return -1;
	snprintf(f, sizeof f, "%s/memory.bin", d);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	char *b = calloc(1024, 1);
	memset(b, 'x', 1024);
	for (int i = 0; i < kib; i++)
		if (write(fd, b, 1024) != 1024)
			return -1;
	free(b);
	fsync(fd);
	close(fd);
	if (!no_manifest) {
		struct snap_manifest m;
		memset(&m, 0, sizeof m);
		strcpy(m.engine, "qemu");
		strcpy(m.accel, "tcg");
		strcpy(m.kernel, "/k/vmlinux");
		strcpy(m.cmdline, "console=ttyS0");
		m.mem_mib = 128;
		m.vcpus = 1;
		m.mem_size = (uint64_t)kib * 1024;
		m.has_disk = 1;
		if (parent) {
			char pd[PATH_MAX];
			entry_dir(parent, pd, sizeof pd);
			fsutil_pathf(m.disk_backing, sizeof m.disk_backing, "%s/disk.qcow2", pd);
		} else {
			strcpy(m.disk_backing, "/base/disk.img");
		}
		if (snapfile_write(d, &m, err, sizeof err) < 0)
			return -1;
	}
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	return utimensat(AT_FDCWD, d, ts, 0);
}

static int there(char c)
{
	char d[PATH_MAX];
	entry_dir(c, d, sizeof d);
	return access(d, F_OK) == 0;
}

static void fresh(void)
{
	char d[PATH_MAX];
	snprintf(state, sizeof state, "/tmp/test_buildcache.%d", (int)getpid());
	fsutil_pathf(d, sizeof d, "%s/buildcache", state);
	fsutil_rm_rf(state);
	fsutil_mkdir_p(d, 0700);
}

#define KIB 1024ULL

TEST(under_the_cap_nothing_goes)
{
	struct buildcache_stats st;
	char err[256];
	fresh();
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	CHECK_EQ(mk('b', 'a', 64, 200, 0), 0);
	CHECK_EQ(buildcache_evict(state, 1024 * KIB, INT64_MAX, &st, err, sizeof err), 0);
	CHECK_EQ(st.entries, 2u);
	CHECK_EQ(st.evicted, 0u);
	CHECK(st.bytes >= 128 * KIB);
	CHECK(there('a') && there('b'));
	fsutil_rm_rf(state);
}

TEST(least_recently_used_leaf_first)
{
	struct buildcache_stats st;
	char err[256];
	fresh();
	/* a <- b <- c (a chain, c used last), d alone and used before c. */
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	CHECK_EQ(mk('b', 'a', 64, 110, 0), 0);
	CHECK_EQ(mk('c', 'b', 64, 300, 0), 0);
	CHECK_EQ(mk('d', 0, 64, 200, 0), 0);
	/* One entry's worth over: d goes (a and b are older, but c needs them). */
	CHECK_EQ(buildcache_evict(state, 220 * KIB, INT64_MAX, &st, err, sizeof err), 0); /* 4 x ~68 KiB */
	CHECK_EQ(st.evicted, 1u);
	CHECK(!there('d'));
	CHECK(there('a') && there('b') && there('c'));
	CHECK(st.freed >= 64 * KIB);
	fsutil_rm_rf(state);
}

TEST(removing_a_leaf_frees_its_parent)
{
	struct buildcache_stats st;
	char err[256];
	fresh();
	/* c is the oldest leaf: it goes, then b is a leaf older than d. */
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	CHECK_EQ(mk('b', 'a', 64, 110, 0), 0);
	CHECK_EQ(mk('c', 'b', 64, 120, 0), 0);
	CHECK_EQ(mk('d', 0, 64, 500, 0), 0);
	CHECK_EQ(buildcache_evict(state, 140 * KIB, INT64_MAX, &st, err, sizeof err), 0);
	CHECK_EQ(st.evicted, 2u);
	CHECK(!there('c') && !there('b'));
	CHECK(there('a') && there('d'));
	/* Zero: everything, children before parents. */
	CHECK_EQ(buildcache_evict(state, 0, INT64_MAX, &st, err, sizeof err), 0);
	CHECK_EQ(st.evicted, 2u);
	CHECK(!there('a') && !there('d'));
	fsutil_rm_rf(state);
}

TEST(incomplete_entries_go_unless_backed_onto)
{
	struct buildcache_stats st;
	char err[256];
	fresh();
	CHECK_EQ(mk('a', 0, 8, 900, 1), 0);   /* a failed snapshot, recent */
	CHECK_EQ(mk('b', 0, 8, 100, 1), 0);   /* incomplete, but c backs onto it */
	CHECK_EQ(mk('c', 'b', 8, 100, 0), 0);
	CHECK_EQ(buildcache_evict(state, 1024 * KIB, INT64_MAX, &st, err, sizeof err), 0);
	CHECK_EQ(st.evicted, 1u);
	CHECK(!there('a'));
	CHECK(there('b') && there('c'));
	fsutil_rm_rf(state);
}

TEST(hard_links_free_nothing)
{
	struct buildcache_stats st;
	char err[256], d[PATH_MAX], f[PATH_MAX + 16], l[PATH_MAX + 16];
	fresh();
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	entry_dir('a', d, sizeof d);
	snprintf(f, sizeof f, "%s/memory.bin", d);
	snprintf(l, sizeof l, "%s/kept-image", state);
	CHECK_EQ(link(f, l), 0); /* as a built image's file is */
	CHECK_EQ(buildcache_evict(state, 1024 * KIB, INT64_MAX, &st, err, sizeof err), 0);
	CHECK(st.bytes < 64 * KIB);
	CHECK_EQ(access(l, R_OK), 0);
	fsutil_rm_rf(state);
}

TEST(touch_makes_recent)
{
	struct buildcache_stats st;
	char err[256], k[BUILDCACHE_KEY];
	fresh();
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	CHECK_EQ(mk('b', 0, 64, 200, 0), 0);
	key_of('a', k);
	buildcache_touch(state, k);
	CHECK_EQ(buildcache_evict(state, 100 * KIB, INT64_MAX, &st, err, sizeof err), 0);
	CHECK(there('a') && !there('b'));
	fsutil_rm_rf(state);
}

TEST(entries_used_by_running_builds_stay)
{
	struct buildcache_stats st;
	char err[256];
	fresh();
	/* a <- b, b used at 500 by a running build (started at 400); c old. */
	CHECK_EQ(mk('a', 0, 64, 100, 0), 0);
	CHECK_EQ(mk('b', 'a', 64, 500, 0), 0);
	CHECK_EQ(mk('c', 0, 64, 200, 0), 0);
	CHECK_EQ(mk('d', 0, 8, 450, 1), 0); /* being written by that build */
	CHECK_EQ(buildcache_evict(state, 0, 400LL * 1000000000, &st, err, sizeof err), 0);
	CHECK_EQ(st.evicted, 1u);
	CHECK(!there('c'));
	CHECK(there('a') && there('b') && there('d'));
	fsutil_rm_rf(state);
}

TEST(no_cache_yet)
{
	struct buildcache_stats st;
	char err[256];
	snprintf(state, sizeof state, "/tmp/test_buildcache.none.%d", (int)getpid());
	CHECK_EQ(buildcache_evict(state, 0, INT64_MAX, &st, err, sizeof err), 0);
	CHECK_EQ(st.entries, 0u);
}

TEST_MAIN(T(under_the_cap_nothing_goes), T(least_recently_used_leaf_first),
	  T(removing_a_leaf_frees_its_parent), T(incomplete_entries_go_unless_backed_onto),
	  T(hard_links_free_nothing), T(touch_makes_recent), T(entries_used_by_running_builds_stay),
	  T(no_cache_yet))
