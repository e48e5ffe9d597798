/*
 * main.c - `hearth`, the command-line client. Subcommands are a table:
 * one entry and one cmd_*.c file per command.
 */
#include "shell/client/client.h"

#include <stdio.h>
#include <string.h>

static int cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "attach", cmd_attach, "attach unix:PATH   open a terminal on a new shell over an agent socket" },
	{ "help", cmd_help, "help               this list" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: hearth COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  hearth %s\n", commands[i].usage);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(argc, argv);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "hearth: unknown command '%s' (try 'hearth help')\n", argv[1]);
	return 2;
}
