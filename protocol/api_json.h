/*
 * api_json.h - request-body parsing helpers for the AWS-style API (pure).
 *
 * Every field getter checks the JSON type and the range the spec gives;
 * unknown fields are ignored, a field that is present with the wrong type is
 * refused (ValidationException), JSON null counts as absent.
 * Errors fill a struct api_err with the AWS error name and a message.
 */
#ifndef HEARTH_API_JSON_H
#define HEARTH_API_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define API_MAX_BODY (64 * 1024) /* largest request body accepted */
/* largest streamed request body (PUT .../files with UNSIGNED-PAYLOAD) */
#define API_MAX_STREAM_BODY ((uint64_t)8 << 30)
#define API_MAX_DEPTH 16          /* JSON nesting limit */
#define API_ERR_MSG 256

#define API_E_VALIDATION "ValidationException"
#define API_E_NOTFOUND "ResourceNotFoundException"
#define API_E_CONFLICT "ConflictException"
#define API_E_INTERNAL "InternalServerException"
#define API_E_QUOTA "ServiceQuotaExceededException"

struct api_err {
	const char *type; /* AWS error name */
	char msg[API_ERR_MSG];
};

/* Fill *e and return -1. */
int api_fail(struct api_err *e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Parse a request body that must be one JSON object (an empty body is {}).
 * Returns a new reference or NULL with *e filled.
 */
struct json_object *api_json_parse(const char *body, size_t len, struct api_err *e);

/* Getters: return 1 when present (value stored), 0 when absent, -1 on error. */
int api_json_int(struct json_object *o, const char *key, int64_t min, int64_t max,
		 int64_t *out, struct api_err *e);
int api_json_str(struct json_object *o, const char *key, size_t minlen, size_t maxlen,
		 const char **out, size_t *outlen, struct api_err *e);
int api_json_bool(struct json_object *o, const char *key, int *out, struct api_err *e);
int api_json_obj(struct json_object *o, const char *key, struct json_object **out,
		 struct api_err *e);
int api_json_arr(struct json_object *o, const char *key, size_t minn, size_t maxn,
		 struct json_object **out, struct api_err *e);
/* Member i of the list key (from api_json_arr) as a string: 1 with *out and
 * *outlen (it may hold a NUL: check), -1 when it is not a string. */
int api_json_arr_str(struct json_object *arr, size_t i, const char *key, const char **out,
		     size_t *outlen, struct api_err *e);
/* Check that a present member is an object whose keys are all among the
 * union's members and that exactly one is set (AWS tagged unions). */
int api_json_union(struct json_object *o, const char *what, const char *const *members,
		   const char **which, struct api_err *e);

#endif
