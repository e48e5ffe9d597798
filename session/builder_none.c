/*
 * builder_none.c - TEMPORARY weak stand-ins for builder.c and artifact.c
 * (built on their own branches) so this branch links on its own: strong
 * definitions from those files replace these at link time. Remove this file
 * (and its line in module.mk) once builder.c and artifact.c are merged.
 */
#include <stdio.h>

#include "session/builder.h"
#include "session/hearthd.h"

__attribute__((weak)) struct builder *builder_create(struct hearthd *hd, int max_parallel,
						     builder_done_fn done, char *err,
						     size_t errlen)
{
	(void)hd;
	(void)max_parallel;
	(void)done;
	snprintf(err, errlen, "this hearthd was built without the image builder");
	return NULL;
}

__attribute__((weak)) void builder_destroy(struct builder *b)
{
	(void)b;
}

__attribute__((weak)) int builder_submit(struct builder *b, const struct build_spec *s,
					 char *err, size_t errlen)
{
	(void)b;
	(void)s;
	snprintf(err, errlen, "no image builder");
	return -1;
}

__attribute__((weak)) int builder_cancel(struct builder *b, const char *build_id)
{
	(void)b;
	(void)build_id;
	return -1;
}

__attribute__((weak)) enum build_phase builder_phase(const struct builder *b,
						     const char *build_id)
{
	(void)b;
	(void)build_id;
	return BUILD_UNKNOWN;
}

__attribute__((weak)) void builder_log_path(const struct hearthd *hd, const char *build_id,
					    char *out, size_t n)
{
	snprintf(out, n, "%s/builds/%s.log", hd->cfg.state_dir, build_id);
}

__attribute__((weak)) void builder_image_dir(const struct hearthd *hd, const char *image,
					     const char *version, char *out, size_t n)
{
	snprintf(out, n, "%s/images/%s/%s", hd->cfg.state_dir, image, version);
}

__attribute__((weak)) const char *build_reason_name(enum build_reason r)
{
	static const char *const names[BR_COUNT] = {
		[BR_NONE] = "",
		[BR_S3_ACCESS_DENIED] = "S3_ACCESS_DENIED",
		[BR_S3_NO_SUCH_KEY] = "S3_NO_SUCH_KEY",
		[BR_S3_NO_SUCH_BUCKET] = "S3_NO_SUCH_BUCKET",
		[BR_S3_INVALID_OBJECT] = "S3_INVALID_OBJECT",
		[BR_ARCHIVE_DOCKERFILE_NOT_FOUND] = "ARCHIVE_DOCKERFILE_NOT_FOUND",
		[BR_ARCHIVE_INVALID] = "ARCHIVE_INVALID",
		[BR_CONTAINER_BUILD_FAILED] = "CONTAINER_BUILD_FAILED",
		[BR_DISK_STORAGE_FULL] = "DISK_STORAGE_FULL",
		[BR_INTERNAL_PLATFORM_ERROR] = "INTERNAL_PLATFORM_ERROR",
	};
	return (unsigned)r < BR_COUNT ? names[r] : "INTERNAL_PLATFORM_ERROR";
}
