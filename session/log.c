/*
 * log.c - hearthd's log lines: stderr, one line each, with a UTC timestamp.
 * Daemon messages only: never a token, a key or a signature.
 */
#include "session/hearthd.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void hd_log(const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s hearthd: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
