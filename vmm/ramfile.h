/*
 * ramfile.h - guest RAM as a file (snapshot format 2).
 *
 * A VM's RAM is a private copy-on-write mapping of a "base" file (the image
 * snapshot's or a suspended VM's memory.bin; for a fresh boot an empty sparse
 * file): pages fault in on demand, and the clean ones are page cache shared by
 * every VM mapping the same file. Saving writes a new, self-contained memory
 * file: the base's data extents copied in the kernel (holes stay holes), then
 * only the pages the VM wrote since it mapped its base (its anonymous pages,
 * found in /proc/PID/pagemap and read from /proc/PID/mem).
 */
#ifndef HEARTH_RAMFILE_H
#define HEARTH_RAMFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ramfile_stats {
	uint64_t base_bytes;  /* data copied from the base file */
	uint64_t dirty_pages; /* pages the VM wrote (written or punched as zero) */
	uint64_t dirty_bytes; /* of those, bytes written (non-zero pages) */
};

/* A sparse file of size bytes at path (O_EXCL, mode 0600): an all-zero base. */
int ramfile_create_zero(const char *path, uint64_t size, char *err, size_t errlen);

/*
 * Write the RAM of process pid, mapped privately from base_fd (size bytes),
 * into out_fd (a new empty file) and fdatasync it. The process must be
 * stopped from writing (the VM paused). The caller must be allowed to read
 * /proc/pid/mem (root, or the same uid).
 */
int ramfile_save(pid_t pid, int base_fd, uint64_t size, int out_fd, struct ramfile_stats *st,
		 char *err, size_t errlen);

#endif
