/* shellmsg.c - shell WebSocket control frames; see shellmsg.h. */
#include "protocol/shellmsg.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define SHELLMSG_DEPTH 4 /* a control frame is one flat object */

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* An integer member in 1..65535 (JSON integers only, no floats or strings):
 * a pty cannot be resized to zero rows or columns. */
static int get_u16(struct json_object *o, const char *name, uint16_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	if (n < 1 || n > 65535)
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static int parse_resize(struct json_object *o, struct shellmsg *out, char *err, size_t errlen)
{
	if (json_object_object_length(o) != 3 || get_u16(o, "cols", &out->cols) < 0 ||
	    get_u16(o, "rows", &out->rows) < 0)
		return fail(err, errlen,
			    "resize needs exactly integer \"cols\" and \"rows\" in 1..65535");
	out->type = SHELLMSG_RESIZE;
	return 0;
}

static const struct {
	const char *type;
	int (*parse)(struct json_object *o, struct shellmsg *out, char *err, size_t errlen);
} shellmsg_types[] = {
	{ "resize", parse_resize },
};

int shellmsg_parse(const char *p, size_t n, struct shellmsg *out, char *err, size_t errlen)
{
	if (n == 0 || n > SHELLMSG_MAX)
		return fail(err, errlen, "control frame is empty or too long");
	if (memchr(p, '\0', n))
		return fail(err, errlen, "control frame is not JSON");
	struct json_tokener *tok = json_tokener_new_ex(SHELLMSG_DEPTH);
	if (!tok)
		return fail(err, errlen, "out of memory");
	struct json_object *o = json_tokener_parse_ex(tok, p, (int)n);
	int complete = json_tokener_get_error(tok) == json_tokener_success &&
		       json_tokener_get_parse_end(tok) == n;
	json_tokener_free(tok);
	int rc = -1;
	if (!o || !complete) {
		fail(err, errlen, "control frame is not JSON");
		goto out;
	}
	struct json_object *t;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "type", &t) || !json_object_is_type(t, json_type_string)) {
		fail(err, errlen, "control frame needs a string \"type\"");
		goto out;
	}
	const char *type = json_object_get_string(t);
	for (size_t i = 0; i < sizeof shellmsg_types / sizeof shellmsg_types[0]; i++)
		if (strcmp(type, shellmsg_types[i].type) == 0 &&
		    (size_t)json_object_get_string_len(t) == strlen(shellmsg_types[i].type)) {
			rc = shellmsg_types[i].parse(o, out, err, errlen);
			goto out;
		}
	fail(err, errlen, "unknown control frame type");
out:
	json_object_put(o);
	return rc;
}

static int finish(struct json_object *o, char *out, size_t n)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	int rc = -1;
	if (s && len < n) {
		memcpy(out, s, len + 1);
		rc = (int)len;
	}
	json_object_put(o);
	return rc;
}

int shellmsg_session_init(char *out, size_t n, const char *session_id)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return -1;
	json_object_object_add(o, "type", json_object_new_string("session_init"));
	json_object_object_add(o, "session_id", json_object_new_string(session_id));
	return finish(o, out, n);
}

int shellmsg_error(char *out, size_t n, const char *message)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return -1;
	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(message));
	return finish(o, out, n);
}
