/*
 * ops_image.h - shared by the built-image operation files:
 *   ops_image.c         managed images; lookups and the JSON shapes
 *   ops_image_create.c  CreateMicrovmImage, UpdateMicrovmImage (a build each)
 *   ops_image_read.c    Get/List of images, versions, builds; build logs
 *   ops_image_delete.c  DeleteMicrovmImage(Version), UpdateMicrovmImageVersion
 *   ops_image_done.c    a build's end (builder done callback), restart recovery
 *
 * Deleting: a version or image that a VM not TERMINATED still runs is
 * refused (ConflictException) rather than deleted later, so nothing is
 * pulled from under a VM and no deferred cleanup has to survive a restart.
 * DeleteMicrovmImage during a build cancels it: the image answers DELETING
 * and its rows and files go when the builder reports the build's end.
 */
#ifndef HEARTH_OPS_IMAGE_H
#define HEARTH_OPS_IMAGE_H

#include "session/builder.h"
#include "session/hearthd.h"
#include "session/ops.h"

/* The image named by a user image identifier (name or ARN of this account):
 * 1 with *im, or -1 with e (404 for unknown and managed names). */
int ops_image_find(struct hearthd *hd, const char *ident, struct store_image *im,
		   struct api_err *e);
/* A version of it: 1, or -1 with e. v is heap-sized (STORE_REQUEST). */
int ops_image_find_version(struct hearthd *hd, const char *name, const char *version,
			   struct store_version *v, struct api_err *e);

/* JSON shapes (the SDK's models). */
struct json_object *ops_image_json(struct hearthd *hd, const struct store_image *im);
/* Create/Update's answer: the image plus the version's request fields. */
struct json_object *ops_image_json_with(struct hearthd *hd, const struct store_image *im,
					const struct store_version *v);
struct json_object *ops_image_version_json(struct hearthd *hd, const struct store_version *v);
struct json_object *ops_image_build_json(struct hearthd *hd, const struct store_build *b,
					 int full);
/* "IN_PROGRESS" for a PENDING row the builder is running, else the row's state. */
const char *ops_image_build_state(struct hearthd *hd, const char *build_id, const char *state);

/* Remove <state>/images/<name>/<version>/ and <state>/snapshots/<name>@<version>*
 * (version NULL: every version, and the image's directory). */
void ops_image_remove_files(struct hearthd *hd, const char *name, const char *version);
/* Remove the build logs of a version's builds. */
void ops_image_remove_logs(struct hearthd *hd, const char *name, const char *version);
/* Remove the image's rows and files (its builds have ended). */
int ops_image_purge(struct hearthd *hd, const char *name);

/* hearthd.c: the builder's done callback; restart recovery of builds. */
void ops_image_build_done(struct hearthd *hd, const struct build_spec *s,
			  const struct build_result *r);
void ops_image_recover(struct hearthd *hd);

#endif
