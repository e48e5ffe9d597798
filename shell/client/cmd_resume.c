/* cmd_resume.c - `hearth resume ID`: ResumeMicrovm. */
#include "shell/client/client.h"
#include "shell/client/vmop.h"

int cmd_resume(int argc, char **argv)
{
	static const struct vmop op = { "resume", "POST", "/resume", "RUNNING" };
	return vmop_run(&op, argc, argv);
}
