/* prompt.h - `hearth` with no command on a terminal: a readline prompt that
 * runs the same subcommands. */
#ifndef HEARTH_PROMPT_H
#define HEARTH_PROMPT_H

#include <stddef.h>

struct prompt_cmds {
	int (*run)(int argc, char **argv);  /* argv[0] is the subcommand */
	int (*help)(void);                  /* print the command list */
	const char *(*name)(size_t i);      /* i-th subcommand name, NULL past the end */
};

/* Read and run lines until exit, Ctrl-D, SIGHUP or SIGTERM. Returns the exit status. */
int prompt_run(const struct prompt_cmds *c);

#endif
