/*
 * buildlog.h - a build's log file (<state>/builds/<id>.log): appended line by
 * line as the build runs (the logs API follows it live), every line bounded,
 * the whole file bounded (then one truncation marker), synced at the end.
 * One build's worker thread only.
 */
#ifndef HEARTH_BUILDLOG_H
#define HEARTH_BUILDLOG_H

#include <stddef.h>
#include <stdint.h>

#define BUILDLOG_LINE 4096                 /* longer output lines are cut ("...") */
#define BUILDLOG_MAX (16u * 1024 * 1024)   /* then "[log truncated]" and nothing more */

struct buildlog;

/* Open (create, append) path. NULL with err. */
struct buildlog *buildlog_open(const char *path, char *err, size_t errlen);
/* One whole line (a newline is added). */
void buildlog_line(struct buildlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Output bytes of a step (any split): written line by line. */
void buildlog_output(struct buildlog *l, const void *p, size_t n);
/* End of a step's output: a partial last line is written. */
void buildlog_output_end(struct buildlog *l);
/* Sync and close (NULL: nothing). */
void buildlog_close(struct buildlog *l);

#endif
