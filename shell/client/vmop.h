/* vmop.h - suspend/resume/terminate share one shape: an action on one VM. */
#ifndef HEARTH_VMOP_H
#define HEARTH_VMOP_H

struct vmop {
	const char *cmd;     /* "suspend" */
	const char *method;  /* "POST" */
	const char *suffix;  /* path after /microvms/ID: "/suspend", or "" */
	const char *done;    /* --wait: the state that ends the wait */
};

int vmop_run(const struct vmop *op, int argc, char **argv);

#endif
