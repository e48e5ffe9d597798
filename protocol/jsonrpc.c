/* jsonrpc.c - JSON-RPC 2.0 lines for MCP's stdio transport; see jsonrpc.h. */
#include "protocol/jsonrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refuse(int *code, int c, char *err, size_t errlen, const char *msg)
{
	*code = c;
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static int id_ok(json_object *id)
{
	return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

int jsonrpc_parse(const char *p, size_t n, struct jsonrpc_msg *m, int *code, char *err,
		  size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > JSONRPC_MAX)
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen, "message too long");
	if (n == 0 || memchr(p, '\0', n))
		return refuse(code, JSONRPC_PARSE_ERROR, err, errlen, "not JSON");
	json_tokener *tok = json_tokener_new_ex(JSONRPC_DEPTH);
	if (!tok)
		return refuse(code, JSONRPC_INTERNAL_ERROR, err, errlen, "out of memory");
	json_object *doc = json_tokener_parse_ex(tok, p, (int)n);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!doc || je != json_tokener_success) {
		json_object_put(doc);
		return refuse(code, JSONRPC_PARSE_ERROR, err, errlen, "not JSON");
	}
	for (; used < n; used++)
		if (p[used] != ' ' && p[used] != '\t') {
			json_object_put(doc);
			return refuse(code, JSONRPC_PARSE_ERROR, err, errlen,
				      "bytes after the JSON value");
		}
	m->doc = doc;
	if (json_object_is_type(doc, json_type_array))
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen, "batches are not supported");
	if (!json_object_is_type(doc, json_type_object))
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen, "not a JSON object");
	json_object *v, *id = NULL, *method = NULL;
	int has_id = json_object_object_get_ex(doc, "id", &id);
	if (has_id && id_ok(id))
		m->id = id;
	if (!json_object_object_get_ex(doc, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0"))
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen, "\"jsonrpc\" must be \"2.0\"");
	if (json_object_object_get_ex(doc, "method", &method)) {
		if (has_id && !id_ok(id))
			return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
				      "\"id\" must be a string or an integer");
		if (!json_object_is_type(method, json_type_string) ||
		    json_object_get_string_len(method) == 0 ||
		    strlen(json_object_get_string(method)) != (size_t)json_object_get_string_len(method))
			return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
				      "\"method\" must be a non-empty string");
		if (json_object_object_get_ex(doc, "result", &v) ||
		    json_object_object_get_ex(doc, "error", &v))
			return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
				      "a request holds no \"result\" or \"error\"");
		m->method = json_object_get_string(method);
		if (json_object_object_get_ex(doc, "params", &v)) {
			if (!json_object_is_type(v, json_type_object) &&
			    !json_object_is_type(v, json_type_array))
				return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
					      "\"params\" must be an object or an array");
			m->params = v;
		}
		m->kind = has_id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		return 0;
	}
	/* a response: an id (null only for errors about unreadable requests) */
	int has_result = json_object_object_get_ex(doc, "result", &m->result);
	int has_error = json_object_object_get_ex(doc, "error", &m->error);
	if (has_result == has_error)
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
			      "a response holds exactly one of \"result\" and \"error\"");
	/* json-c reads null as NULL */
	if (!has_id || (id ? !id_ok(id) : !has_error))
		return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen, "a response needs an \"id\"");
	if (has_error) {
		json_object *c;
		if (!json_object_is_type(m->error, json_type_object) ||
		    !json_object_object_get_ex(m->error, "code", &c) ||
		    !json_object_is_type(c, json_type_int))
			return refuse(code, JSONRPC_INVALID_REQUEST, err, errlen,
				      "\"error\" needs an integer \"code\"");
	}
	m->kind = JSONRPC_RESPONSE;
	return 0;
}

void jsonrpc_free(struct jsonrpc_msg *m)
{
	json_object_put(m->doc);
	memset(m, 0, sizeof *m);
}

static char *line(json_object *o)
{
	if (!o)
		return NULL;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = s ? strdup(s) : NULL; /* PLAIN: no newline inside */
	json_object_put(o);
	return out;
}

static json_object *envelope(json_object *id)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	return o;
}

char *jsonrpc_result(json_object *id, json_object *result)
{
	json_object *o = envelope(id);
	if (!o) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(o, "result", result ? result : json_object_new_object());
	return line(o);
}

char *jsonrpc_error(json_object *id, int code, const char *message, json_object *data)
{
	json_object *o = envelope(id), *e = json_object_new_object();
	if (!o || !e) {
		json_object_put(o);
		json_object_put(e);
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	if (data)
		json_object_object_add(e, "data", data);
	json_object_object_add(o, "error", e);
	return line(o);
}

char *jsonrpc_notification(const char *method, json_object *params)
{
	json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(params);
		return NULL;
	}
	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(o, "params", params);
	return line(o);
}
