/*
 * tarfs.h - a file or directory tree to and from a tar stream on a file
 * descriptor (headers by protocol/tarhdr.c). Shared by the agent's FILES
 * builtin (PROTOCOL.md 1.3.1) and `hearth cp`. Blocking I/O; meant for a
 * child process whose stdin/stdout is the stream.
 *
 * The stream's entries all start with one root name (the source's base
 * name): "f", or "d", "d/a", "d/a/b". Extracting at DEST follows cp(1): when
 * DEST is an existing directory the root lands inside it (DEST/d/...),
 * otherwise the root becomes DEST itself.
 */
#ifndef HEARTH_TARFS_H
#define HEARTH_TARFS_H

#include <stddef.h>

/* Write src (a directory only when recursive) and the end blocks. 0 or -1 with err. */
int tarfs_write(int fd, const char *src, int recursive, char *err, size_t errlen);

/*
 * Read a stream from fd and create its entries at dest: mode, mtime, and the
 * owner when running as root (else the owner is ours). Refuses absolute
 * names, "..", more than one root, and writing through a symlink. 0 or -1
 * with err naming the path that failed.
 */
int tarfs_extract(int fd, const char *dest, char *err, size_t errlen);

/*
 * The multi-root put (MUX_FILES_MULTI): dir is made like mkdir -p (0755)
 * when missing, and every entry, whatever its first component, lands at
 * dir/NAME, missing parents made 0755, merging into existing directories
 * and replacing existing files and links (a build's COPY/ADD). Same refusals
 * as tarfs_extract but for the one-root rule. 0 or -1 with err.
 */
int tarfs_extract_multi(int fd, const char *dir, char *err, size_t errlen);

#endif
