/*
 * ramfile.h - guest RAM as a file (snapshot format 2).
 *
 * A VM's RAM is a private copy-on-write mapping of a "base" file (the image
 * snapshot's or a suspended VM's memory.bin; for a fresh boot an empty sparse
 * file): pages fault in on demand, and the clean ones are page cache shared by
 * every VM mapping the same file. Saving writes a new, self-contained memory
 * file: the base's data extents copied in the kernel (holes stay holes), then
 * only the pages the VM wrote since it mapped its base (its anonymous pages,
 * found in /proc/PID/pagemap and read with process_vm_readv).
 *
 * A VM whose base is a suspend snapshot that the next suspend supersedes
 * saves a delta instead: records of the pages it wrote, appended to a new
 * file; the new snapshot links the base file (same inode) and names the
 * delta, which restore applies to it in place (idempotent) before mapping.
 * The previous snapshot stays restorable until the new one is restored.
 *
 * A VM whose base is an image snapshot's sealed memory (which many VMs map
 * and nobody may write) saves a delta against that base instead, when it
 * wrote little: the new snapshot names the image snapshot's directory and
 * restore writes the delta into the restored process's private mapping
 * (ramfile_apply_delta_pid) before the VM runs.
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
	uint64_t direct_bytes; /* of those, bytes written with O_DIRECT (ramfile_save) */
};

/* 0 when a sparse memory file in dir could kill its VM (tmpfs: a hole is
 * allocated on first touch, SIGBUS when full). Files written here on such a
 * file system get every page allocated. */
int ramfile_holes_safe(const char *dir);
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

/*
 * An image snapshot's memory, made immutable by the kernel: a new memfd
 * (named name) of size bytes holding src_fd's data extents (holes stay
 * holes), sealed with F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL.
 * Whoever holds it, even reopened O_RDWR through /proc (QEMU 7.2 opens its
 * mem-path so), can neither write it nor map it shared-writable: only a
 * private copy-on-write mapping works. Close-on-exec; -1 on error.
 */
int ramfile_seal(int src_fd, uint64_t size, const char *name, char *err, size_t errlen);
/* 0 when fd is a memfd of size bytes carrying at least those seals. */
int ramfile_sealed(int fd, uint64_t size, char *err, size_t errlen);

/* A delta record; data (pages * 4096 bytes) follows unless zero. */
struct ramfile_rec {
	uint64_t off;   /* byte offset in the RAM, page aligned */
	uint32_t pages; /* 1..512 */
	uint32_t zero;  /* 1: the pages are zero (no data follows) */
};

/* The pages pid wrote (as ramfile_save) appended to delta_fd as records,
 * then delta_fd and base_fd synced. */
int ramfile_save_delta(pid_t pid, int base_fd, uint64_t size, int delta_fd,
		       struct ramfile_stats *st, char *err, size_t errlen);
/* Apply a delta to the memory file mem_fd (size bytes); every record is
 * checked against size before anything is written for it. */
int ramfile_apply_delta(int delta_fd, int mem_fd, uint64_t size, char *err, size_t errlen);
/* The same into the RAM of process pid, mapped privately from base_fd
 * (process_vm_writev: the written pages become the process's own copies;
 * base_fd is never written). The process must not run meanwhile (a VM
 * restored and not yet continued). */
int ramfile_apply_delta_pid(int delta_fd, pid_t pid, int base_fd, uint64_t size, char *err,
			    size_t errlen);
/* How many pages pid wrote over its base (what ramfile_save_delta would
 * write), without reading them. */
int ramfile_written(pid_t pid, int base_fd, uint64_t size, uint64_t *pages, char *err,
		    size_t errlen);

#endif
