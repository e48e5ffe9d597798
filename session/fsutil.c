/*
 * fsutil.c - recursive removal (nftw, never following links), mkdir -p and
 * the fsyncs that make a snapshot directory durable before it is current.
 */
#define _XOPEN_SOURCE 700
#include "session/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fsutil_pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fsutil_rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int fsutil_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	fsutil_pathf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int fsutil_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	fsutil_pathf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static int sync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int fsutil_sync_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return -1;
	int rc = 0;
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;
		fsutil_pathf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && sync_path(p, 0) < 0)
			rc = -1;
	}
	closedir(d);
	if (sync_path(dir, O_DIRECTORY) < 0)
		rc = -1;
	return rc;
}

int fsutil_rename_durable(const char *from, const char *to)
{
	char parent[PATH_MAX];
	if (rename(from, to) < 0)
		return -1;
	fsutil_pathf(parent, sizeof parent, "%s", to);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	return sync_path(parent, O_DIRECTORY);
}
