/* cmd_connector.c - `hearth connector create|list|delete`: hearth's allowlist
 * egress connectors (an API extension, hearthd.8 NETWORK). */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} subs[] = {
	{ "create", cmd_connector_create },
	{ "list", cmd_connector_list },
	{ "delete", cmd_connector_delete },
};

int cmd_connector(int argc, char **argv)
{
	if (argc >= 2)
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			if (!strcmp(argv[1], subs[i].name))
				return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "usage: hearth connector create NAME [--host H]... [--cidr C[:PORT]]...\n"
			"       hearth connector list\n"
			"       hearth connector delete NAME\n");
	return API_EXIT_USAGE;
}
