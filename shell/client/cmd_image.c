/* cmd_image.c - `hearth image SUBCOMMAND`: built images (CreateMicrovmImage
 * and the routes around it; hearthd.8 IMAGES). One file per subcommand. */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} subs[] = {
	{ "create", cmd_image_create, "create NAME PATH [--hooks-port N --ready --validate "
				      "--run ...] [--env K=V]... [--memory MIB] [--vcpus N] "
				      "[--caps-all] [--no-wait]" },
	{ "update", cmd_image_update, "update NAME PATH [the options of create]" },
	{ "logs", cmd_image_logs, "logs NAME [-f] [--version V]" },
	{ "list", cmd_image_list, "list" },
	{ "get", cmd_image_get, "get NAME" },
	{ "versions", cmd_image_versions, "versions NAME" },
	{ "delete", cmd_image_delete, "delete NAME [--version V]" },
	{ "activate", cmd_image_activate, "activate NAME VERSION" },
	{ "deactivate", cmd_image_deactivate, "deactivate NAME VERSION" },
};

int cmd_image(int argc, char **argv)
{
	if (argc >= 2)
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			if (!strcmp(argv[1], subs[i].name))
				return subs[i].fn(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		fprintf(stderr, "%s hearth image %s\n", i ? "      " : "usage:", subs[i].usage);
	return API_EXIT_USAGE;
}
