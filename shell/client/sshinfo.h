/*
 * sshinfo.h - what `hearth ssh-config` and `hearth ssh-keyscan` learn from
 * GET /hearth/ssh: where hearthd's SSH ingress listens and its host key.
 */
#ifndef HEARTH_SSHINFO_H
#define HEARTH_SSHINFO_H

#include "shell/client/api.h"

struct sshinfo {
	char host[128];   /* to connect to (a wildcard listen address becomes loopback) */
	int port;
	char alias[160];  /* HostKeyAlias: one known_hosts entry for every microVM */
	char hostkey[512];
	char fingerprint[128];
};

/* 0, or API_EXIT_FAIL after printing why. */
int sshinfo_get(const struct api *a, struct sshinfo *si);

#endif
