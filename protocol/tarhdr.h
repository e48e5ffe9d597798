/*
 * tarhdr.h - tar headers (POSIX ustar, with pax extended headers for what
 * ustar cannot hold): encode and decode one entry's header blocks. Pure: no
 * I/O. The file transfer of the agent (PROTOCOL.md 1.3.1) and `hearth cp`
 * stream these; shell/agent/tarfs.c does the file system side.
 */
#ifndef HEARTH_TARHDR_H
#define HEARTH_TARHDR_H

#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512
#define TAR_PATH_MAX 4096    /* entry path or link target, bytes */
#define TAR_PAX_MAX 16384    /* largest pax extended header data accepted */
/* The most tarhdr_encode writes: pax header, its data, the ustar header. */
#define TARHDR_ENCODE_MAX (2 * TAR_BLOCK + 2 * TAR_PATH_MAX + 4 * TAR_BLOCK)

enum tar_type {
	TAR_REG = '0',
	TAR_HARDLINK = '1',
	TAR_SYMLINK = '2',
	TAR_DIR = '5',
};

/* Fields a pax header set for the next entry (kept by tarhdr_decode). */
enum {
	TAR_SET_PATH = 1u << 0,
	TAR_SET_LINK = 1u << 1,
	TAR_SET_SIZE = 1u << 2,
	TAR_SET_UID = 1u << 3,
	TAR_SET_GID = 1u << 4,
	TAR_SET_MTIME = 1u << 5,
};

struct tar_entry {
	char path[TAR_PATH_MAX + 1];
	char link[TAR_PATH_MAX + 1]; /* symlink / hard link target */
	uint8_t type;                /* enum tar_type, or another typeflag byte */
	uint32_t mode;               /* permission bits (07777) */
	uint64_t uid, gid;
	uint64_t size;               /* data bytes after the header (0 for dirs, links) */
	int64_t mtime;               /* seconds since the epoch */
	unsigned set;                /* TAR_SET_*: pax overrides pending */
	uint64_t hdr_size;           /* PAX and SKIP: data bytes of that header */
};

enum tarhdr_rc {
	TARHDR_ZERO = 0,   /* an all-zero block: the end of the archive */
	TARHDR_ENTRY = 1,  /* e describes an entry; e->size data bytes follow */
	TARHDR_PAX = 2,    /* a pax header: e->hdr_size bytes of records follow (tarhdr_pax) */
	TARHDR_SKIP = 3,   /* a header to ignore (global pax, GNU volume...): skip e->hdr_size bytes */
	TARHDR_BAD = -1,   /* not a tar header (checksum, magic, number field) */
	TARHDR_LONG = -2,  /* a pax record or header too long */
};

/*
 * Decode one 512-byte block into e. Fields a preceding pax header set (e->set)
 * are kept; an ENTRY clears e->set. Before the first header, zero e->set.
 */
int tarhdr_decode(const uint8_t blk[TAR_BLOCK], struct tar_entry *e);

/* Apply the records of a pax header's data (n <= TAR_PAX_MAX) to e. 0 or TARHDR_*. */
int tarhdr_pax(const uint8_t *p, size_t n, struct tar_entry *e);

/*
 * Encode e's header (a pax header first when a field does not fit ustar).
 * Returns the bytes written (a multiple of 512), or -1 (out too small, a path
 * or link over TAR_PATH_MAX or holding NUL). Data and its padding are the caller's.
 */
int tarhdr_encode(const struct tar_entry *e, uint8_t *out, size_t cap);

/* Padding after n data bytes to the next block boundary. */
size_t tarhdr_pad(uint64_t n);

/*
 * Check an entry path: relative, no ".." component, no empty component. A
 * leading "./" and trailing "/" are removed in place. 0 when acceptable.
 */
int tarhdr_path_check(char *path);

#endif
