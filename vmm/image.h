/*
 * image.h - read a managed image description (build/guest/<image>/image.json:
 * {"name","version","kernel","initrd"|null,"disk"|null,"cmdline","memoryMiB"}).
 * Relative paths are taken relative to the file's directory.
 */
#ifndef HEARTH_IMAGE_H
#define HEARTH_IMAGE_H

#include <limits.h>
#include <stddef.h>

#define IMAGE_MAX_JSON (64 * 1024)

struct image {
	char name[128];
	char version[128];
	char kernel[PATH_MAX];
	char initrd[PATH_MAX]; /* "" when none */
	char disk[PATH_MAX];   /* "" when none */
	char cmdline[4096];
	unsigned mem_mib;      /* 0 when not given */
};

int image_load(const char *path, struct image *img, char *err, size_t errlen);

#endif
