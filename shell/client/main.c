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
	const char *args;
	const char *what;
} commands[] = {
	{ "attach", cmd_attach, "unix:PATH", "open a terminal on a new shell over an agent socket" },
	{ "run", cmd_run, "IMAGE [OPTIONS]", "run a microVM (--wait: until it is RUNNING)" },
	{ "get", cmd_get, "ID", "show a microVM" },
	{ "list", cmd_list, "[--image I] [--max-results N] [--all]", "list microVMs" },
	{ "suspend", cmd_suspend, "ID [--wait]", "suspend a microVM" },
	{ "resume", cmd_resume, "ID [--wait]", "resume a suspended microVM" },
	{ "terminate", cmd_terminate, "ID [--wait]", "terminate a microVM" },
	{ "token", cmd_token, "ID --minutes M PORTS...", "mint a token for the app endpoint" },
	{ "shell-token", cmd_shell_token, "ID --minutes M", "mint a token for the shell" },
	{ "images", cmd_images, "", "managed images and their versions" },
	{ "tags", cmd_tags, "ARN", "list a resource's tags" },
	{ "tag", cmd_tag, "ARN KEY=VALUE...", "add or change tags" },
	{ "untag", cmd_untag, "ARN KEY...", "remove tags" },
	{ "help", cmd_help, "", "this list" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: hearth COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char left[96];
		snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
		printf("  hearth %-44s %s\n", left, commands[i].what);
	}
	printf("API commands talk to $HEARTH_API (default http://127.0.0.1:7400) and take\n"
	       "--api URL, --timeout SECONDS (default 30) and --json (the API's JSON, pretty);\n"
	       "'hearth COMMAND --help' shows a command's options.\n");
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
