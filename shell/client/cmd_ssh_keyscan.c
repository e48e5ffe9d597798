/* cmd_ssh_keyscan.c - `hearth ssh-keyscan [--fingerprint]`: the SSH ingress's
 * host key as known_hosts lines (under the HostKeyAlias ssh-config writes, and
 * as [host]:port), learnt over the signed API rather than from the network. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/sshinfo.h"

#include <stdio.h>

enum { O_FP = 1 };

static int ks_opt(void *ctx, int opt, const char *arg)
{
	(void)arg;
	if (opt != O_FP)
		return -1;
	*(int *)ctx = 1;
	return 0;
}

int cmd_ssh_keyscan(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fingerprint", no_argument, NULL, O_FP },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	struct sshinfo si;
	int fp = 0, first;
	api_init(&a, "ssh-keyscan", "ssh-keyscan [--fingerprint]");
	int rc = api_parse(&a, argc, argv, longopts, ks_opt, &fp, &first);
	if (rc)
		return rc;
	if (first != argc)
		return api_usage(&a, "no arguments expected");
	if ((rc = sshinfo_get(&a, &si)) != 0)
		return rc;
	if (fp)
		printf("%s %s (%s)\n", si.fingerprint, si.alias, si.hostkey);
	else
		printf("%s %s\n[%s]:%d %s\n", si.alias, si.hostkey, si.host, si.port, si.hostkey);
	return 0;
}
