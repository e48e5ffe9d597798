/* test_capacity.c - the capacity budget (session/capacity.c) */
#include "session/capacity.h"
#include "test.h"

TEST(meminfo)
{
	static const char mi[] = "MemTotal:       24684000 kB\nMemFree:        1000 kB\n"
				 "MemAvailable:   2000 kB\nBuffers: 1 kB\n";
	uint64_t total = 0, avail = 0;
	CHECK_EQ(capacity_parse_meminfo(mi, sizeof mi - 1, &total, &avail), 0);
	CHECK_EQ(total, 24684000ull * 1024);
	CHECK_EQ(avail, 2000ull * 1024);
	static const char old[] = "MemTotal: 100 kB\nMemFree: 50 kB\n";
	CHECK_EQ(capacity_parse_meminfo(old, sizeof old - 1, &total, &avail), 0);
	CHECK_EQ(avail, 50ull * 1024);
	static const char bad[] = "MemTotalx: 100 kB\nMemFree: 5 kB\n";
	CHECK_EQ(capacity_parse_meminfo(bad, sizeof bad - 1, &total, &avail), -1);
	static const char cut[] = "MemTotal:";
	CHECK_EQ(capacity_parse_meminfo(cut, sizeof cut - 1, &total, &avail), -1);
	/* A name inside another line does not count. */
	static const char inner[] = "XMemTotal: 7 kB\nMemFree: 5 kB\n";
	CHECK_EQ(capacity_parse_meminfo(inner, sizeof inner - 1, &total, &avail), -1);
}

TEST(sizes)
{
	uint64_t v = 0;
	CHECK_EQ(capacity_parse_size("1048576", &v), 0);
	CHECK_EQ(v, 1048576u);
	CHECK_EQ(capacity_parse_size("512M", &v), 0);
	CHECK_EQ(v, 512ull << 20);
	CHECK_EQ(capacity_parse_size("8G", &v), 0);
	CHECK_EQ(v, 8ull << 30);
	CHECK_EQ(capacity_parse_size("2GiB", &v), 0);
	CHECK_EQ(v, 2ull << 30);
	CHECK_EQ(capacity_parse_size("64k", &v), 0);
	CHECK_EQ(v, 64ull << 10);
	CHECK_EQ(capacity_parse_size("1T", &v), 0);
	CHECK_EQ(capacity_parse_size("", &v), -1);
	CHECK_EQ(capacity_parse_size("0", &v), -1);
	CHECK_EQ(capacity_parse_size("-1G", &v), -1);
	CHECK_EQ(capacity_parse_size("12X", &v), -1);
	CHECK_EQ(capacity_parse_size("1GG", &v), -1);
	CHECK_EQ(capacity_parse_size("99999999999999999999", &v), -1);
	CHECK_EQ(capacity_parse_size("20000000000T", &v), -1);
}

TEST(admission)
{
	struct capacity_limits c = { .max_vms = 2, .max_memory = 512ull << 20 };
	char why[256];
	CHECK_EQ(capacity_admit(&c, 0, 0, 128ull << 20, why, sizeof why), 0);
	CHECK_EQ(capacity_admit(&c, 1, 128ull << 20, 128ull << 20, why, sizeof why), 0);
	CHECK_EQ(capacity_admit(&c, 2, 256ull << 20, 128ull << 20, why, sizeof why), -1);
	CHECK(strstr(why, "--max-vms") != NULL);
	CHECK_EQ(capacity_admit(&c, 1, 448ull << 20, 128ull << 20, why, sizeof why), -1);
	CHECK(strstr(why, "--max-memory") != NULL);
	/* More than any host has available right now. */
	struct capacity_limits big = { .max_vms = 10, .max_memory = UINT64_MAX / 2 };
	CHECK_EQ(capacity_admit(&big, 0, 0, 1ull << 50, why, sizeof why), -1);
	CHECK(strstr(why, "available") != NULL);
}

TEST(defaults_from_host)
{
	struct capacity_limits c = { 0 };
	char err[128];
	CHECK_EQ(capacity_init(&c, err, sizeof err), 0);
	CHECK(c.host_total > 0);
	CHECK_EQ(c.max_memory, c.host_total - c.host_total / 4);
	CHECK_EQ((uint64_t)c.max_vms, c.max_memory / CAPACITY_VM_UNIT);
	struct capacity_limits given = { .max_vms = 3, .max_memory = 1ull << 30 };
	CHECK_EQ(capacity_init(&given, err, sizeof err), 0);
	CHECK_EQ(given.max_vms, 3);
	CHECK_EQ(given.max_memory, 1ull << 30);
}

TEST_MAIN(T(meminfo), T(sizes), T(admission), T(defaults_from_host))
