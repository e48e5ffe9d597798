/* image.c - managed image descriptions (image.json). */
#include "vmm/image.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int field(struct json_object *o, const char *k, const char *dir, char *dst, size_t cap,
		 int required, int is_path, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	dst[0] = 0;
	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			snprintf(err, errlen, "image: missing \"%s\"", k);
		return required ? -1 : 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "image: \"%s\" is not a string", k);
		return -1;
	}
	const char *s = json_object_get_string(v);
	int n = is_path && s[0] != '/' ? snprintf(dst, cap, "%s/%s", dir, s)
				       : snprintf(dst, cap, "%s", s);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "image: \"%s\" too long", k);
		return -1;
	}
	return 0;
}

int image_load(const char *path, struct image *img, char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "image %s: %s", path, strerror(errno));
		return -1;
	}
	char *text = malloc(IMAGE_MAX_JSON + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (text && n <= IMAGE_MAX_JSON && (r = read(fd, text + n, IMAGE_MAX_JSON + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (!text || r < 0 || n > IMAGE_MAX_JSON) {
		free(text);
		snprintf(err, errlen, "image %s: unreadable or too large", path);
		return -1;
	}
	struct json_tokener *tok = json_tokener_new_ex(8);
	struct json_object *o = tok ? json_tokener_parse_ex(tok, text, (int)n) : NULL;
	int ok = o && json_tokener_get_error(tok) == json_tokener_success &&
		 json_object_is_type(o, json_type_object);
	if (tok)
		json_tokener_free(tok);
	free(text);
	if (!ok) {
		json_object_put(o);
		snprintf(err, errlen, "image %s: not a JSON object", path);
		return -1;
	}
	char dirbuf[PATH_MAX];
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	const char *dir = dirname(dirbuf);
	int rc = -1;
	struct json_object *m = NULL;
	if (field(o, "name", dir, img->name, sizeof(img->name), 0, 0, err, errlen) < 0 ||
	    field(o, "version", dir, img->version, sizeof(img->version), 0, 0, err, errlen) < 0 ||
	    field(o, "kernel", dir, img->kernel, sizeof(img->kernel), 1, 1, err, errlen) < 0 ||
	    field(o, "initrd", dir, img->initrd, sizeof(img->initrd), 0, 1, err, errlen) < 0 ||
	    field(o, "disk", dir, img->disk, sizeof(img->disk), 0, 1, err, errlen) < 0 ||
	    field(o, "cmdline", dir, img->cmdline, sizeof(img->cmdline), 0, 0, err, errlen) < 0)
		goto out;
	if (json_object_object_get_ex(o, "memoryMiB", &m) && json_object_is_type(m, json_type_int)) {
		int64_t v = json_object_get_int64(m);
		if (v < 16 || v > (1 << 20)) {
			snprintf(err, errlen, "image: memoryMiB out of range");
			goto out;
		}
		img->mem_mib = (unsigned)v;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}
