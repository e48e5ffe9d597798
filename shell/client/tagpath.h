/* tagpath.h - the Lambda tagging routes address a resource by its escaped ARN. */
#ifndef HEARTH_TAGPATH_H
#define HEARTH_TAGPATH_H

#include <stddef.h>

/* "/2017-03-31/tags/<escaped ARN>" into dst; -1 if it does not fit. */
int tagpath_build(const char *arn, char *dst, size_t cap);

#endif
