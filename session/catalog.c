/*
 * catalog.c - managed image descriptions.
 */
#include "session/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/builder.h"
#include "session/hearthd.h"

const char *const catalog_names[] = { "busybox", "debian-12", NULL };

int catalog_known(const char *name)
{
	for (int i = 0; catalog_names[i]; i++)
		if (strcmp(catalog_names[i], name) == 0)
			return 1;
	return 0;
}

/* Paths in image.json are relative to the file's directory. */
static void absolutize(const char *base, char *path, size_t n)
{
	if (!path[0] || path[0] == '/')
		return;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s/%s", base, path) < (int)sizeof tmp)
		snprintf(path, n, "%s", tmp);
}

int catalog_load(const char *dir, const char *name, struct catalog_entry *out,
		 struct api_err *e)
{
	char base[PATH_MAX], path[PATH_MAX];
	memset(out, 0, sizeof *out);
	if (snprintf(base, sizeof base, "%s/%s", dir, name) >= (int)sizeof base ||
	    snprintf(path, sizeof path, "%s/image.json", base) >= (int)sizeof path)
		return api_fail(e, API_E_INTERNAL, "image path too long");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : api_fail(e, API_E_INTERNAL, "%s: %s", path, strerror(errno));
	struct stat st;
	ssize_t n = -1;
	/* Per call, not static: image builds load images on their workers. */
	char *text = malloc(API_IMAGE_MAX_JSON + 1);
	if (text && fstat(fd, &st) == 0 && st.st_size <= API_IMAGE_MAX_JSON)
		n = read(fd, text, API_IMAGE_MAX_JSON);
	close(fd);
	int bad = n < 0 || api_image_parse(text, (size_t)n, &out->img, e) < 0;
	free(text);
	if (n < 0)
		return api_fail(e, API_E_INTERNAL, "%s: unreadable or too large", path);
	if (bad) {
		char why[API_ERR_MSG];
		snprintf(why, sizeof why, "%s", e->msg);
		return api_fail(e, API_E_INTERNAL, "%s: %s", path, why);
	}
	absolutize(base, out->img.kernel, sizeof out->img.kernel);
	absolutize(base, out->img.initrd, sizeof out->img.initrd);
	absolutize(base, out->img.disk, sizeof out->img.disk);
	/* The kernel hands NAME=value to init as its environment: the agent (PID 1)
	 * gives the app and the shells the set named here (shell/agent/caps.c). */
	size_t cl = strlen(out->img.cmdline);
	if (snprintf(out->img.cmdline + cl, sizeof out->img.cmdline - cl, "%sHEARTH_CAPS=%s",
		     cl ? " " : "", out->img.os_caps_all ? "all" : "default") >=
	    (int)(sizeof out->img.cmdline - cl))
		return api_fail(e, API_E_INTERNAL, "%s: cmdline too long", path);
	out->created = (int64_t)st.st_mtime;
	return 1;
}

int catalog_load_vm(const struct hearthd *hd, const char *image, int managed,
		    const char *version, struct catalog_entry *out, struct api_err *e)
{
	char dir[PATH_MAX];
	if (managed)
		return catalog_load(hd->cfg.image_dir, image, out, e);
	builder_image_dir(hd, image, version, dir, sizeof dir);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return api_fail(e, API_E_INTERNAL, "image path %s", dir);
	*slash = '\0';
	int rc = catalog_load(dir, slash + 1, out, e);
	if (rc == 1) {
		snprintf(out->img.name, sizeof out->img.name, "%s", image);
		snprintf(out->img.version, sizeof out->img.version, "%s", version);
	}
	return rc;
}
