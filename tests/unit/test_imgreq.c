/* test_imgreq.c - CreateMicrovmImage / UpdateMicrovmImage / UpdateMicrovmImageVersion
 * request validation (protocol/api_imgreq.c). */
#include <stdlib.h>

#include "protocol/api_imgreq.h"
#include "test.h"

#define BASE "\"baseImageArn\":\"arn:hearth:lambda:local:aws:microvm-image:busybox\","
#define ROLE "\"buildRoleArn\":\"arn:aws:iam::0:role/b\","
#define ART(u) "\"codeArtifact\":{\"uri\":\"" u "\"}"
#define OK_BODY "{\"name\":\"app\"," BASE ROLE ART("s3://b/k.zip")

static struct json_object *body;

/* 0 or -1 with the error in *e; the request stays valid until the next call. */
static int parse(const char *s, int update, struct api_imgreq *r, struct api_err *e)
{
	static struct api_imgreq last;
	api_imgreq_free(&last);
	json_object_put(body);
	memset(e, 0, sizeof *e);
	body = api_json_parse(s, strlen(s), e);
	if (!body)
		return -1;
	int rc = api_imgreq_parse(body, update, r, e);
	last = *r;
	return rc;
}

TEST(valid)
{
	struct api_imgreq r;
	struct api_err e;
	CHECK_EQ(parse(OK_BODY "}", 0, &r, &e), 0);
	CHECK_STR(r.name, "app");
	CHECK_STR(r.uri, "s3://b/k.zip");
	CHECK(!r.has_hooks && !r.os_caps_all && r.mem_mib == 0 && r.vcpus == 0 && !r.client_token);
	CHECK_STR(json_object_to_json_string_ext(r.echo, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE),
		  "{\"baseImageArn\":\"arn:hearth:lambda:local:aws:microvm-image:busybox\","
		  "\"buildRoleArn\":\"arn:aws:iam::0:role/b\",\"codeArtifact\":{\"uri\":\"s3://b/k.zip\"}}");
	char env[64];
	CHECK_EQ(api_imgreq_env_text(&r, env, sizeof env), 0);
	CHECK_STR(env, "");

	CHECK_EQ(parse("{\"name\":\"a.b_c-1\"," BASE ROLE ART("file:///x/y.zip")
		       ",\"description\":\"d\",\"hooks\":{\"port\":9000,\"microvmImageHooks\":"
		       "{\"ready\":\"ENABLED\",\"readyTimeoutInSeconds\":60},\"microvmHooks\":"
		       "{\"run\":\"ENABLED\"}},\"environmentVariables\":{\"A\":\"1\",\"_B\":\"x y\"},"
		       "\"resources\":[{\"minimumMemoryInMiB\":512}],\"cpuConfigurations\":"
		       "[{\"architecture\":\"ARM_64\",\"vcpus\":2}],\"additionalOsCapabilities\":"
		       "[\"ALL\"],\"egressNetworkConnectors\":[\"arn:x:network-connector:NO_EGRESS\"],"
		       "\"clientToken\":\"t1\",\"tags\":{\"k\":\"v\"},\"unknown\":1}",
		       0, &r, &e),
		 0);
	CHECK(r.has_hooks && r.hooks.port == 9000 && r.hooks.enabled[API_HOOK_READY] &&
	      r.hooks.timeout[API_HOOK_READY] == 60 && r.hooks.enabled[API_HOOK_RUN]);
	CHECK(r.os_caps_all && r.mem_mib == 512 && r.vcpus == 2 && r.n_egress == 1);
	CHECK_STR(r.client_token, "t1");
	CHECK_STR(r.description, "d");
	CHECK(r.tags != NULL);
	CHECK_EQ(api_imgreq_env_text(&r, env, sizeof env), 0);
	CHECK_STR(env, "{\"A\":\"1\",\"_B\":\"x y\"}");
	CHECK_EQ(api_imgreq_env_text(&r, env, 8), -1);
	struct json_object *x;
	CHECK(!json_object_object_get_ex(r.echo, "unknown", &x));
	CHECK(!json_object_object_get_ex(r.echo, "clientToken", &x));
	CHECK(!json_object_object_get_ex(r.echo, "tags", &x));
	CHECK(json_object_object_get_ex(r.echo, "hooks", &x));

	/* Update: no name; one given is ignored. */
	CHECK_EQ(parse("{" BASE ROLE ART("/abs/x.zip") "}", 1, &r, &e), 0);
	CHECK(r.name == NULL);
	CHECK_EQ(parse("{\"name\":\"!!\"," BASE ROLE ART("/abs/x.zip") "}", 1, &r, &e), 0);
}

static void refused(const char *s, int update, const char *msg)
{
	struct api_imgreq r;
	struct api_err e;
	CHECK_EQ(parse(s, update, &r, &e), -1);
	CHECK_STR(e.type, API_E_VALIDATION);
	if (msg && !strstr(e.msg, msg)) {
		fprintf(stderr, "  %s -> %s (want %s)\n", s, e.msg, msg);
		CHECK(0);
	}
	CHECK(r.echo == NULL);
}

TEST(invalid)
{
	refused("{}", 0, "name is required");
	refused("{" BASE ROLE ART("/x.zip") "}", 0, "name is required");
	refused("{\"name\":\"\"," BASE ROLE ART("/x.zip") "}", 0, "name");
	refused("{\"name\":\"-a\"," BASE ROLE ART("/x.zip") "}", 0, "name must be");
	refused("{\"name\":\"a/b\"," BASE ROLE ART("/x.zip") "}", 0, "name must be");
	refused("{\"name\":\"a\"," ROLE ART("/x.zip") "}", 0, "baseImageArn is required");
	refused("{\"name\":\"a\"," BASE ART("/x.zip") "}", 0, "buildRoleArn is required");
	refused("{\"name\":\"a\"," BASE ROLE "\"x\":1}", 0, "codeArtifact is required");
	refused("{\"name\":\"a\"," BASE ROLE "\"codeArtifact\":{}}", 0, "exactly one");
	refused("{\"name\":\"a\"," BASE ROLE "\"codeArtifact\":\"s3://b/k\"}", 0, "object");
	refused("{\"name\":\"a\"," BASE ROLE "\"codeArtifact\":{\"uri\":7}}", 0, "uri");
	static const char *const bad_uris[] = { "http://h/x.zip", "x.zip", "file://x.zip",
						"s3://b", "s3://b/", "s3:///k", "/a/../b",
						"/a/..", "", "/a\\u0001b", "/a\\u0000b" };
	for (size_t i = 0; i < sizeof bad_uris / sizeof bad_uris[0]; i++) {
		char s[512];
		snprintf(s, sizeof s, "{\"name\":\"a\"," BASE ROLE ART("%s") "}", bad_uris[i]);
		refused(s, 0, "codeArtifact.uri");
	}
	refused(OK_BODY ",\"hooks\":{\"port\":9000,\"microvmHooks\":{\"suspend\":\"ENABLED\"}}}", 0,
		"ready hook");
	refused(OK_BODY ",\"hooks\":{\"microvmImageHooks\":{\"ready\":\"ENABLED\"}}}", 0, "port");
	refused(OK_BODY ",\"environmentVariables\":{\"9A\":\"x\"}}", 0, "names");
	refused(OK_BODY ",\"environmentVariables\":{\"A-B\":\"x\"}}", 0, "names");
	refused(OK_BODY ",\"environmentVariables\":{\"A\":1}}", 0, "string");
	refused(OK_BODY ",\"environmentVariables\":{\"A\":\"a\\u0000b\"}}", 0, "NUL");
	refused(OK_BODY ",\"resources\":[{\"minimumMemoryInMiB\":64}]}", 0, "minimumMemoryInMiB");
	refused(OK_BODY ",\"resources\":[{},{}]}", 0, "resources");
	refused(OK_BODY ",\"resources\":[7]}", 0, "objects");
	refused(OK_BODY ",\"cpuConfigurations\":[{}]}", 0, "architecture is required");
	refused(OK_BODY ",\"cpuConfigurations\":[{\"architecture\":\"X\"}]}", 0, "ARM_64");
	refused(OK_BODY ",\"cpuConfigurations\":[{\"architecture\":\"X86_64\",\"vcpus\":99}]}", 0,
		"vcpus");
	refused(OK_BODY ",\"additionalOsCapabilities\":[\"NET\"]}", 0, NULL);
	refused(OK_BODY ",\"egressNetworkConnectors\":[\"a\",\"b\"]}", 0, NULL);
	refused(OK_BODY ",\"logging\":{}}", 0, "logging");
	refused(OK_BODY ",\"tags\":{\"k\":{}}}", 0, "tags");
	refused(OK_BODY ",\"clientToken\":\"\"}", 0, "clientToken");
	refused(OK_BODY ",\"description\":7}", 0, "description");

	/* A large environment is refused before the builder's buffer. */
	size_t n = 40000;
	char *big = malloc(n);
	CHECK(big != NULL);
	int off = snprintf(big, n, OK_BODY ",\"environmentVariables\":{\"A\":\"");
	memset(big + off, 'x', 12000);
	snprintf(big + off + 12000, n - off - 12000, "\"}}");
	refused(big, 0, "too large");
	free(big);
}

TEST(fingerprint)
{
	struct api_imgreq r;
	struct api_err e;
	CHECK_EQ(parse(OK_BODY ",\"clientToken\":\"a\"}", 0, &r, &e), 0);
	uint64_t a = api_imgreq_fingerprint(&r);
	CHECK_EQ(parse(OK_BODY ",\"clientToken\":\"b\",\"ignored\":1}", 0, &r, &e), 0);
	CHECK_EQ(api_imgreq_fingerprint(&r), a);
	CHECK_EQ(parse(OK_BODY ",\"description\":\"x\"}", 0, &r, &e), 0);
	CHECK(api_imgreq_fingerprint(&r) != a);
	CHECK_EQ(parse(OK_BODY ",\"tags\":{\"k\":\"v\"}}", 0, &r, &e), 0);
	CHECK(api_imgreq_fingerprint(&r) != a);
	CHECK_EQ(parse("{\"name\":\"app2\"," BASE ROLE ART("s3://b/k.zip") "}", 0, &r, &e), 0);
	CHECK(api_imgreq_fingerprint(&r) != a);
}

TEST(names_and_status)
{
	struct api_err e;
	int active = -1;
	CHECK_EQ(api_imgreq_name("a", &e), 0);
	CHECK_EQ(api_imgreq_name("A9._-z", &e), 0);
	CHECK_EQ(api_imgreq_name(".a", &e), -1);
	CHECK_EQ(api_imgreq_name("a b", &e), -1);
	struct json_object *o = api_json_parse("{\"status\":\"INACTIVE\"}", 21, &e);
	CHECK_EQ(api_imgreq_version_status(o, &active, &e), 0);
	CHECK_EQ(active, 0);
	json_object_put(o);
	o = api_json_parse("{\"status\":\"ACTIVE\"}", 19, &e);
	CHECK_EQ(api_imgreq_version_status(o, &active, &e), 0);
	CHECK_EQ(active, 1);
	json_object_put(o);
	o = api_json_parse("{\"status\":\"active\"}", 19, &e);
	CHECK_EQ(api_imgreq_version_status(o, &active, &e), -1);
	json_object_put(o);
	o = api_json_parse("{}", 2, &e);
	CHECK_EQ(api_imgreq_version_status(o, &active, &e), -1);
	json_object_put(o);
}

TEST(logs_query)
{
	struct api_err e;
	int64_t off, max;
	CHECK_EQ(api_imgreq_logs_query(NULL, NULL, &off, &max, &e), 0);
	CHECK(off == 0 && max == API_IMGREQ_LOG_DEFAULT);
	CHECK_EQ(api_imgreq_logs_query("123", "1", &off, &max, &e), 0);
	CHECK(off == 123 && max == 1);
	CHECK_EQ(api_imgreq_logs_query("0", "1048576", &off, &max, &e), 0);
	CHECK(off == 0 && max == API_IMGREQ_LOG_MAX);
	static const char *const bad_off[] = { "", "-1", "+1", " 1", "1x", "0x10",
					       "9999999999999999999", "1.5" };
	for (size_t i = 0; i < sizeof bad_off / sizeof bad_off[0]; i++) {
		CHECK_EQ(api_imgreq_logs_query(bad_off[i], NULL, &off, &max, &e), -1);
		CHECK_STR(e.type, API_E_VALIDATION);
		CHECK(strstr(e.msg, "offset") != NULL);
	}
	static const char *const bad_max[] = { "0", "1048577", "-5", "", "abc" };
	for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++) {
		CHECK_EQ(api_imgreq_logs_query(NULL, bad_max[i], &off, &max, &e), -1);
		CHECK(strstr(e.msg, "maxBytes") != NULL);
	}
}

TEST_MAIN(T(valid), T(invalid), T(fingerprint), T(names_and_status), T(logs_query))
