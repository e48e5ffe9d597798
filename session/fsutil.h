/*
 * fsutil.h - the file operations the lifecycle needs: recursive removal,
 * mkdir -p, existence, and durable renames (fsync of files and directories).
 */
#ifndef HEARTH_FSUTIL_H
#define HEARTH_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* snprintf for paths and messages; truncation is bounded by the state
 * directory's checked length. */
void fsutil_pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fsutil_rm_rf(const char *path);
int fsutil_mkdir_p(const char *path, mode_t mode);
/* 1 when dir/name exists. */
int fsutil_exists(const char *dir, const char *name);
/* fsync every regular file directly in dir, then dir itself: 0 or -1 (errno). */
int fsutil_sync_dir(const char *dir);
/* rename(from, to) and fsync the parent directory of to: 0 or -1 (errno). */
int fsutil_rename_durable(const char *from, const char *to);

#endif
