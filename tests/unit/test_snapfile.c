/* test_snapfile.c - snapshot manifest round trip, refusal of bad manifests, XXH64. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "vmm/snapfile.h"

TEST(xxh64_known_values)
{
	/* Reference values of XXH64 with seed 0. */
	CHECK_EQ(snapfile_xxh64("", 0), 0xEF46DB3751D8E999ULL);
	CHECK_EQ(snapfile_xxh64("a", 1), 0xD24EC4F1A98C6E5BULL);
	CHECK_EQ(snapfile_xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
}

TEST(xxh64_streaming_matches_oneshot)
{
	char dir[] = "/tmp/hearth-test-snapXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/f", dir);
	size_t n = (1u << 20) * 2 + 77; /* crosses the 1 MiB chunking and leaves a tail */
	unsigned char *b = malloc(n);
	CHECK(b != NULL);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 131 + (i >> 9));
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	CHECK_EQ(fwrite(b, 1, n, f), n);
	fclose(f);
	FILE *r = fopen(path, "r");
	uint64_t size = 0, h = 0;
	char err[256];
	CHECK_EQ(snapfile_hash_fd(fileno(r), &size, &h, err, sizeof(err)), 0);
	fclose(r);
	CHECK_EQ(size, (uint64_t)n);
	CHECK_EQ(h, snapfile_xxh64(b, n));
	free(b);
	unlink(path);
	rmdir(dir);
}

static void sample(struct snap_manifest *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->engine, "qemu");
	strcpy(m->accel, "tcg");
	strcpy(m->kernel, "/k/vmlinux");
	strcpy(m->initrd, "/k/initrd \"quoted\"");
	strcpy(m->cmdline, "console=ttyS0 quiet");
	m->mem_mib = 128;
	m->vcpus = 2;
	m->mem_size = 1234567;
	m->mem_hash = 0xfedcba9876543210ULL;
	m->has_disk = 1;
	strcpy(m->disk_backing, "/base/disk.raw");
	m->disk_size = 196608;
	m->disk_hash = 1;
}

/* A version 2 suspend snapshot with an empty delta, no disk. */
static void sample_v2(struct snap_manifest *a)
{
	sample(a);
	a->version = SNAP_VERSION;
	a->mem_size = (uint64_t)a->mem_mib << 20;
	a->state_size = 5;
	a->state_hash = snapfile_xxh64("state", 5);
	a->consumable = 1;
	a->has_delta = 1;
	a->delta_size = 0;
	a->delta_hash = snapfile_xxh64("", 0);
	a->has_disk = 0;
}

TEST(manifest_round_trip)
{
	char dir[] = "/tmp/hearth-test-snapXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct snap_manifest a, b;
	sample(&a);
	char err[512];
	CHECK_EQ(snapfile_write(dir, &a, err, sizeof(err)), 0);
	CHECK_EQ(snapfile_read(dir, &b, err, sizeof(err)), 0);
	CHECK_STR(b.kernel, a.kernel);
	CHECK_STR(b.initrd, a.initrd);
	CHECK_STR(b.base_disk, "");
	CHECK_STR(b.cmdline, a.cmdline);
	CHECK_STR(b.disk_backing, a.disk_backing);
	CHECK_EQ(b.mem_mib, 128u);
	CHECK_EQ(b.vcpus, 2u);
	CHECK_EQ(b.mem_size, a.mem_size);
	CHECK_EQ(b.mem_hash, a.mem_hash);
	CHECK_EQ(b.has_disk, 1);
	CHECK_EQ(b.disk_hash, 1u);
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MANIFEST);
	unlink(p);
	rmdir(dir);
}

/* A delta over another snapshot's memory (a suspended clone over its image):
 * the base round-trips, memory.bin is looked for there, and a base that is
 * relative, climbs out with "..", or comes without a delta is refused. */
TEST(manifest_v2_memory_base)
{
	char dir[] = "/tmp/hearth-test-snapXXXXXX", img[] = "/tmp/hearth-test-imgXXXXXX";
	CHECK(mkdtemp(dir) != NULL && mkdtemp(img) != NULL);
	struct snap_manifest a, b;
	sample_v2(&a);
	snprintf(a.mem_base, sizeof(a.mem_base), "%s", img);
	a.base_state_size = 12058;
	a.base_state_hash = 0x20b3e67a7ca73b26ull;
	char err[512], p[300];
	CHECK_EQ(snapfile_write(dir, &a, err, sizeof(err)), 0);
	CHECK_EQ(snapfile_read(dir, &b, err, sizeof(err)), 0);
	CHECK(strcmp(b.mem_base, img) == 0);
	CHECK(b.base_state_size == a.base_state_size && b.base_state_hash == a.base_state_hash);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_STATE);
	FILE *f = fopen(p, "w");
	fputs("state", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_DELTA);
	fclose(fopen(p, "w"));
	/* No memory.bin in the base yet: refused, naming the base's. */
	CHECK(snapfile_verify(dir, &b, err, sizeof(err)) < 0);
	CHECK(strstr(err, img) != NULL);
	snprintf(p, sizeof(p), "%s/%s", img, SNAP_MEMORY);
	fclose(fopen(p, "w"));
	CHECK_EQ(truncate(p, (off_t)a.mem_size), 0);
	CHECK_EQ(snapfile_verify(dir, &b, err, sizeof(err)), 0);
	unlink(p);
	rmdir(img);
	static const char *const names[] = { SNAP_STATE, SNAP_DELTA, SNAP_MANIFEST };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	/* The last: a good base, but nothing says which memory it held. */
	static const char *const bad[] = { "img", "/a/../etc", "/a/..", "/a\\nb", "/img-nostate" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		char text[1024];
		int nodelta = i == sizeof(bad) / sizeof(bad[0]);
		snprintf(text, sizeof(text),
			 "{\"format\": \"hearth-snapshot\", \"version\": 2, \"engine\": \"qemu\", "
			 "\"accel\": \"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 1, \"vcpus\": 1, "
			 "\"kind\": \"suspend\", \"memory\": {\"file\": \"memory.bin\", \"size\": "
			 "1048576, \"layout\": \"raw\", \"base\": \"%s\"%s}, \"state\": {\"file\": "
			 "\"state.bin\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}",
			 nodelta ? "/img" : bad[i],
			 nodelta ? "" : ", \"delta\": {\"file\": \"memory.delta\", \"size\": 1, "
					"\"xxh64\": \"0000000000000001\"}");
		err[0] = 0;
		CHECK(snapfile_parse(text, strlen(text), &b, err, sizeof(err)) < 0);
		CHECK(strstr(err, "base") != NULL);
	}
	static const char good[] =
		"{\"format\": \"hearth-snapshot\", \"version\": 2, \"engine\": \"qemu\", "
		"\"accel\": \"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 1, \"vcpus\": 1, "
		"\"kind\": \"suspend\", \"memory\": {\"file\": \"memory.bin\", \"size\": 1048576, "
		"\"layout\": \"raw\", \"base\": \"/img\", \"baseState\": {\"file\": \"state.bin\", "
		"\"size\": 7, \"xxh64\": \"00000000000000aa\"}, \"delta\": {\"file\": "
		"\"memory.delta\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}, \"state\": "
		"{\"file\": \"state.bin\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}";
	CHECK_EQ(snapfile_parse(good, strlen(good), &b, err, sizeof(err)), 0);
	CHECK(!strcmp(b.mem_base, "/img") && b.base_state_size == 7 && b.base_state_hash == 0xaa);
}

TEST(manifest_refusals)
{
	struct snap_manifest m;
	char err[512];
	static const char *const bad[] = {
		"",
		"{\"format\": \"hearth-snapshot\", \"version\": 1",
		"{\"format\": \"other\", \"version\": 1}",
		"{\"format\": \"hearth-snapshot\", \"version\": 2}",
		"{\"format\": \"hearth-snapshot\", \"version\": 1, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 0, \"vcpus\": 1}",
		"{\"format\": \"hearth-snapshot\", \"version\": 1, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 128, \"vcpus\": 1}",
		"{\"format\": \"hearth-snapshot\", \"version\": 1, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 128, \"vcpus\": 1, \"memory\": {\"file\": "
		"\"../../etc/passwd\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}",
		"{\"format\": \"hearth-snapshot\", \"version\": 1, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 128, \"vcpus\": 1, \"memory\": {\"file\": "
		"\"memory.bin\", \"size\": -5, \"xxh64\": \"0000000000000001\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(snapfile_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)) < 0);
		CHECK(err[0] != 0);
	}
}

TEST(verify_catches_truncation_and_corruption)
{
	char dir[] = "/tmp/hearth-test-snapXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MEMORY);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	fputs("guest memory image", f);
	fclose(f);
	struct snap_manifest m;
	memset(&m, 0, sizeof(m));
	m.mem_size = 18;
	m.mem_hash = snapfile_xxh64("guest memory image", 18);
	char err[512];
	CHECK_EQ(snapfile_verify(dir, &m, err, sizeof(err)), 0);
	m.mem_hash ^= 1;
	CHECK(snapfile_verify(dir, &m, err, sizeof(err)) < 0);
	CHECK(strstr(err, "corrupt") != NULL);
	m.mem_hash ^= 1;
	CHECK_EQ(truncate(p, 10), 0);
	CHECK(snapfile_verify(dir, &m, err, sizeof(err)) < 0);
	CHECK(strstr(err, "truncated") != NULL);
	unlink(p);
	CHECK(snapfile_verify(dir, &m, err, sizeof(err)) < 0);
	rmdir(dir);
}

TEST(manifest_v2_round_trip_and_size_only_memory)
{
	char dir[] = "/tmp/hearth-test-snapXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct snap_manifest a, b;
	sample_v2(&a);
	char err[512], p[300];
	CHECK_EQ(snapfile_write(dir, &a, err, sizeof(err)), 0);
	CHECK_EQ(snapfile_read(dir, &b, err, sizeof(err)), 0);
	CHECK_EQ(b.version, SNAP_VERSION);
	CHECK_EQ(b.consumable, 1);
	CHECK_EQ(b.has_delta, 1);
	CHECK_EQ(b.state_hash, a.state_hash);
	CHECK_EQ(b.mem_size, a.mem_size);
	/* memory.bin: size only (a sparse file of the memory size). */
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MEMORY);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	fclose(f);
	CHECK_EQ(truncate(p, (off_t)a.mem_size), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_STATE);
	f = fopen(p, "w");
	fputs("state", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_DELTA);
	f = fopen(p, "w");
	fclose(f);
	CHECK_EQ(snapfile_verify(dir, &b, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MEMORY);
	CHECK_EQ(truncate(p, 4096), 0);
	CHECK(snapfile_verify(dir, &b, err, sizeof(err)) < 0);
	CHECK(strstr(err, "truncated") != NULL);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_DELTA);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_STATE);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MEMORY);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, SNAP_MANIFEST);
	unlink(p);
	rmdir(dir);
	/* A memory entry whose size is not the memory size, an unknown kind. */
	static const char *const bad[] = {
		"{\"format\": \"hearth-snapshot\", \"version\": 2, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 1, \"vcpus\": 1, \"kind\": \"suspend\", "
		"\"memory\": {\"file\": \"memory.bin\", \"size\": 4096, \"layout\": \"raw\"}, "
		"\"state\": {\"file\": \"state.bin\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}",
		"{\"format\": \"hearth-snapshot\", \"version\": 2, \"engine\": \"qemu\", \"accel\": "
		"\"tcg\", \"kernel\": \"/k\", \"memoryMiB\": 1, \"vcpus\": 1, \"kind\": \"other\", "
		"\"memory\": {\"file\": \"memory.bin\", \"size\": 1048576, \"layout\": \"raw\"}, "
		"\"state\": {\"file\": \"state.bin\", \"size\": 1, \"xxh64\": \"0000000000000001\"}}",
	};
	struct snap_manifest m;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(snapfile_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)) < 0);
		CHECK(err[0] != 0);
	}
}

TEST_MAIN(T(xxh64_known_values), T(manifest_v2_round_trip_and_size_only_memory), T(xxh64_streaming_matches_oneshot), T(manifest_round_trip),
	  T(manifest_refusals), T(verify_catches_truncation_and_corruption),
	  T(manifest_v2_memory_base))
