/* client.h - the `hearth` command: one function per subcommand. */
#ifndef HEARTH_CLIENT_H
#define HEARTH_CLIENT_H

int cmd_attach(int argc, char **argv);

#endif
