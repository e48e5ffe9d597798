/* cmd_connector_create.c - `hearth connector create NAME --host H --cidr C`:
 * a named allowlist egress connector. */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>

enum { O_HOST = 1, O_CIDR };

struct create_opts {
	struct api *a;
	json_object *hosts, *cidrs;
};

static int create_opt(void *ctx, int opt, const char *arg)
{
	struct create_opts *o = ctx;
	json_object *to = opt == O_HOST ? o->hosts : opt == O_CIDR ? o->cidrs : NULL;
	if (!to)
		return api_usage(o->a, "unexpected option");
	json_object_array_add(to, json_object_new_string(arg));
	return 0;
}

int cmd_connector_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "cidr", required_argument, NULL, O_CIDR },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "connector create",
		 "connector create NAME [--host NAME|*.DOMAIN]... [--cidr A.B.C.D[/N][:PORT]]... "
		 "[--json]");
	struct create_opts o = { &a, json_object_new_array(), json_object_new_array() };
	int first, rc = api_parse(&a, argc, argv, longopts, create_opt, &o, &first);
	json_object *req = json_object_new_object(), *doc = NULL;
	json_object_object_add(req, "hosts", o.hosts);
	json_object_object_add(req, "cidrs", o.cidrs);
	if (rc == 0 && argc - first != 1)
		rc = api_usage(&a, "want exactly one NAME");
	if (rc == 0) {
		json_object_object_add(req, "name", json_object_new_string(argv[first]));
		rc = api_call(&a, "POST", API_VERSION_PREFIX "/network-connectors", req, &doc);
	}
	if (rc == 0) {
		if (a.json)
			api_print_json(doc);
		else
			printf("%s\n", api_str(doc, "networkConnectorArn"));
	}
	json_object_put(req);
	json_object_put(doc);
	return rc;
}
