/*
 * api_tags.h - TagResource / UntagResource request models (pure).
 */
#ifndef HEARTH_API_TAGS_H
#define HEARTH_API_TAGS_H

#include "api_json.h"

#define API_MAX_TAGS 50
#define API_MAX_TAG_KEY 128
#define API_MAX_TAG_VALUE 256

struct api_tag {
	const char *key, *value;
};

struct api_tags_req {
	unsigned n;
	struct api_tag tags[API_MAX_TAGS];
};

/* TagResource body: {"Tags": {key: value, ...}} with 1..50 entries. */
int api_tags_parse(struct json_object *body, struct api_tags_req *out, struct api_err *e);
/* One tag key (also for UntagResource's tagKeys query values). */
int api_tags_check_key(const char *key, size_t len, struct api_err *e);

#endif
