/*
 * capacity.h - the host's capacity budget: how many VMs and how much guest
 * memory hearthd runs at once. Limits come from --max-vms/--max-memory, or
 * default from the host's memory (/proc/meminfo): max memory is MemTotal
 * minus a quarter kept for the host, max VMs is that divided by 64 MiB.
 * A run or resume beyond a limit, or one whose memory the host does not
 * have available right now (MemAvailable), is refused with
 * ServiceQuotaExceededException; nothing is started.
 */
#ifndef HEARTH_CAPACITY_H
#define HEARTH_CAPACITY_H

#include <stddef.h>
#include <stdint.h>

#define CAPACITY_VM_UNIT (64ull << 20) /* the smallest VM the default count assumes */

struct capacity_limits {
	int64_t max_vms;      /* 0: default from host memory */
	uint64_t max_memory;  /* bytes; 0: default from host memory */
	uint64_t host_total;  /* MemTotal at startup */
};

/* Parse /proc/meminfo text: MemTotal and MemAvailable in bytes. 0 or -1. */
int capacity_parse_meminfo(const char *text, size_t len, uint64_t *total, uint64_t *avail);
/* Read /proc/meminfo: 0 or -1. */
int capacity_host(uint64_t *total, uint64_t *avail);
/* "512M", "4G", "1048576" (bytes; K M G T binary suffixes): 0 or -1. */
int capacity_parse_size(const char *s, uint64_t *out);
/* Fill the defaults left 0 from the host's memory: 0, or -1 with err. */
int capacity_init(struct capacity_limits *c, char *err, size_t errlen);
/* May a VM of new_bytes start next to nvms VMs holding used bytes? 0, or -1
 * with why (for the API's message and the log). */
int capacity_admit(const struct capacity_limits *c, int nvms, uint64_t used, uint64_t new_bytes,
		   char *why, size_t n);

#endif
