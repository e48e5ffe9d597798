/*
 * catalog.h - the managed images hearthd can run (busybox, debian-12), read
 * from <image_dir>/<name>/image.json on demand so a freshly built image is
 * seen without a restart.
 */
#ifndef HEARTH_CATALOG_H
#define HEARTH_CATALOG_H

#include <stdint.h>

#include "protocol/api_image.h"

#define CATALOG_DEFAULT "busybox"

struct catalog_entry {
	struct api_image img; /* file paths made absolute */
	int64_t created;      /* image.json mtime */
};

/* Managed image names, NULL-terminated, in listing order. */
extern const char *const catalog_names[];

/* Is name one of the managed images? */
int catalog_known(const char *name);
/* Load <dir>/<name>/image.json. 1 loaded, 0 not built, -1 invalid (err set).
 * Any thread. */
int catalog_load(const char *dir, const char *name, struct catalog_entry *out,
		 struct api_err *e);

/* The image a VM row names: a managed one from <image_dir>/<image>, a built
 * one's version from builder_image_dir() (name and version set from the
 * arguments: the snapshot cache keys on them). 1, 0 not there, -1 (err). */
struct hearthd;
int catalog_load_vm(const struct hearthd *hd, const char *image, int managed,
		    const char *version, struct catalog_entry *out, struct api_err *e);

#endif
