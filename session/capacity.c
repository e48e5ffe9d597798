/*
 * capacity.c - the capacity budget (limits, /proc/meminfo, admission).
 */
#include "session/capacity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "Name:   123 kB" lines; values in KiB. */
static int meminfo_field(const char *text, size_t len, const char *name, uint64_t *out)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + nl < len; i++) {
		if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, name, nl) == 0 &&
		    text[i + nl] == ':') {
			uint64_t v = 0;
			size_t k = i + nl + 1;
			int digits = 0;
			while (k < len && text[k] == ' ')
				k++;
			while (k < len && text[k] >= '0' && text[k] <= '9' && digits < 18) {
				v = v * 10 + (uint64_t)(text[k] - '0');
				k++;
				digits++;
			}
			if (!digits)
				return -1;
			*out = v * 1024;
			return 0;
		}
	}
	return -1;
}

int capacity_parse_meminfo(const char *text, size_t len, uint64_t *total, uint64_t *avail)
{
	if (meminfo_field(text, len, "MemTotal", total) < 0)
		return -1;
	/* Kernels before 3.14 have no MemAvailable: MemFree is the best guess. */
	if (meminfo_field(text, len, "MemAvailable", avail) < 0 &&
	    meminfo_field(text, len, "MemFree", avail) < 0)
		return -1;
	return 0;
}

int capacity_host(uint64_t *total, uint64_t *avail)
{
	char buf[8192];
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0)
		return -1;
	return capacity_parse_meminfo(buf, (size_t)n, total, avail);
}

static const struct {
	char suffix;
	unsigned shift;
} size_suffixes[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };

int capacity_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	if (*end) {
		int found = 0;
		for (size_t i = 0; i < sizeof size_suffixes / sizeof size_suffixes[0]; i++)
			if ((*end == size_suffixes[i].suffix ||
			     *end == size_suffixes[i].suffix + ('a' - 'A'))) {
				shift = size_suffixes[i].shift;
				found = 1;
			}
		if (!found)
			return -1;
		end++;
		if (*end == 'i') /* MiB */
			end++;
		if (*end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return *out ? 0 : -1;
}

int capacity_init(struct capacity_limits *c, char *err, size_t errlen)
{
	uint64_t total, avail;
	if (capacity_host(&total, &avail) < 0) {
		snprintf(err, errlen, "cannot read the host's memory from /proc/meminfo");
		return -1;
	}
	c->host_total = total;
	if (!c->max_memory)
		c->max_memory = total - total / 4;
	if (!c->max_vms) {
		uint64_t n = c->max_memory / CAPACITY_VM_UNIT;
		c->max_vms = n ? (int64_t)n : 1;
	}
	return 0;
}

int capacity_admit(const struct capacity_limits *c, int nvms, uint64_t used, uint64_t new_bytes,
		   char *why, size_t n)
{
	uint64_t total, avail;
	if (nvms + 1 > c->max_vms) {
		snprintf(why, n, "this host runs at most %lld microVMs (--max-vms) and %d are running",
			 (long long)c->max_vms, nvms);
		return -1;
	}
	if (used + new_bytes > c->max_memory) {
		snprintf(why, n,
			 "microVM memory would reach %llu MiB, above this host's budget of %llu MiB "
			 "(--max-memory)",
			 (unsigned long long)((used + new_bytes) >> 20),
			 (unsigned long long)(c->max_memory >> 20));
		return -1;
	}
	if (capacity_host(&total, &avail) == 0 && new_bytes > avail) {
		snprintf(why, n, "the host has %llu MiB of memory available, the microVM needs %llu MiB",
			 (unsigned long long)(avail >> 20), (unsigned long long)(new_bytes >> 20));
		return -1;
	}
	return 0;
}
