/* log.c - diagnostics on stderr (the console when PID 1). */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>

static int log_verbose;

void log_init(int verbose)
{
	log_verbose = verbose;
}

static void log_v(const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "hearth-agent: %s\n", line);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}
