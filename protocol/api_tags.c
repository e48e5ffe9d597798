/*
 * api_tags.c - tag validation: key 1-128, value 0-256 characters, no
 * control characters, keys may not start with the reserved "aws:" prefix.
 */
#include "api_tags.h"

#include <string.h>

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int api_tags_check_key(const char *key, size_t len, struct api_err *e)
{
	if (len < 1 || len > API_MAX_TAG_KEY)
		return api_fail(e, API_E_VALIDATION, "tag keys must be 1 to %d characters long",
				API_MAX_TAG_KEY);
	if (!printable(key, len))
		return api_fail(e, API_E_VALIDATION, "tag keys must not contain control characters");
	if (len >= 4 && strncmp(key, "aws:", 4) == 0)
		return api_fail(e, API_E_VALIDATION, "tag keys must not start with aws:");
	return 0;
}

int api_tags_parse(struct json_object *body, struct api_tags_req *out, struct api_err *e)
{
	struct json_object *tags;
	memset(out, 0, sizeof *out);
	int rc = api_json_obj(body, "Tags", &tags, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return api_fail(e, API_E_VALIDATION, "Tags is required");
	int n = json_object_object_length(tags);
	if (n < 1 || n > API_MAX_TAGS)
		return api_fail(e, API_E_VALIDATION, "Tags must have 1 to %d entries", API_MAX_TAGS);
	json_object_object_foreach(tags, key, val)
	{
		if (!val || !json_object_is_type(val, json_type_string))
			return api_fail(e, API_E_VALIDATION, "tag values must be strings");
		size_t vlen = (size_t)json_object_get_string_len(val);
		const char *v = json_object_get_string(val);
		if (api_tags_check_key(key, strlen(key), e) < 0)
			return -1;
		if (vlen > API_MAX_TAG_VALUE || !printable(v, vlen))
			return api_fail(e, API_E_VALIDATION,
					"tag values must be at most %d printable characters",
					API_MAX_TAG_VALUE);
		out->tags[out->n].key = key;
		out->tags[out->n].value = v;
		out->n++;
	}
	return 0;
}
