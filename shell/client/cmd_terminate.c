/* cmd_terminate.c - `hearth terminate ID`: TerminateMicrovm. */
#include "shell/client/client.h"
#include "shell/client/vmop.h"

int cmd_terminate(int argc, char **argv)
{
	static const struct vmop op = { "terminate", "DELETE", "", "TERMINATED" };
	return vmop_run(&op, argc, argv);
}
