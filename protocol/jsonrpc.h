/*
 * jsonrpc.h - JSON-RPC 2.0 messages as the Model Context Protocol's stdio
 * transport carries them: one JSON object per line (no batches, which MCP
 * removed). Parse one line into a request, notification or response; encode
 * results, errors and notifications as lines. Pure: no I/O (json-c only).
 */
#ifndef HEARTH_JSONRPC_H
#define HEARTH_JSONRPC_H

#include <stddef.h>

#include <json-c/json.h>

#define JSONRPC_MAX (16u * 1024 * 1024) /* longest message accepted, bytes */
#define JSONRPC_DEPTH 64                /* JSON nesting accepted */

/* Standard error codes. */
enum {
	JSONRPC_PARSE_ERROR = -32700,
	JSONRPC_INVALID_REQUEST = -32600,
	JSONRPC_METHOD_NOT_FOUND = -32601,
	JSONRPC_INVALID_PARAMS = -32602,
	JSONRPC_INTERNAL_ERROR = -32603,
};

enum jsonrpc_kind { JSONRPC_REQUEST = 1, JSONRPC_NOTIFICATION, JSONRPC_RESPONSE };

struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	json_object *doc;    /* the whole message (owned; jsonrpc_free drops it) */
	json_object *id;     /* request, response: a string or an integer (borrowed) */
	const char *method;  /* request, notification */
	json_object *params; /* request, notification: an object, an array, or NULL */
	json_object *result; /* response: exactly one of result and error */
	json_object *error;
};

/*
 * Parse one message (a line without its newline; a trailing "\r" is
 * allowed). 0 with *m filled, or -1 with *code (PARSE_ERROR or
 * INVALID_REQUEST), err set and m->id the request's id when one could be
 * read (else NULL: the error answer then carries id null). Free m either way.
 */
int jsonrpc_parse(const char *p, size_t n, struct jsonrpc_msg *m, int *code, char *err,
		  size_t errlen);
void jsonrpc_free(struct jsonrpc_msg *m);

/*
 * Encode one line (no newline; malloc'd, NULL when out of memory). The
 * functions take ownership of result/params/data; id is copied (NULL: null).
 */
char *jsonrpc_result(json_object *id, json_object *result);
char *jsonrpc_error(json_object *id, int code, const char *message, json_object *data);
char *jsonrpc_notification(const char *method, json_object *params);

#endif
