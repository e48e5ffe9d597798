/* test_jsonrpc.c - JSON-RPC 2.0 lines of MCP's stdio transport (protocol/jsonrpc.c). */
#include "protocol/jsonrpc.h"
#include "test.h"

#include <stdlib.h>

static int parse(const char *s, struct jsonrpc_msg *m, int *code)
{
	char err[128];
	*code = 0;
	return jsonrpc_parse(s, strlen(s), m, code, err, sizeof err);
}

TEST(request_notification_response)
{
	struct jsonrpc_msg m;
	int code;
	CHECK_EQ(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{}}\r",
		       &m, &code), 0);
	CHECK(m.kind == JSONRPC_REQUEST && !strcmp(m.method, "tools/list") && m.params);
	CHECK_EQ(json_object_get_int(m.id), 7);
	jsonrpc_free(&m);
	CHECK_EQ(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
		       "\"params\":{\"requestId\":\"x\"}}", &m, &code), 0);
	CHECK(m.kind == JSONRPC_NOTIFICATION && !m.id);
	jsonrpc_free(&m);
	CHECK_EQ(parse("{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"result\":{}}", &m, &code), 0);
	CHECK(m.kind == JSONRPC_RESPONSE && m.result && !m.error);
	jsonrpc_free(&m);
}

TEST(refusals)
{
	static const struct {
		const char *in;
		int code;
		int has_id;
	} bad[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"", JSONRPC_PARSE_ERROR, 0 },
		{ "", JSONRPC_PARSE_ERROR, 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"} x", JSONRPC_PARSE_ERROR, 0 },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]", JSONRPC_INVALID_REQUEST, 0 },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}", JSONRPC_INVALID_REQUEST, 1 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}", JSONRPC_INVALID_REQUEST, 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"\"}", JSONRPC_INVALID_REQUEST, 1 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":3}", JSONRPC_INVALID_REQUEST, 1 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"a\\u0000b\"}", JSONRPC_INVALID_REQUEST, 1 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{},\"error\":{\"code\":1}}", JSONRPC_INVALID_REQUEST, 1 },
		{ "{\"jsonrpc\":\"2.0\",\"result\":{}}", JSONRPC_INVALID_REQUEST, 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":\"x\"}}", JSONRPC_INVALID_REQUEST, 1 },
		{ "7", JSONRPC_PARSE_ERROR, 0 }, /* a bare number never ends for the tokener */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct jsonrpc_msg m;
		int code;
		int rc = parse(bad[i].in, &m, &code);
		if (rc != -1 || code != bad[i].code || (m.id != NULL) != bad[i].has_id)
			fprintf(stderr, "  case %zu: rc %d code %d\n", i, rc, code);
		CHECK_EQ(rc, -1);
		CHECK_EQ(code, bad[i].code);
		CHECK_EQ(m.id != NULL, bad[i].has_id);
		jsonrpc_free(&m);
	}
	/* a NUL inside the line */
	struct jsonrpc_msg m;
	int code;
	char err[64];
	CHECK_EQ(jsonrpc_parse("{}\0{}", 5, &m, &code, err, sizeof err), -1);
	CHECK_EQ(code, JSONRPC_PARSE_ERROR);
	jsonrpc_free(&m);
}

TEST(encoders)
{
	json_object *id = json_object_new_string("q");
	json_object *r = json_object_new_object();
	json_object_object_add(r, "text", json_object_new_string("a\nb/c"));
	char *s = jsonrpc_result(id, r);
	CHECK(s != NULL);
	CHECK_STR(s, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"result\":{\"text\":\"a\\nb/c\"}}");
	free(s);
	s = jsonrpc_error(NULL, JSONRPC_METHOD_NOT_FOUND, "no such method", NULL);
	CHECK_STR(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
		     "\"message\":\"no such method\"}}");
	free(s);
	s = jsonrpc_notification("notifications/progress", NULL);
	CHECK_STR(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
	free(s);
	json_object_put(id);
}

TEST_MAIN(T(request_notification_response), T(refusals), T(encoders))
