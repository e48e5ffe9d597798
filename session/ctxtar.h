/*
 * ctxtar.h - the tar stream of a COPY/ADD: sources from the build context as
 * one tar (libarchive) for the agent's FILES put (multi-root, PROTOCOL.md
 * 1.3.1). (A busybox image's root is packed by cpio inside the builder VM:
 * session/buildimage.c.)
 *
 * COPY semantics follow the Dockerfile reference: a directory source copies
 * its contents; several sources or a wildcard need a dest ending in '/'; a
 * dest ending in '/' is a directory; otherwise a single file source becomes
 * dest itself. The tar's entries are relative to the directory the caller
 * puts it into (ctxtar_plan's dir), so one put per step. .dockerignore'd
 * files are never selected; a source matching nothing is an error naming it;
 * symlinks in the context are copied as symlinks (never followed out).
 */
#ifndef HEARTH_CTXTAR_H
#define HEARTH_CTXTAR_H

#include <stddef.h>
#include <stdint.h>

struct dfignore;

struct ctxtar_opts {
	long uid, gid;     /* owner of every entry (-1: 0, as Docker) */
	int chmod;         /* mode for every entry (-1: keep the context's) */
	int add_unpack;    /* ADD: a source that is a tar archive (any compression) is unpacked */
};

/*
 * Write to fd the tar of srcs (context-relative patterns) from ctx_dir for a
 * COPY/ADD to dest (absolute). *dir (n bytes) gets the absolute directory the
 * stream must be extracted into (created by the put). Inline files (heredoc
 * COPY) are passed as names/bodies. 0, or -1 with msg (a source that
 * matches nothing, one escaping the context, several sources to a dest
 * without '/', a write error).
 */
int ctxtar_copy(int fd, const char *ctx_dir, const struct dfignore *ign,
		const char *const *srcs, size_t nsrcs, const char *const *inl_names,
		const char *const *inl_bodies, size_t ninl, const char *dest,
		const struct ctxtar_opts *o, char *dir, size_t n, char *msg, size_t msglen);
/* Hash (SHA-256 hex, 65 bytes) of what ctxtar_copy would select: names, modes,
 * sizes, contents, link targets, opts: the step cache key's input. 0 or -1. */
int ctxtar_hash(const char *ctx_dir, const struct dfignore *ign, const char *const *srcs,
		size_t nsrcs, const char *const *inl_names, const char *const *inl_bodies,
		size_t ninl, const char *dest, const struct ctxtar_opts *o, char hex[65],
		char *msg, size_t msglen);

#endif
