/*
 * keyfile.c - create-once, then load, the installation key.
 */
#include "session/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_key(const char *path, uint8_t *key, size_t keylen, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	struct stat st;
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: key file must be mode 0600", path);
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, key, keylen);
	close(fd);
	if (n != (ssize_t)keylen) {
		snprintf(err, errlen, "%s: key file is truncated", path);
		return -1;
	}
	return 1;
}

int keyfile_load(const char *path, uint8_t *key, size_t keylen, char *err, size_t errlen)
{
	int rc = read_key(path, key, keylen, err, errlen);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (getrandom(key, keylen, 0) != (ssize_t)keylen) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, key, keylen) != (ssize_t)keylen || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	/* link() fails if another hearthd created the key meanwhile: use theirs. */
	if (link(tmp, path) < 0) {
		unlink(tmp);
		if (errno == EEXIST)
			return read_key(path, key, keylen, err, errlen) == 1 ? 0 : -1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	unlink(tmp);
	return 0;
}
