/* cmd_suspend.c - `hearth suspend ID`: SuspendMicrovm. */
#include "shell/client/client.h"
#include "shell/client/vmop.h"

int cmd_suspend(int argc, char **argv)
{
	static const struct vmop op = { "suspend", "POST", "/suspend", "SUSPENDED" };
	return vmop_run(&op, argc, argv);
}
