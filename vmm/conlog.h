/*
 * conlog.h - a guest's console written to a host file with a fixed budget.
 *
 * A thread reads the console stream (the host end of QEMU's serial chardev)
 * and appends it to PATH; when PATH would pass `max` bytes it becomes PATH.1
 * (replacing the previous one) and a new PATH starts. So a guest that floods
 * its console costs the host at most 2 * max bytes, and the reader never
 * stops draining (a full disk drops console bytes, never stalls the guest).
 */
#ifndef HEARTH_CONLOG_H
#define HEARTH_CONLOG_H

#include <stddef.h>

struct conlog;

/* Start copying fd (taken over; closed by conlog_stop) into path; PATH and
 * PATH.1 are truncated/removed first. 0, or -1 with the reason in err. */
int conlog_start(struct conlog **out, int fd, const char *path, size_t max, char *err,
		 size_t errlen);
/* Wait (bounded by ms) for the stream's end, then stop the thread and free. */
void conlog_stop(struct conlog *c, int ms);

#endif
