/*
 * main.c - `hearth`, the command-line client. Subcommands are a table:
 * one entry and one cmd_*.c file per command.
 */
#include "shell/client/client.h"
#include "shell/client/prompt.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	{ "ssh-config", cmd_ssh_config, "[ID...] [--no-token] [--minutes M]", "~/.ssh/config entries for SSH into microVMs" },
	{ "ssh-keyscan", cmd_ssh_keyscan, "[--fingerprint]", "the SSH ingress host key as known_hosts lines" },
	{ "shell", cmd_shell, "ID [--session S [--ro]]", "a terminal on a shell in a microVM (over its endpoint)" },
	{ "exec", cmd_exec, "ID [OPTIONS] -- CMD ARG...", "run a command in a microVM: its output, its exit code" },
	{ "cp", cmd_cp, "[-r] LOCAL ID:PATH | ID:PATH LOCAL", "copy files and trees in or out of a microVM" },
	{ "mcp", cmd_mcp, "[--audit-log FILE]", "a Model Context Protocol server on stdio (for AI agents)" },
	{ "images", cmd_images, "", "managed and built images and their versions" },
	{ "image", cmd_image, "create|update|logs|list|get|versions|delete|activate|deactivate ...",
	  "build images from a Dockerfile and manage them" },
	{ "connector", cmd_connector, "create|list|delete ...", "allowlist egress connectors" },
	{ "tags", cmd_tags, "ARN", "list a resource's tags" },
	{ "tag", cmd_tag, "ARN KEY=VALUE...", "add or change tags" },
	{ "untag", cmd_untag, "ARN KEY...", "remove tags" },
	{ "top", cmd_top, "[--interval S]", "live view of the microVMs, with keys to act on them" },
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

/* Run argv[0] as a subcommand: for the command line and the prompt alike. */
static int dispatch(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].fn(argc, argv);
	fprintf(stderr, "hearth: unknown command '%s' (try 'hearth help')\n", argv[0]);
	return 2;
}

static const char *command_name(size_t i)
{
	return i < sizeof(commands) / sizeof(commands[0]) ? commands[i].name : NULL;
}

static int help_list(void)
{
	return cmd_help(0, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		/* a person at a terminal gets the prompt; scripts keep usage and 2 */
		if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
			static const struct prompt_cmds pc = { dispatch, help_list, command_name };
			return prompt_run(&pc);
		}
		cmd_help(argc, argv);
		return 2;
	}
	return dispatch(argc - 1, argv + 1);
}
