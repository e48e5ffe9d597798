/*
 * imgzip.c - zip a build context directory with libarchive (never by hand):
 * regular files, directories and symlinks (kept as links, not followed),
 * names relative to the directory. hearthd checks the zip again (artifact.h).
 */
#include "shell/client/imgzip.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int cache_dir(char *out, size_t n)
{
	const char *c = getenv("HEARTH_CACHE"), *x = getenv("XDG_CACHE_HOME"),
		   *h = getenv("HOME");
	int r;
	if (c && *c)
		r = snprintf(out, n, "%s/artifacts", c);
	else if (x && *x)
		r = snprintf(out, n, "%s/hearth/artifacts", x);
	else if (h && *h)
		r = snprintf(out, n, "%s/.cache/hearth/artifacts", h);
	else
		return -1;
	return r < 0 || (size_t)r >= n ? -1 : mkdirs(out);
}

/* Copy one entry's data from the disk reader to the zip. */
static int copy_data(struct archive *in, struct archive *out)
{
	char buf[65536];
	la_ssize_t n;
	while ((n = archive_read_data(in, buf, sizeof buf)) > 0)
		if (archive_write_data(out, buf, (size_t)n) != n)
			return -1;
	return n < 0 ? -1 : 0;
}

static int zip_dir(const char *dir, const char *zip, char *err, size_t errlen)
{
	struct archive *in = archive_read_disk_new(), *out = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t dl = strlen(dir);
	int rc = -1, r;
	if (!in || !out || !e) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	archive_read_disk_set_symlink_physical(in);
	archive_read_disk_set_standard_lookup(in);
	if (archive_write_set_format_zip(out) != ARCHIVE_OK ||
	    archive_write_open_filename(out, zip) != ARCHIVE_OK ||
	    archive_read_disk_open(in, dir) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s", archive_error_string(out) ? archive_error_string(out)
								       : archive_error_string(in));
		goto done;
	}
	while ((r = archive_read_next_header2(in, e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);
		archive_read_disk_descend(in);
		/* Names relative to the directory; the directory itself is not an entry. */
		if (strncmp(p, dir, dl) != 0 || (p[dl] != '/' && p[dl] != '\0')) {
			snprintf(err, errlen, "unexpected path %s", p);
			goto done;
		}
		if (p[dl] == '\0')
			continue;
		char rel[PATH_MAX];
		snprintf(rel, sizeof rel, "%s", p + dl + 1);
		archive_entry_set_pathname(e, rel);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		mode_t t = archive_entry_filetype(e);
		if (t != AE_IFREG && t != AE_IFDIR && t != AE_IFLNK)
			continue; /* sockets, devices, fifos: nothing a build can use */
		if (archive_write_header(out, e) != ARCHIVE_OK ||
		    (t == AE_IFREG && copy_data(in, out) < 0)) {
			snprintf(err, errlen, "%s: %s", rel,
				 archive_error_string(out) ? archive_error_string(out)
							   : archive_error_string(in));
			goto done;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s", archive_error_string(in));
		goto done;
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s", archive_error_string(out));
		goto done;
	}
	rc = 0;
done:
	archive_entry_free(e);
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	return rc;
}

int imgzip_artifact(const char *path, const char *name, char *uri, size_t n, char *err,
		    size_t errlen)
{
	char abs[PATH_MAX], dir[PATH_MAX], zip[PATH_MAX + 64], tmp[PATH_MAX + 80];
	struct stat st;
	if (!realpath(path, abs) || stat(abs, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (snprintf(uri, n, "file://%s", abs) >= (int)n) {
			snprintf(err, errlen, "%s: path too long", path);
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory or a .zip file", path);
		return -1;
	}
	char df[PATH_MAX + 16];
	snprintf(df, sizeof df, "%s/Dockerfile", abs);
	if (access(df, R_OK) < 0) {
		snprintf(err, errlen, "%s has no Dockerfile at its root", path);
		return -1;
	}
	if (cache_dir(dir, sizeof dir) < 0) {
		snprintf(err, errlen, "no cache directory for the artifact (set HEARTH_CACHE)");
		return -1;
	}
	snprintf(zip, sizeof zip, "%s/%s-%lld-%d.zip", dir, name, (long long)time(NULL),
		 (int)getpid());
	snprintf(tmp, sizeof tmp, "%s.part", zip);
	if (zip_dir(abs, tmp, err, errlen) < 0 || rename(tmp, zip) < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", zip, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (snprintf(uri, n, "file://%s", zip) >= (int)n) {
		snprintf(err, errlen, "%s: path too long", zip);
		return -1;
	}
	return 0;
}
