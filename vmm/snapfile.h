/*
 * snapfile.h - the snapshot directory: file names, the manifest and the
 * integrity check (size + 64-bit hash of every data file), so a truncated or
 * corrupt snapshot is refused before QEMU ever reads it.
 */
#ifndef HEARTH_SNAPFILE_H
#define HEARTH_SNAPFILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_FORMAT "hearth-snapshot"
/* Version 1: SNAP_MEMORY is QEMU's migration stream (RAM + devices), read
 * eagerly on restore. Version 2: SNAP_MEMORY is the raw guest RAM (sparse:
 * holes read as zero), mapped copy-on-write on restore so pages fault in on
 * demand, and SNAP_STATE the device state alone. Both are read. */
#define SNAP_VERSION 2
#define SNAP_VERSION_EAGER 1
#define SNAP_MANIFEST "manifest.json"
#define SNAP_MEMORY "memory.bin"
#define SNAP_STATE "state.bin" /* version 2: device state (no RAM) */
#define SNAP_DELTA "memory.delta" /* version 2, optional: pages to apply to SNAP_MEMORY */
#define SNAP_DISK "disk.qcow2"
#define SNAP_MAX_MANIFEST (64 * 1024)
#define SNAP_MAX_CMDLINE 4096

struct snap_manifest {
	int version;                  /* SNAP_VERSION or SNAP_VERSION_EAGER */
	char engine[16];
	char accel[8];                /* "tcg" or "kvm" */
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];        /* "" when none */
	char base_disk[PATH_MAX];     /* "" when none */
	char cmdline[SNAP_MAX_CMDLINE];
	unsigned mem_mib, vcpus;
	int net;                      /* 0 none, 1 user (slirp), 2 tap (VM_NET_*) */
	int direct;                   /* the hearth.direct port exists (absent in older snapshots) */
	int has_disk;                 /* SNAP_DISK present */
	char disk_backing[PATH_MAX];  /* backing file of SNAP_DISK (base or a previous snapshot) */
	unsigned disk_depth;          /* qcow2 files in SNAP_DISK's chain, itself included (0: unknown) */
	uint64_t mem_size, mem_hash;  /* version 2: mem_hash is not recorded (0) */
	uint64_t state_size, state_hash; /* version 2 only */
	/* Version 2: made by suspend (the next suspend of the VM resumed from it
	 * may link SNAP_MEMORY and write a delta: vmm/ramfile.h). */
	int consumable;
	int has_delta;                /* SNAP_DELTA present */
	/* Version 2: "" when SNAP_MEMORY is in this directory; else the absolute
	 * path of the (image) snapshot directory whose SNAP_MEMORY is the base
	 * and SNAP_DELTA the pages to write over it in the restored process
	 * (vmm/ramfile.h). That directory must outlive this snapshot. */
	char mem_base[PATH_MAX];
	/* Which memory that is: the base snapshot's SNAP_STATE size and hash (a
	 * snapshot rebuilt at the same path has other device state), checked
	 * on restore before the delta is written over it. */
	uint64_t base_state_size, base_state_hash;
	uint64_t delta_size, delta_hash;
	uint64_t disk_size, disk_hash;
};

/* Streaming XXH64 (seed 0) of a whole file from offset 0. */
int snapfile_hash_fd(int fd, uint64_t *size, uint64_t *hash, char *err, size_t errlen);
uint64_t snapfile_xxh64(const void *p, size_t n);
/* Write dir/manifest.json atomically and durably (temp, fsync, rename, fsync dir). */
int snapfile_write(const char *dir, const struct snap_manifest *m, char *err, size_t errlen);
/* Read and validate dir/manifest.json (bounded size, required fields). */
int snapfile_read(const char *dir, struct snap_manifest *m, char *err, size_t errlen);
/* Parse manifest text (the pure part of snapfile_read). */
int snapfile_parse(const char *text, size_t len, struct snap_manifest *m, char *err,
		   size_t errlen);
/* Check the data files against the manifest's sizes and hashes. A version 2
 * memory file is checked by size only: hashing it would read every page and
 * undo the point of mapping it (its device state and disk are hashed). */
int snapfile_verify(const char *dir, const struct snap_manifest *m, char *err, size_t errlen);

#endif
