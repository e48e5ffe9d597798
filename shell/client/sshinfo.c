/* sshinfo.c - GET /hearth/ssh for the ssh-config and ssh-keyscan commands. */
#include "shell/client/sshinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sshinfo_get(const struct api *a, struct sshinfo *si)
{
	json_object *doc = NULL;
	int rc = api_call(a, "GET", "/hearth/ssh", NULL, &doc);
	if (rc)
		return rc;
	const char *listen = api_str(doc, "listen"), *key = api_str(doc, "hostKey");
	const char *colon = strrchr(listen, ':');
	memset(si, 0, sizeof *si);
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof si->host ||
	    strncmp(key, "ssh-", 4) || strlen(key) >= sizeof si->hostkey ||
	    (si->port = (int)api_number(colon + 1, 1, 65535)) < 0) {
		fprintf(stderr, "hearth %s: unexpected answer from GET /hearth/ssh\n", a->cmd);
		json_object_put(doc);
		return API_EXIT_FAIL;
	}
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	snprintf(si->host, sizeof si->host, "%.*s", (int)hl, h);
	if (!strcmp(si->host, "0.0.0.0"))
		snprintf(si->host, sizeof si->host, "127.0.0.1");
	else if (!strcmp(si->host, "::"))
		snprintf(si->host, sizeof si->host, "::1");
	snprintf(si->alias, sizeof si->alias, "hearth-%s-%d", si->host, si->port);
	snprintf(si->hostkey, sizeof si->hostkey, "%s", key);
	snprintf(si->fingerprint, sizeof si->fingerprint, "%s", api_str(doc, "fingerprint"));
	json_object_put(doc);
	return 0;
}
