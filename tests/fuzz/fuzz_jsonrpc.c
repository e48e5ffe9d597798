/*
 * fuzz_jsonrpc.c - libFuzzer target for the MCP stdio JSON-RPC parser: every
 * input line is parsed; what parses is checked for consistency and answered
 * (result, error, notification encoders), and each answer must parse back.
 */
#include "protocol/jsonrpc.h"

#include <stdlib.h>
#include <string.h>

static void reparse(char *s, enum jsonrpc_kind want)
{
	struct jsonrpc_msg m;
	int code;
	char err[128];
	if (!s)
		return;
	if (strchr(s, '\n') || jsonrpc_parse(s, strlen(s), &m, &code, err, sizeof err) != 0 ||
	    m.kind != want)
		abort();
	jsonrpc_free(&m);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct jsonrpc_msg m;
		int code = 0;
		char err[128];
		if (jsonrpc_parse(p, n, &m, &code, err, sizeof err) == 0) {
			if (m.kind == JSONRPC_REQUEST && (!m.id || !m.method))
				abort();
			if (m.kind == JSONRPC_NOTIFICATION && (m.id || !m.method))
				abort();
			if (m.kind == JSONRPC_RESPONSE && !m.result == !m.error)
				abort();
			if (m.kind == JSONRPC_REQUEST) {
				reparse(jsonrpc_result(m.id, json_object_get(m.params)), JSONRPC_RESPONSE);
				reparse(jsonrpc_error(m.id, JSONRPC_METHOD_NOT_FOUND, m.method, NULL),
					JSONRPC_RESPONSE);
			}
			if (m.kind == JSONRPC_NOTIFICATION)
				reparse(jsonrpc_notification(m.method, json_object_get(m.params)),
					JSONRPC_NOTIFICATION);
		} else if (code != JSONRPC_PARSE_ERROR && code != JSONRPC_INVALID_REQUEST &&
			   code != JSONRPC_INTERNAL_ERROR) {
			abort();
		} else {
			reparse(jsonrpc_error(m.id, code, err, NULL), JSONRPC_RESPONSE);
		}
		jsonrpc_free(&m);
		p += n + (nl ? 1 : 0);
	}
	return 0;
}
