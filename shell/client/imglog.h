/*
 * imglog.h - what the `hearth image` commands share: a built image's
 * version and build, and its build log (hearth's logs extension,
 * PROTOCOL.md 9) printed or followed.
 */
#ifndef HEARTH_IMGLOG_H
#define HEARTH_IMGLOG_H

#include <stdio.h>

#include "shell/client/api.h"

/* GetMicrovmImageVersion: 0 with *out, or an exit code (error printed). */
int imglog_version(const struct api *a, const char *name, const char *version,
		   json_object **out);
/* The newest version of the image into out. 0 or an exit code. */
int imglog_latest(const struct api *a, const char *name, char *out, size_t n);
/* The build id of a version document (hearth.buildId, else ListMicrovmImageBuilds). */
int imglog_build_id(const struct api *a, const char *name, json_object *version, char *out,
		    size_t n);
/* Print the build's log to f from *offset: once (what is there), or until
 * the build has ended when follow. 0 or an exit code. */
int imglog_print(const struct api *a, const char *name, const char *version,
		 const char *build_id, int follow, long long *offset, FILE *f);
/* Poll the version until SUCCESSFUL or FAILED, showing the build log on f
 * as it grows. 0 when SUCCESSFUL; else API_EXIT_FAIL with the reason printed. */
int imglog_wait(const struct api *a, const char *name, const char *version, FILE *f);

#endif
