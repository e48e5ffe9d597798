/*
 * sshd_hostkey.h - the SSH ingress's persistent ed25519 host key,
 * <state>/ssh_host_ed25519_key (0600, OpenSSH format) with its public half
 * in ssh_host_ed25519_key.pub, made on first start.
 */
#ifndef HEARTH_SSHD_HOSTKEY_H
#define HEARTH_SSHD_HOSTKEY_H

#include <stddef.h>

struct sshd_hostkey {
	char *priv;      /* OpenSSH private key text, handed to each worker (malloc) */
	char fp[128];    /* "SHA256:..." */
	char pub[256];   /* "ssh-ed25519 AAAA..." */
};

int sshd_hostkey_load(const char *state_dir, struct sshd_hostkey *k, char *err, size_t errlen);
void sshd_hostkey_free(struct sshd_hostkey *k);

#endif
