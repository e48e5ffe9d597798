/*
 * sshd_hostkey.c - load or make the SSH host key (libssh's key code).
 */
#include "session/sshd_hostkey.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HK_NAME "ssh_host_ed25519_key"

/* Write text to path (mode 0600 from the start) through a temporary file. */
static int write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int sshd_hostkey_load(const char *state_dir, struct sshd_hostkey *k, char *err, size_t errlen)
{
	char path[4200], pubpath[4210];
	ssh_key key = NULL;
	char *b64 = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	int rc = -1;
	memset(k, 0, sizeof *k);
	snprintf(path, sizeof path, "%s/" HK_NAME, state_dir);
	snprintf(pubpath, sizeof pubpath, "%s.pub", path);
	struct stat st;
	if (stat(path, &st) == 0) {
		if ((st.st_mode & 077) != 0 && chmod(path, 0600) < 0) {
			snprintf(err, errlen, "%s: cannot make it 0600: %s", path, strerror(errno));
			return -1;
		}
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
			snprintf(err, errlen, "%s: not a private key libssh can read", path);
			return -1;
		}
	} else if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
		snprintf(err, errlen, "cannot make an ed25519 host key");
		return -1;
	}
	if (ssh_key_type(key) != SSH_KEYTYPE_ED25519) {
		snprintf(err, errlen, "%s: not an ed25519 key", path);
		goto out;
	}
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
		snprintf(err, errlen, "cannot export the host key");
		goto out;
	}
	if (stat(path, &st) < 0 && write_file(path, b64, 0600) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	char *pb64 = NULL;
	if (ssh_pki_export_pubkey_base64(key, &pb64) != SSH_OK) {
		snprintf(err, errlen, "cannot export the public host key");
		goto out;
	}
	snprintf(k->pub, sizeof k->pub, "ssh-ed25519 %s", pb64);
	ssh_string_free_char(pb64);
	char line[300];
	snprintf(line, sizeof line, "%s hearthd\n", k->pub);
	if (write_file(pubpath, line, 0644) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", pubpath, strerror(errno));
		goto out;
	}
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK) {
		snprintf(err, errlen, "cannot hash the host key");
		goto out;
	}
	char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	snprintf(k->fp, sizeof k->fp, "%s", fp ? fp : "?");
	ssh_string_free_char(fp);
	k->priv = strdup(b64);
	rc = k->priv ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
out:
	if (b64) {
		explicit_bzero(b64, strlen(b64));
		ssh_string_free_char(b64);
	}
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return rc;
}

void sshd_hostkey_free(struct sshd_hostkey *k)
{
	if (k->priv) {
		explicit_bzero(k->priv, strlen(k->priv));
		free(k->priv);
	}
	k->priv = NULL;
}
