/*
 * imgzip.h - the code artifact `hearth image create` sends: a directory
 * zipped (libarchive) into the user's cache, or a .zip taken as it is.
 */
#ifndef HEARTH_IMGZIP_H
#define HEARTH_IMGZIP_H

#include <stddef.h>

/* PATH (a directory with a Dockerfile at its root, or a .zip file) to a
 * codeArtifact.uri (file:///abs.zip) in uri. A directory is zipped into
 * $HEARTH_CACHE/artifacts/ (else $XDG_CACHE_HOME/hearth/artifacts/, else
 * ~/.cache/hearth/artifacts/) as NAME-<time>-<pid>.zip. 0, or -1 with err. */
int imgzip_artifact(const char *path, const char *name, char *uri, size_t n, char *err,
		    size_t errlen);

#endif
