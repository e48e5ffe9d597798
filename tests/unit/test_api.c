/* test_api.c - request validation models in protocol/api_*.c */
#include <stdlib.h>

#include "protocol/api_auth.h"
#include "protocol/api_connector.h"
#include "protocol/api_hook.h"
#include "protocol/api_ident.h"
#include "protocol/api_image.h"
#include "protocol/api_json.h"
#include "protocol/api_page.h"
#include "protocol/api_run.h"
#include "protocol/api_tags.h"
#include "test.h"

static struct json_object *parse(const char *s)
{
	struct api_err e = { 0 };
	return api_json_parse(s, strlen(s), &e);
}

/* 0 when the body validates as RunMicrovm, else -1 with the error type in *type.
 * The parsed body stays alive until the next call (r points into it). */
static int run(const char *s, struct api_run_req *r, const char **type)
{
	static struct json_object *last;
	struct api_err e = { 0 };
	json_object_put(last);
	last = api_json_parse(s, strlen(s), &e);
	int rc = last ? api_run_parse(last, API_MIN_IDLE, r, &e) : -1;
	*type = e.type;
	return rc;
}

TEST(json_parse)
{
	struct api_err e = { 0 };
	struct json_object *o = parse("");
	CHECK(o && json_object_is_type(o, json_type_object));
	json_object_put(o);
	CHECK(parse("{") == NULL);
	CHECK(parse("[]") == NULL);
	CHECK(parse("{} x") == NULL);
	CHECK(parse("{}{}") == NULL);
	CHECK(parse("\"s\"") == NULL);
	o = parse(" {\"a\":1} \n");
	CHECK(o != NULL);
	json_object_put(o);
	/* Deep nesting is refused. */
	char deep[200];
	memset(deep, '[', sizeof deep);
	memcpy(deep, "{\"a\":", 5);
	CHECK(api_json_parse(deep, sizeof deep, &e) == NULL);
	CHECK_STR(e.type, API_E_VALIDATION);
	CHECK(api_json_parse("{}", API_MAX_BODY + 1, &e) == NULL);
}

TEST(run_valid)
{
	struct api_run_req r;
	const char *t;
	CHECK_EQ(run("{\"imageIdentifier\":\"busybox\",\"unknownField\":[1,2]}", &r, &t), 0);
	CHECK_STR(r.image, "busybox");
	CHECK_EQ(r.max_duration, API_MAX_DURATION);
	CHECK(!r.has_idle);
	CHECK_EQ(run("{\"imageIdentifier\":\"busybox\",\"idlePolicy\":{\"maxIdleDurationSeconds\":60,"
		     "\"suspendedDurationSeconds\":0,\"autoResumeEnabled\":true},"
		     "\"maximumDurationInSeconds\":1,\"runHookPayload\":\"hi\","
		     "\"clientToken\":\"abc\",\"logging\":{\"disabled\":{}}}",
		     &r, &t),
		 0);
	CHECK(r.has_idle && r.max_idle == 60 && r.suspended == 0 && r.auto_resume == 1);
	CHECK_EQ(r.max_duration, 1);
	CHECK_EQ(r.hook_payload_len, 2u);
	CHECK_STR(r.client_token, "abc");
	CHECK_STR(r.logging_kind, "disabled");
}

TEST(run_invalid)
{
	struct api_run_req r;
	const char *t;
	const char *bad[] = {
		"{}",
		"{\"imageIdentifier\":5}",
		"{\"imageIdentifier\":\"\"}",
		"{\"imageIdentifier\":\"b\",\"maximumDurationInSeconds\":0}",
		"{\"imageIdentifier\":\"b\",\"maximumDurationInSeconds\":28801}",
		"{\"imageIdentifier\":\"b\",\"maximumDurationInSeconds\":\"60\"}",
		"{\"imageIdentifier\":\"b\",\"maximumDurationInSeconds\":60.5}",
		"{\"imageIdentifier\":\"b\",\"maximumDurationInSeconds\":99999999999999999999999}",
		"{\"imageIdentifier\":\"b\",\"idlePolicy\":{\"maxIdleDurationSeconds\":59,"
		"\"suspendedDurationSeconds\":0,\"autoResumeEnabled\":true}}",
		"{\"imageIdentifier\":\"b\",\"idlePolicy\":{\"maxIdleDurationSeconds\":60}}",
		"{\"imageIdentifier\":\"b\",\"idlePolicy\":{\"maxIdleDurationSeconds\":60,"
		"\"suspendedDurationSeconds\":-1,\"autoResumeEnabled\":true}}",
		"{\"imageIdentifier\":\"b\",\"idlePolicy\":{\"maxIdleDurationSeconds\":60,"
		"\"suspendedDurationSeconds\":1,\"autoResumeEnabled\":\"yes\"}}",
		"{\"imageIdentifier\":\"b\",\"idlePolicy\":[]}",
		"{\"imageIdentifier\":\"b\",\"ingressNetworkConnectors\":\"x\"}",
		"{\"imageIdentifier\":\"b\",\"ingressNetworkConnectors\":[1]}",
		"{\"imageIdentifier\":\"b\",\"clientToken\":\"\"}",
		"{\"imageIdentifier\":\"b\",\"logging\":{}}",
		"{\"imageIdentifier\":\"b\",\"logging\":{\"disabled\":{},\"cloudWatch\":{}}}",
		"{\"imageIdentifier\":\"b\",\"runHookPayload\":7}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (run(bad[i], &r, &t) != -1 || !t || strcmp(t, API_E_VALIDATION) != 0) {
			fprintf(stderr, "  accepted or wrong error: %s\n", bad[i]);
			CHECK(0);
		}
	}
	/* runHookPayload is capped at 16 KiB. */
	size_t n = API_MAX_HOOK_PAYLOAD + 64;
	char *big = malloc(n + 64);
	CHECK(big != NULL);
	int off = sprintf(big, "{\"imageIdentifier\":\"b\",\"runHookPayload\":\"");
	memset(big + off, 'x', API_MAX_HOOK_PAYLOAD + 1);
	strcpy(big + off + API_MAX_HOOK_PAYLOAD + 1, "\"}");
	int rc = run(big, &r, &t);
	big[off + API_MAX_HOOK_PAYLOAD] = '"';
	strcpy(big + off + API_MAX_HOOK_PAYLOAD + 1, "}");
	int rc2 = run(big, &r, &t);
	free(big);
	CHECK_EQ(rc, -1);
	CHECK_EQ(rc2, 0);
}

TEST(run_min_idle_configurable)
{
	struct api_err e = { 0 };
	struct api_run_req r;
	struct json_object *o = parse("{\"imageIdentifier\":\"b\",\"idlePolicy\":{"
				      "\"maxIdleDurationSeconds\":2,\"suspendedDurationSeconds\":1,"
				      "\"autoResumeEnabled\":false}}");
	CHECK(o != NULL);
	CHECK_EQ(api_run_parse(o, API_MIN_IDLE, &r, &e), -1);
	CHECK_EQ(api_run_parse(o, 1, &r, &e), 0);
	json_object_put(o);
}

TEST(fingerprint)
{
	struct api_run_req a, b;
	const char *t;
	CHECK_EQ(run("{\"imageIdentifier\":\"busybox\",\"clientToken\":\"x\"}", &a, &t), 0);
	uint64_t fa = api_run_fingerprint(&a);
	CHECK_EQ(run("{\"imageIdentifier\":\"busybox\",\"clientToken\":\"y\"}", &b, &t), 0);
	CHECK_EQ(fa, api_run_fingerprint(&b));
	CHECK_EQ(run("{\"imageIdentifier\":\"busybox\",\"maximumDurationInSeconds\":5}", &b, &t),
		 0);
	CHECK(fa != api_run_fingerprint(&b));
}

static int auth(const char *s, int proxy, struct api_auth_req *r)
{
	struct api_err e = { 0 };
	struct json_object *o = api_json_parse(s, strlen(s), &e);
	int rc = o ? (proxy ? api_auth_parse_proxy(o, r, &e) : api_auth_parse_shell(o, r, &e)) : -1;
	json_object_put(o);
	return rc;
}

TEST(auth_requests)
{
	struct api_auth_req r;
	CHECK_EQ(auth("{\"expirationInMinutes\":5,\"allowedPorts\":[{\"port\":8080},"
		      "{\"range\":{\"startPort\":9000,\"endPort\":9010}},{\"allPorts\":{}}]}",
		      1, &r),
		 0);
	CHECK_EQ(r.nranges, 3u);
	CHECK(r.ranges[0].lo == 8080 && r.ranges[0].hi == 8080);
	CHECK(r.ranges[1].lo == 9000 && r.ranges[1].hi == 9010);
	CHECK(r.ranges[2].lo == 1 && r.ranges[2].hi == 65535);
	const char *bad[] = {
		"{\"allowedPorts\":[{\"port\":1}]}",
		"{\"expirationInMinutes\":0,\"allowedPorts\":[{\"port\":1}]}",
		"{\"expirationInMinutes\":61,\"allowedPorts\":[{\"port\":1}]}",
		"{\"expirationInMinutes\":5}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{\"port\":0}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{\"port\":65536}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{\"port\":1,\"allPorts\":{}}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{\"range\":{\"startPort\":5,"
		"\"endPort\":4}}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[{\"range\":{\"startPort\":5}}]}",
		"{\"expirationInMinutes\":5,\"allowedPorts\":[\"80\"]}",
		"{\"expirationInMinutes\":\"5\",\"allowedPorts\":[{\"port\":1}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (auth(bad[i], 1, &r) != -1) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK_EQ(auth("{\"expirationInMinutes\":600}", 0, &r), 0);
	CHECK_EQ(r.minutes, 60); /* capped */
	CHECK_EQ(auth("{\"expirationInMinutes\":0}", 0, &r), -1);
	CHECK_EQ(auth("{}", 0, &r), -1);
}

TEST(tags)
{
	struct api_err e = { 0 };
	struct api_tags_req r;
	struct json_object *o = parse("{\"Tags\":{\"team\":\"x\",\"env\":\"\"}}");
	CHECK(o != NULL);
	CHECK_EQ(api_tags_parse(o, &r, &e), 0);
	CHECK_EQ(r.n, 2u);
	json_object_put(o);
	const char *bad[] = { "{}", "{\"Tags\":{}}", "{\"Tags\":[]}", "{\"Tags\":{\"a\":1}}",
			      "{\"Tags\":{\"aws:x\":\"y\"}}", "{\"Tags\":{\"\":\"y\"}}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = parse(bad[i]);
		CHECK(o != NULL);
		int rc = api_tags_parse(o, &r, &e);
		json_object_put(o);
		CHECK_EQ(rc, -1);
	}
}

TEST(paging)
{
	uint8_t key[32] = { 1, 2, 3 }, key2[32] = { 9 };
	char tok[API_PAGE_TOKEN_MAX + 1];
	struct api_err e = { 0 };
	struct api_page p = { .list = 1, .after = 42, .filter = 7 }, out;
	CHECK(api_page_encode(key, sizeof key, &p, tok, sizeof tok) > 0);
	CHECK_EQ(api_page_decode(key, sizeof key, tok, 1, 7, &out, &e), 0);
	CHECK_EQ(out.after, 42u);
	CHECK_EQ(api_page_decode(key, sizeof key, tok, 2, 7, &out, &e), -1); /* other list */
	CHECK_EQ(api_page_decode(key, sizeof key, tok, 1, 8, &out, &e), -1); /* other filter */
	CHECK_EQ(api_page_decode(key2, sizeof key2, tok, 1, 7, &out, &e), -1);
	tok[3] = tok[3] == 'A' ? 'B' : 'A';
	CHECK_EQ(api_page_decode(key, sizeof key, tok, 1, 7, &out, &e), -1);
	CHECK_EQ(api_page_decode(key, sizeof key, "", 1, 7, &out, &e), -1);
	CHECK_EQ(api_page_decode(key, sizeof key, "../../etc", 1, 7, &out, &e), -1);
	int m;
	CHECK_EQ(api_page_max_results("10", 100, &m, &e), 0);
	CHECK_EQ(m, 10);
	CHECK_EQ(api_page_max_results("0", 100, &m, &e), -1);
	CHECK_EQ(api_page_max_results("101", 100, &m, &e), -1);
	CHECK_EQ(api_page_max_results("1x", 100, &m, &e), -1);
	CHECK_EQ(api_page_max_results("", 100, &m, &e), -1);
	CHECK_EQ(api_page_max_results("-1", 100, &m, &e), -1);
}

TEST(identifiers)
{
	struct api_err e = { 0 };
	struct api_ident id;
	CHECK_EQ(api_ident_microvm("mvm-0123", &id, &e), 0);
	CHECK_STR(id.name, "mvm-0123");
	CHECK_EQ(api_ident_microvm("arn:hearth:lambda:local:000000000000:microvm:mvm-1", &id, &e),
		 0);
	CHECK_STR(id.name, "mvm-1");
	CHECK_EQ(api_ident_microvm("../etc/passwd", &id, &e), -1);
	CHECK_EQ(api_ident_microvm("..", &id, &e), -1);
	CHECK_EQ(api_ident_microvm("a/b", &id, &e), -1);
	CHECK_EQ(api_ident_microvm("", &id, &e), -1);
	CHECK_EQ(api_ident_microvm("arn:hearth:lambda:local:0:microvm-image:x", &id, &e), -1);
	CHECK_EQ(api_ident_image("arn:aws:lambda:us-east-1:aws:microvm-image:al2023-1", &id, &e),
		 0);
	CHECK(id.managed && id.is_arn);
	CHECK_STR(id.name, "al2023-1");
	CHECK_EQ(api_ident_image("debian-12", &id, &e), 0);
	CHECK(!id.is_arn);
	CHECK_EQ(api_ident_image("arn:x", &id, &e), -1);
	CHECK_EQ(api_ident_resource("busybox", &id, &e), -1); /* tags need an ARN */
	char arn[256];
	CHECK(api_ident_microvm_arn("mvm-1", arn, sizeof arn) > 0);
	CHECK_EQ(api_ident_resource(arn, &id, &e), 0);
	CHECK_EQ(id.kind, API_RES_MICROVM);
	CHECK_EQ(api_ident_version("1.0", &e), 0);
	CHECK_EQ(api_ident_version("../1", &e), -1);
}

TEST(image_json)
{
	struct api_err e = { 0 };
	struct api_image img;
	const char *ok = "{\"name\":\"busybox\",\"version\":\"1\",\"kernel\":\"k\",\"initrd\":null,"
			 "\"cmdline\":\"console=hvc0\",\"memoryMiB\":128,\"command\":\"/app &\","
			 "\"hooks\":{\"port\":8080,"
			 "\"microvmHooks\":{\"run\":\"ENABLED\",\"runTimeoutInSeconds\":5},"
			 "\"microvmImageHooks\":{\"ready\":\"ENABLED\"}}}";
	CHECK_EQ(api_image_parse(ok, strlen(ok), &img, &e), 0);
	CHECK_STR(img.kernel, "k");
	CHECK_STR(img.initrd, "");
	CHECK_STR(img.command, "/app &");
	CHECK_EQ(img.mem_mib, 128u);
	CHECK_EQ(img.hooks.port, 8080);
	CHECK(img.hooks.enabled[API_HOOK_RUN] && img.hooks.timeout[API_HOOK_RUN] == 5);
	CHECK(img.hooks.enabled[API_HOOK_READY] && img.hooks.timeout[API_HOOK_READY] == 30);
	CHECK(!img.hooks.enabled[API_HOOK_SUSPEND] && img.hooks.timeout[API_HOOK_SUSPEND] == 1);
	const char *bad = "{\"name\":\"b\",\"version\":\"1\",\"kernel\":\"k\",\"hooks\":{"
			  "\"microvmHooks\":{\"run\":\"ENABLED\",\"runTimeoutInSeconds\":61}}}";
	CHECK_EQ(api_image_parse(bad, strlen(bad), &img, &e), -1);
	const char *noport = "{\"name\":\"b\",\"version\":\"1\",\"kernel\":\"k\",\"hooks\":{"
			     "\"microvmHooks\":{\"run\":\"ENABLED\"}}}";
	CHECK_EQ(api_image_parse(noport, strlen(noport), &img, &e), -1);
	CHECK_EQ(api_image_parse("{\"name\":\"b\"}", 12, &img, &e), -1);
	CHECK_EQ(img.os_caps_all, 0);
	/* additionalOsCapabilities: absent or [] = default set, ["ALL"], nothing else */
	CHECK_EQ(api_image_parse(ok, strlen(ok), &img, &e), 0);
	CHECK_EQ(img.os_caps_all, 0);
	static const struct {
		const char *caps;
		int rc, all;
	} capcases[] = {
		{ "[]", 0, 0 },	       { "[\"ALL\"]", 0, 1 },	 { "[\"all\"]", -1, 0 },
		{ "[\"NET_ADMIN\"]", -1, 0 }, { "[\"ALL\",\"ALL\"]", -1, 0 }, { "\"ALL\"", -1, 0 },
		{ "[1]", -1, 0 },	       { "null", 0, 0 },
	};
	for (size_t i = 0; i < sizeof capcases / sizeof capcases[0]; i++) {
		char doc[256];
		snprintf(doc, sizeof doc,
			 "{\"name\":\"b\",\"version\":\"1\",\"kernel\":\"k\","
			 "\"additionalOsCapabilities\":%s}",
			 capcases[i].caps);
		CHECK_EQ(api_image_parse(doc, strlen(doc), &img, &e), capcases[i].rc);
		if (capcases[i].rc == 0)
			CHECK_EQ(img.os_caps_all, capcases[i].all);
	}
}

/* image.json's "app" and "ports" (what the image builder writes). */
TEST(image_app)
{
	struct api_err e = { 0 };
	static struct api_image img; /* large: keep it off the test's stack */
	const char *head = "{\"name\":\"b\",\"version\":\"1\",\"kernel\":\"k\"";
	char doc[4096];
	snprintf(doc, sizeof doc,
		 "%s,\"app\":{\"argv\":[\"python3\",\"app.py\",\"\"],\"env\":[\"A=1\",\"B=x=y\","
		 "\"C=\"],\"workdir\":\"/app\",\"user\":\"1000:1000\"},\"ports\":[8080,8081]}",
		 head);
	CHECK_EQ(api_image_parse(doc, strlen(doc), &img, &e), 0);
	CHECK_EQ(img.app.argc, 3u);
	CHECK_STR(api_image_app_arg(&img.app, 0), "python3");
	CHECK_STR(api_image_app_arg(&img.app, 1), "app.py");
	CHECK_STR(api_image_app_arg(&img.app, 2), "");
	CHECK_EQ(img.app.envc, 3u);
	CHECK_STR(api_image_app_env(&img.app, 1), "B=x=y");
	CHECK_STR(api_image_app_env(&img.app, 2), "C=");
	CHECK_STR(api_image_app_workdir(&img.app), "/app");
	CHECK_STR(api_image_app_user(&img.app), "1000:1000");
	CHECK_EQ(img.nports, 2u);
	CHECK_EQ(img.ports[0], 8080);
	CHECK_EQ(img.ports[1], 8081);
	/* Absent: no app, no ports; an app without argv starts nothing. */
	snprintf(doc, sizeof doc, "%s}", head);
	CHECK_EQ(api_image_parse(doc, strlen(doc), &img, &e), 0);
	CHECK_EQ(img.app.argc, 0u);
	CHECK_EQ(img.nports, 0u);
	CHECK_STR(api_image_app_user(&img.app), "");
	snprintf(doc, sizeof doc, "%s,\"app\":{\"env\":[\"A=1\"]},\"ports\":[]}", head);
	CHECK_EQ(api_image_parse(doc, strlen(doc), &img, &e), 0);
	CHECK_EQ(img.app.argc, 0u);
	CHECK_EQ(img.app.envc, 1u);
	CHECK_STR(api_image_app_workdir(&img.app), "");
	static const char *const bad[] = {
		"\"app\":[]",
		"\"app\":{\"argv\":\"sh\"}",
		"\"app\":{\"argv\":[1]}",
		"\"app\":{\"argv\":[\"\"]}",
		"\"app\":{\"argv\":[\"a\\u0000b\"]}",
		"\"app\":{\"argv\":[\"sh\"],\"env\":[\"NOEQUALS\"]}",
		"\"app\":{\"argv\":[\"sh\"],\"env\":[\"=v\"]}",
		"\"app\":{\"argv\":[\"sh\"],\"workdir\":\"rel\"}",
		"\"app\":{\"argv\":[\"sh\"],\"workdir\":5}",
		"\"app\":{\"argv\":[\"sh\"],\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"\"ports\":[0]",
		"\"ports\":[65536]",
		"\"ports\":[\"80\"]",
		"\"ports\":[80.5]",
		"\"ports\":8080",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(doc, sizeof doc, "%s,%s}", head, bad[i]);
		e.msg[0] = '\0';
		CHECK_EQ(api_image_parse(doc, strlen(doc), &img, &e), -1);
		CHECK(e.msg[0] != '\0');
	}
	/* Bounds: 256 argv entries pass, 257 fail; 512 env pass, 513 fail. */
	static char big[API_IMAGE_MAX_JSON + 1];
	struct {
		const char *key, *item;
		int n, rc;
	} bounds[] = {
		{ "argv", "\"a\"", 256, 0 }, { "argv", "\"a\"", 257, -1 },
		{ "env", "\"K=V\"", 512, 0 }, { "env", "\"K=V\"", 513, -1 },
	};
	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		size_t off = (size_t)snprintf(big, sizeof big, "%s,\"app\":{\"argv\":[\"sh\"],\"%s\":[",
					      head, bounds[i].key);
		if (strcmp(bounds[i].key, "argv") == 0)
			off = (size_t)snprintf(big, sizeof big, "%s,\"app\":{\"argv\":[", head);
		for (int k = 0; k < bounds[i].n; k++)
			off += (size_t)snprintf(big + off, sizeof big - off, "%s%s", k ? "," : "",
						bounds[i].item);
		snprintf(big + off, sizeof big - off, "]}}");
		CHECK_EQ(api_image_parse(big, strlen(big), &img, &e), bounds[i].rc);
	}
	/* Long strings up to the 64 KiB document limit all fit in the text. */
	size_t off = (size_t)snprintf(big, sizeof big, "%s,\"app\":{\"argv\":[", head);
	for (int k = 0; k < 5; k++) {
		off += (size_t)snprintf(big + off, sizeof big - off, "%s\"", k ? "," : "");
		memset(big + off, 'x', 13000);
		off += 13000;
		big[off++] = '"';
	}
	snprintf(big + off, sizeof big - off, "]}}");
	CHECK_EQ(api_image_parse(big, strlen(big), &img, &e), 0);
	CHECK_EQ(strlen(api_image_app_arg(&img.app, 4)), 13000u);
}

TEST(hook_http)
{
	struct buf b;
	int st = 0;
	buf_init(&b, 4096);
	CHECK_EQ(api_hook_request(&b, "run", "abc", 3), 0);
	CHECK(memmem(buf_ptr(&b), buf_used(&b), "POST /aws/lambda-microvms/runtime/v1/run HTTP/1.1",
		     strlen("POST /aws/lambda-microvms/runtime/v1/run HTTP/1.1")) != NULL);
	CHECK(memmem(buf_ptr(&b), buf_used(&b), "Content-Length: 3\r\nConnection: close\r\n\r\nabc",
		     strlen("Content-Length: 3\r\nConnection: close\r\n\r\nabc")) != NULL);
	buf_free(&b);
	CHECK_EQ(api_hook_status("HTTP/1.1 200 OK\r\n", 17, &st), 1);
	CHECK_EQ(st, 200);
	CHECK_EQ(api_hook_status("HTTP/1.0 503\r\n", 14, &st), 1);
	CHECK_EQ(st, 503);
	CHECK_EQ(api_hook_status("HTTP/1.1 20", 11, &st), 0);
	CHECK_EQ(api_hook_status("HTTP/", 5, &st), 0);
	CHECK_EQ(api_hook_status("SSH-2.0\r\n", 9, &st), -1);
	CHECK_EQ(api_hook_status("HTTP/1.1 2x0 OK\r\n", 17, &st), -1);
	CHECK_EQ(api_hook_status("HTTP/1.1 099 OK\r\n", 17, &st), -1);
}

static int conn(const char *body, struct api_connector *c)
{
	struct api_err e = { 0 };
	struct json_object *o = parse(body);
	int rc = o ? api_connector_parse(o, c, &e) : -1;
	json_object_put(o);
	return rc;
}

TEST(connectors)
{
	static struct api_connector c;
	CHECK_EQ(conn("{\"name\":\"pkg-mirrors\",\"hosts\":[\"Deb.Debian.org\",\"*.pypi.org\"],"
		      "\"cidrs\":[\"203.0.113.7\",\"198.51.100.0/24:443\",\"10.1.2.3/8\"]}", &c), 0);
	CHECK_STR(c.name, "pkg-mirrors");
	CHECK_EQ(c.n_hosts, 2u);
	CHECK_STR(c.hosts[0], "deb.debian.org");
	CHECK_STR(c.hosts[1], "*.pypi.org");
	CHECK_EQ(c.n_cidrs, 3u);
	CHECK(c.cidrs[0].addr == 0xcb007107u && c.cidrs[0].prefix == 32 && c.cidrs[0].port == 0);
	CHECK(c.cidrs[1].addr == 0xc6336400u && c.cidrs[1].prefix == 24 && c.cidrs[1].port == 443);
	CHECK(c.cidrs[2].addr == 0x0a000000u && c.cidrs[2].prefix == 8); /* masked */
	static const char *const bad[] = {
		"{}", "{\"name\":\"x\"}", "{\"name\":\"a b\",\"hosts\":[\"a.com\"]}",
		"{\"name\":\"x\",\"hosts\":[\"-a.com\"]}", "{\"name\":\"x\",\"hosts\":[\"a..com\"]}",
		"{\"name\":\"x\",\"hosts\":[\"a_b.com\"]}", "{\"name\":\"x\",\"hosts\":[\"*\"]}",
		"{\"name\":\"x\",\"hosts\":[\"a.*.com\"]}", "{\"name\":\"x\",\"hosts\":[1]}",
		"{\"name\":\"x\",\"cidrs\":[\"1.2.3\"]}", "{\"name\":\"x\",\"cidrs\":[\"1.2.3.256\"]}",
		"{\"name\":\"x\",\"cidrs\":[\"1.2.3.4/33\"]}", "{\"name\":\"x\",\"cidrs\":[\"1.2.3.4:0\"]}",
		"{\"name\":\"x\",\"cidrs\":[\"1.2.3.4:65536\"]}", "{\"name\":\"x\",\"cidrs\":[\"01.2.3.4\"]}",
		"{\"name\":\"x\",\"cidrs\":[\"1.2.3.4:80/8\"]}", "{\"name\":\"x\",\"cidrs\":[\"::1\"]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(conn(bad[i], &c), -1);
	char h[API_CONN_HOST_MAX + 1], big[300];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(api_connector_host(big, h), -1);
	CHECK_EQ(api_connector_name_ok("ok_Name-1"), 1);
	CHECK_EQ(api_connector_name_ok(""), 0);
}

/* List members that are not strings, or hold a NUL, name the list. */
TEST(string_lists)
{
	static struct api_connector c;
	struct api_run_req r;
	struct api_err e = { 0 };
	struct json_object *o = parse("{\"name\":\"x\",\"hosts\":[\"a.com\",1]}");
	CHECK_EQ(api_connector_parse(o, &c, &e), -1);
	CHECK_STR(e.msg, "hosts must be a list of strings");
	json_object_put(o);
	o = parse("{\"name\":\"x\",\"cidrs\":[\"1.2.3.4\\u0000\"]}");
	CHECK_EQ(api_connector_parse(o, &c, &e), -1);
	CHECK_STR(e.msg, "cidrs[0] is invalid");
	json_object_put(o);
	o = parse("{\"imageIdentifier\":\"b\",\"egressNetworkConnectors\":[null]}");
	CHECK_EQ(api_run_parse(o, API_MIN_IDLE, &r, &e), -1);
	CHECK_STR(e.msg, "egressNetworkConnectors must be a list of strings");
	json_object_put(o);
	o = parse("{\"imageIdentifier\":\"b\",\"ingressNetworkConnectors\":[\"a\\u0000\"]}");
	CHECK_EQ(api_run_parse(o, API_MIN_IDLE, &r, &e), -1);
	CHECK_STR(e.msg, "ingressNetworkConnectors has an invalid connector ARN");
	json_object_put(o);
}

TEST_MAIN(T(json_parse), T(run_valid), T(run_invalid), T(run_min_idle_configurable),
	  T(fingerprint), T(auth_requests), T(tags), T(paging), T(identifiers), T(image_json), T(image_app),
	  T(hook_http), T(connectors), T(string_lists))
