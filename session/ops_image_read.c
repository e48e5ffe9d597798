/*
 * ops_image_read.c - GetMicrovmImage, ListMicrovmImages (built images only:
 * the managed ones are ListManagedMicrovmImages'), ListMicrovmImageVersions,
 * GetMicrovmImageVersion, ListMicrovmImageBuilds, GetMicrovmImageBuild and
 * hearth's build log extension (PROTOCOL.md, "Build logs").
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/api_ident.h"
#include "protocol/api_imgreq.h"
#include "protocol/utf8.h"
#include "session/ops_image.h"

#define PAGE_LIST_IMAGES 4
#define PAGE_LIST_VERSIONS 5
#define PAGE_LIST_BUILDS 6

int ops_image_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_image im;
	if (ops_image_find(c->hd, c->params[0], &im, e) < 0)
		return -1;
	*out = ops_image_json(c->hd, &im);
	return 200;
}

struct img_list {
	struct hearthd *hd;
	struct json_object *items;
	int64_t last;
};

static int image_item(const struct store_image *im, void *ctx)
{
	struct img_list *l = ctx;
	struct json_object *o = ops_image_json(l->hd, im), *drop;
	/* The summary shape: no tags, description or updatedAt. */
	json_object_object_del(o, "tags");
	if (json_object_object_get_ex(o, "description", &drop))
		json_object_object_del(o, "description");
	json_object_object_del(o, "updatedAt");
	json_object_array_add(l->items, o);
	l->last = im->seq;
	return 0;
}

int ops_image_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	int max, more = 0;
	struct api_page pg;
	const char *nf = routes_query(c, "nameFilter");
	const char *filters[] = { nf };
	uint64_t fh = api_page_filter_hash(filters, 1);
	if (nf && strlen(nf) > API_NAME_MAX)
		return api_fail(e, API_E_VALIDATION, "nameFilter is at most %d characters",
				API_NAME_MAX);
	if (ops_paging(c, PAGE_LIST_IMAGES, fh, &max, &pg, e) < 0)
		return -1;
	struct img_list l = { c->hd, json_object_new_array(), 0 };
	if (store_image_list(c->hd->store, (int64_t)pg.after, nf, max, image_item, &l, &more) <
	    0) {
		json_object_put(l.items);
		return api_fail(e, API_E_INTERNAL, "state store error");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", l.items);
	if (more)
		ops_next_token(c->hd, *out, PAGE_LIST_IMAGES, fh, (uint64_t)l.last);
	return 200;
}

static int version_item(const struct store_version *v, void *ctx)
{
	struct img_list *l = ctx;
	json_object_array_add(l->items, ops_image_version_json(l->hd, v));
	l->last = v->major;
	return 0;
}

int ops_image_versions(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_image im;
	int max, more = 0;
	struct api_page pg;
	if (ops_image_find(c->hd, c->params[0], &im, e) < 0)
		return -1;
	const char *filters[] = { im.name };
	uint64_t fh = api_page_filter_hash(filters, 1);
	if (ops_paging(c, PAGE_LIST_VERSIONS, fh, &max, &pg, e) < 0)
		return -1;
	struct img_list l = { c->hd, json_object_new_array(), 0 };
	if (store_version_list(c->hd->store, im.name, (int64_t)pg.after, max, version_item, &l,
			       &more) < 0) {
		json_object_put(l.items);
		return api_fail(e, API_E_INTERNAL, "state store error");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", l.items);
	if (more)
		ops_next_token(c->hd, *out, PAGE_LIST_VERSIONS, fh, (uint64_t)l.last);
	return 200;
}

int ops_image_version_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_image im;
	struct store_version *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_image_find(c->hd, c->params[0], &im, e) == 1 &&
	    ops_image_find_version(c->hd, im.name, c->params[1], v, e) == 1) {
		*out = ops_image_version_json(c->hd, v);
		rc = 200;
	}
	free(v);
	return rc;
}

struct build_list {
	struct hearthd *hd;
	struct json_object *items;
};

static int build_item(const struct store_build *b, void *ctx)
{
	struct build_list *l = ctx;
	json_object_array_add(l->items, ops_image_build_json(l->hd, b, 0));
	return 0;
}

int ops_image_builds(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_image im;
	struct store_version *v = malloc(sizeof *v);
	int max, rc = -1;
	struct api_page pg;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	const char *arch = routes_query(c, "architecture");
	const char *chip = routes_query(c, "chipset");
	if (ops_image_find(c->hd, c->params[0], &im, e) < 0 ||
	    ops_image_find_version(c->hd, im.name, c->params[1], v, e) < 0)
		goto out;
	const char *filters[] = { im.name, v->version, arch, chip };
	uint64_t fh = api_page_filter_hash(filters, 4);
	if (ops_paging(c, PAGE_LIST_BUILDS, fh, &max, &pg, e) < 0)
		goto out;
	struct build_list l = { c->hd, json_object_new_array() };
	/* One build per version, for this host's architecture. */
	int match = (!arch || strcmp(arch, "X86_64") == 0) && (!chip || strcmp(chip, "GENERIC") == 0);
	if (match && pg.after == 0 &&
	    store_build_list(c->hd->store, im.name, v->version, build_item, &l) < 0) {
		json_object_put(l.items);
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", l.items);
	rc = 200;
out:
	free(v);
	return rc;
}

/* The build params[2] of version params[1] of image params[0]: 1 or -1. */
static int find_build(struct route_call *c, struct store_build *b, struct api_err *e)
{
	struct store_image im;
	struct store_version *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_image_find(c->hd, c->params[0], &im, e) < 0 ||
	    ops_image_find_version(c->hd, im.name, c->params[1], v, e) < 0)
		goto out;
	if (strlen(c->params[2]) >= sizeof b->build_id) {
		api_fail(e, API_E_VALIDATION, "buildId is too long");
		goto out;
	}
	int f = store_build_get(c->hd->store, c->params[2], b);
	if (f < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
		goto out;
	}
	if (f == 0 || strcmp(b->image, im.name) != 0 || strcmp(b->version, v->version) != 0) {
		api_fail(e, API_E_NOTFOUND, "build %s of %s %s not found", c->params[2], im.name,
			 v->version);
		goto out;
	}
	rc = 1;
out:
	free(v);
	return rc;
}

int ops_image_build_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_build b;
	if (find_build(c, &b, e) < 0)
		return -1;
	*out = ops_image_build_json(c->hd, &b, 1);
	return 200;
}

/* Append [p, p+n) as text: whole UTF-8 characters, U+FFFD for a bad byte.
 * Returns the bytes consumed (a character cut by the read stays unread
 * unless the file ends there). */
static size_t append_text(const uint8_t *p, size_t n, int at_end, char *out, size_t *olen)
{
	size_t i = 0;
	while (i < n) {
		size_t k = utf8_prefix(p + i, n - i, n - i);
		memcpy(out + *olen, p + i, k);
		*olen += k;
		i += k;
		if (i == n)
			break;
		if (n - i < 4 && !at_end)
			break; /* maybe a character the next read completes */
		memcpy(out + *olen, "\xef\xbf\xbd", 3);
		*olen += 3;
		i++;
	}
	return i;
}

int ops_image_build_logs(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_build b;
	int64_t off, max;
	char path[PATH_MAX];
	if (api_imgreq_logs_query(routes_query(c, "offset"), routes_query(c, "maxBytes"), &off,
				  &max, e) < 0 ||
	    find_build(c, &b, e) < 0)
		return -1;
	builder_log_path(c->hd, b.build_id, path, sizeof path);
	uint8_t *buf = malloc((size_t)max);
	char *txt = malloc((size_t)max * 3 + 1);
	size_t tl = 0, used = 0;
	int64_t size = 0;
	if (!buf || !txt) {
		free(buf);
		free(txt);
		return api_fail(e, API_E_INTERNAL, "out of memory");
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0)
			size = st.st_size;
		ssize_t n = off < size ? pread(fd, buf, (size_t)max, off) : 0;
		if (n > 0)
			used = append_text(buf, (size_t)n, off + n >= size && b.ended_at != 0,
					   txt, &tl);
		close(fd);
	}
	txt[tl] = '\0';
	int64_t next = off + (int64_t)used;
	*out = json_object_new_object();
	json_object_object_add(*out, "text", json_object_new_string_len(txt, (int)tl));
	json_object_object_add(*out, "nextOffset", json_object_new_int64(next));
	/* Complete: the build has ended and everything it wrote was read. */
	json_object_object_add(*out, "complete",
			       json_object_new_boolean(b.ended_at != 0 && next >= size));
	free(buf);
	free(txt);
	return 200;
}
