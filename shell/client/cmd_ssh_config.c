/* cmd_ssh_config.c - `hearth ssh-config [ID...]`: ~/.ssh/config Host entries
 * for microVMs (every one not terminated, or the IDs given), each with the
 * SSH ingress's address, a HostKeyAlias shared by all of them (ssh-keyscan
 * prints its known_hosts line) and, unless --no-token, a fresh shell token in
 * the user name (valid --minutes, default 60). */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/sshinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_NO_TOKEN = 1, O_MIN };

struct sc_opts {
	struct api *a;
	int no_token;
	long minutes;
};

static int sc_opt(void *ctx, int opt, const char *arg)
{
	struct sc_opts *o = ctx;
	if (opt == O_NO_TOKEN) {
		o->no_token = 1;
		return 0;
	}
	if (opt != O_MIN)
		return -1;
	if ((o->minutes = api_number(arg, 1, 60)) < 0)
		return api_usage(o->a, "--minutes wants 1-60");
	return 0;
}

/* A shell token for id into tok; 0, or API_EXIT_FAIL (printed). */
static int sc_token(const struct sc_opts *o, const char *id, char *tok, size_t n)
{
	char enc[512], path[700];
	json_object *doc = NULL, *req = json_object_new_object();
	if (api_escape(id, enc, sizeof enc) != 0)
		return API_EXIT_FAIL;
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvms/%s/shell-auth-token", enc);
	json_object_object_add(req, "expirationInMinutes", json_object_new_int64(o->minutes));
	int rc = api_call(o->a, "POST", path, req, &doc);
	json_object_put(req);
	if (rc)
		return rc;
	json_object *m = NULL;
	json_object_object_get_ex(doc, "authToken", &m);
	snprintf(tok, n, "%s", api_str(m, "X-aws-proxy-auth"));
	json_object_put(doc);
	return strcmp(tok, "-") ? 0 : API_EXIT_FAIL;
}

static int sc_entry(const struct sc_opts *o, const struct sshinfo *si, const char *id)
{
	char tok[600];
	if (!o->no_token && sc_token(o, id, tok, sizeof tok) != 0) {
		printf("# %s: no shell token (see the error above)\n\n", id);
		return API_EXIT_FAIL;
	}
	printf("Host %s\n    HostName %s\n    Port %d\n    HostKeyAlias %s\n", id, si->host, si->port,
	       si->alias);
	if (o->no_token)
		printf("    User %s\n    # password: a shell token (hearth shell-token %s)\n\n", id, id);
	else
		printf("    User %s#%s\n    # the token in the user name expires in %ld minutes\n\n", id,
		       tok, o->minutes);
	return 0;
}

int cmd_ssh_config(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-token", no_argument, NULL, O_NO_TOKEN },
		{ "minutes", required_argument, NULL, O_MIN },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	struct sshinfo si;
	api_init(&a, "ssh-config", "ssh-config [ID...] [--no-token] [--minutes M]");
	struct sc_opts o = { .a = &a, .minutes = 60 };
	int first, rc = api_parse(&a, argc, argv, longopts, sc_opt, &o, &first);
	if (rc)
		return rc;
	if ((rc = sshinfo_get(&a, &si)) != 0)
		return rc;
	printf("# hearth: SSH into microVMs through hearthd (host key: hearth ssh-keyscan)\n\n");
	if (first < argc) {
		for (int i = first; i < argc; i++)
			rc |= sc_entry(&o, &si, argv[i]);
		return rc ? API_EXIT_FAIL : 0;
	}
	json_object *items = NULL;
	char *next = NULL;
	if ((rc = api_list(&a, API_VERSION_PREFIX "/microvms", 1, &items, &next)) != 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *vm = json_object_array_get_idx(items, i);
		const char *st = api_str(vm, "state");
		if (strcmp(st, "TERMINATED") && strcmp(st, "TERMINATING"))
			rc |= sc_entry(&o, &si, api_str(vm, "microvmId"));
	}
	json_object_put(items);
	free(next);
	return rc ? API_EXIT_FAIL : 0;
}
