/*
 * api_json.c - typed, range-checked access to JSON request bodies.
 */
#include "api_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int api_fail(struct api_err *e, const char *type, const char *fmt, ...)
{
	va_list ap;
	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

struct json_object *api_json_parse(const char *body, size_t len, struct api_err *e)
{
	if (len > API_MAX_BODY) {
		api_fail(e, API_E_VALIDATION, "request body exceeds %d bytes", API_MAX_BODY);
		return NULL;
	}
	if (len == 0 || only_space(body, len))
		return json_object_new_object();
	struct json_tokener *tok = json_tokener_new_ex(API_MAX_DEPTH);
	if (!tok) {
		api_fail(e, API_E_INTERNAL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		json_object_put(o);
		api_fail(e, API_E_VALIDATION, "request body is not valid JSON: %s",
			 jerr == json_tokener_continue ? "unexpected end of input"
						       : json_tokener_error_desc(jerr));
		return NULL;
	}
	if (used > len || !only_space(body + used, len - used)) {
		json_object_put(o);
		api_fail(e, API_E_VALIDATION, "request body has trailing data after the JSON value");
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		api_fail(e, API_E_VALIDATION, "request body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Look up a member; NULL members count as absent. */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int api_json_int(struct json_object *o, const char *key, int64_t min, int64_t max,
		 int64_t *out, struct api_err *e)
{
	struct json_object *v = member(o, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return api_fail(e, API_E_VALIDATION, "%s must be an integer", key);
	errno = 0;
	int64_t n = json_object_get_int64(v);
	/* json-c saturates out-of-range integers; treat them as out of range. */
	if (errno == ERANGE || n < min || n > max)
		return api_fail(e, API_E_VALIDATION,
				"%s must be between %lld and %lld", key, (long long)min,
				(long long)max);
	*out = n;
	return 1;
}

int api_json_str(struct json_object *o, const char *key, size_t minlen, size_t maxlen,
		 const char **out, size_t *outlen, struct api_err *e)
{
	struct json_object *v = member(o, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return api_fail(e, API_E_VALIDATION, "%s must be a string", key);
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (n < minlen || n > maxlen)
		return api_fail(e, API_E_VALIDATION, "%s must be %zu to %zu characters long", key,
				minlen, maxlen);
	/* Embedded NULs would let two different strings compare equal in C. */
	if (memchr(s, '\0', n))
		return api_fail(e, API_E_VALIDATION, "%s must not contain NUL characters", key);
	*out = s;
	if (outlen)
		*outlen = n;
	return 1;
}

int api_json_bool(struct json_object *o, const char *key, int *out, struct api_err *e)
{
	struct json_object *v = member(o, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return api_fail(e, API_E_VALIDATION, "%s must be a boolean", key);
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 1;
}

int api_json_obj(struct json_object *o, const char *key, struct json_object **out,
		 struct api_err *e)
{
	struct json_object *v = member(o, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return api_fail(e, API_E_VALIDATION, "%s must be an object", key);
	*out = v;
	return 1;
}

int api_json_arr(struct json_object *o, const char *key, size_t minn, size_t maxn,
		 struct json_object **out, struct api_err *e)
{
	struct json_object *v = member(o, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return api_fail(e, API_E_VALIDATION, "%s must be a list", key);
	size_t n = json_object_array_length(v);
	if (n < minn || n > maxn)
		return api_fail(e, API_E_VALIDATION, "%s must have %zu to %zu members", key, minn,
				maxn);
	*out = v;
	return 1;
}

int api_json_arr_str(struct json_object *arr, size_t i, const char *key, const char **out,
		     size_t *outlen, struct api_err *e)
{
	struct json_object *v = json_object_array_get_idx(arr, i);
	if (!v || !json_object_is_type(v, json_type_string))
		return api_fail(e, API_E_VALIDATION, "%s must be a list of strings", key);
	*out = json_object_get_string(v);
	*outlen = (size_t)json_object_get_string_len(v);
	return 1;
}

int api_json_union(struct json_object *o, const char *what, const char *const *members,
		   const char **which, struct api_err *e)
{
	if (!json_object_is_type(o, json_type_object))
		return api_fail(e, API_E_VALIDATION, "%s must be an object", what);
	const char *found = NULL;
	int count = 0;
	json_object_object_foreach(o, k, v)
	{
		if (!v)
			continue;
		int known = 0;
		for (size_t i = 0; members[i]; i++)
			if (strcmp(k, members[i]) == 0) {
				known = 1;
				found = members[i];
			}
		/* Unknown union members are ignored, as for any unknown field. */
		count += known;
	}
	if (count != 1)
		return api_fail(e, API_E_VALIDATION, "%s must set exactly one member", what);
	*which = found;
	return 0;
}
