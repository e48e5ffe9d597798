/* test_qmp.c - QMP line reader and message classifier. */
#include <json-c/json.h>
#include <stdlib.h>

#include "tests/unit/test.h"
#include "vmm/qmp.h"

static int feed_all(struct qmp_reader *r, const char *s, char *out, size_t cap)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), used;
	const char *line;
	size_t len;
	while (n) {
		int rc = qmp_reader_feed(r, p, n, &used, &line, &len);
		p += used, n -= used;
		if (rc == QMP_OK) {
			if (len >= cap)
				return -99;
			memcpy(out, line, len);
			out[len] = 0;
			return (int)(strlen(s) - n);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

TEST(reader_splits_lines)
{
	struct qmp_reader r;
	char out[256];
	qmp_reader_init(&r);
	const char *two = "{\"return\": {}}\r\n{\"event\": \"STOP\"}\n";
	int used = feed_all(&r, two, out, sizeof(out));
	CHECK_EQ(used, 16);
	CHECK_STR(out, "{\"return\": {}}");
	used = feed_all(&r, two + used, out, sizeof(out));
	CHECK_STR(out, "{\"event\": \"STOP\"}");
	qmp_reader_free(&r);
}

TEST(reader_joins_pieces)
{
	struct qmp_reader r;
	qmp_reader_init(&r);
	const char *line;
	size_t len, used;
	CHECK_EQ(qmp_reader_feed(&r, (const uint8_t *)"{\"ret", 5, &used, &line, &len), QMP_AGAIN);
	CHECK_EQ(used, 5u);
	CHECK_EQ(qmp_reader_feed(&r, (const uint8_t *)"urn\": 1}\n", 9, &used, &line, &len), QMP_OK);
	CHECK_EQ(len, 13u);
	CHECK_MEM(line, "{\"return\": 1}", 13);
	/* An empty feed after a line starts the next one clean. */
	CHECK_EQ(qmp_reader_feed(&r, (const uint8_t *)"", 0, &used, &line, &len), QMP_AGAIN);
	CHECK_EQ(qmp_reader_feed(&r, (const uint8_t *)"\n", 1, &used, &line, &len), QMP_OK);
	CHECK_EQ(len, 0u);
	qmp_reader_free(&r);
}

TEST(reader_refuses_long_line)
{
	struct qmp_reader r;
	qmp_reader_init(&r);
	size_t n = QMP_MAX_LINE + 10, used, len;
	uint8_t *big = malloc(n);
	CHECK(big != NULL);
	memset(big, 'x', n);
	const char *line;
	int rc = qmp_reader_feed(&r, big, n, &used, &line, &len);
	free(big);
	CHECK_EQ(rc, QMP_E_TOOLONG);
	/* Stays refused: the stream cannot be trusted any more. */
	CHECK_EQ(qmp_reader_feed(&r, (const uint8_t *)"{}\n", 3, &used, &line, &len), QMP_E_TOOLONG);
	qmp_reader_free(&r);
}

TEST(reader_long_line_in_pieces)
{
	struct qmp_reader r;
	qmp_reader_init(&r);
	uint8_t chunk[4096];
	memset(chunk, 'y', sizeof(chunk));
	const char *line;
	size_t used, len;
	int rc = QMP_AGAIN;
	for (size_t total = 0; total <= QMP_MAX_LINE + sizeof(chunk) && rc == QMP_AGAIN;
	     total += sizeof(chunk))
		rc = qmp_reader_feed(&r, chunk, sizeof(chunk), &used, &line, &len);
	CHECK_EQ(rc, QMP_E_TOOLONG);
	qmp_reader_free(&r);
}

TEST(parse_kinds)
{
	struct qmp_msg m;
	const char *g = "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}";
	CHECK_EQ(qmp_parse(g, strlen(g), &m), QMP_OK);
	CHECK_EQ(m.kind, QMP_GREETING);
	qmp_msg_free(&m);
	const char *r = "{\"return\": {\"status\": \"running\"}}";
	CHECK_EQ(qmp_parse(r, strlen(r), &m), QMP_OK);
	CHECK_EQ(m.kind, QMP_RETURN);
	struct json_object *st;
	CHECK(json_object_object_get_ex(m.value, "status", &st));
	CHECK_STR(json_object_get_string(st), "running");
	qmp_msg_free(&m);
	const char *e = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such node\"}}";
	CHECK_EQ(qmp_parse(e, strlen(e), &m), QMP_OK);
	CHECK_EQ(m.kind, QMP_ERROR);
	CHECK_STR(m.cls, "GenericError");
	CHECK_STR(m.desc, "no such node");
	qmp_msg_free(&m);
	const char *ev = "{\"timestamp\": {\"seconds\": 1}, \"event\": \"RESUME\"}  ";
	CHECK_EQ(qmp_parse(ev, strlen(ev), &m), QMP_OK);
	CHECK_EQ(m.kind, QMP_EVENT);
	CHECK_STR(m.event, "RESUME");
	CHECK(m.value == NULL);
	qmp_msg_free(&m);
}

TEST(parse_refuses_bad_input)
{
	struct qmp_msg m;
	static const char *const bad[] = {
		"", "{", "[1,2]", "\"str\"", "{\"return\": 1} x", "{\"return\": 1}{}",
		"{\"event\": 5}", "{\"error\": \"flat\"}", "{\"other\": 1}", "nul",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = qmp_parse(bad[i], strlen(bad[i]), &m);
		CHECK(rc < 0);
		CHECK(m.root == NULL);
	}
}

TEST(parse_depth_limited)
{
	char deep[200];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "{\"return\": ");
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	for (int i = 0; i < 40; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = 0;
	struct qmp_msg m;
	CHECK(qmp_parse(deep, n, &m) < 0);
}

TEST(parse_embedded_nul_and_truncation)
{
	struct qmp_msg m;
	/* A NUL inside the line ends the JSON early: trailing bytes are refused. */
	const char s[] = "{\"return\": {}}\0junk";
	CHECK(qmp_parse(s, sizeof(s) - 1, &m) < 0);
	/* An over-long error description is cut, not overflowed. */
	char big[2048];
	int k = snprintf(big, sizeof(big), "{\"error\": {\"class\": \"X\", \"desc\": \"");
	memset(big + k, 'd', 1500);
	k += 1500;
	k += snprintf(big + k, sizeof(big) - (size_t)k, "\"}}");
	CHECK_EQ(qmp_parse(big, (size_t)k, &m), QMP_OK);
	CHECK_EQ(strlen(m.desc), sizeof(m.desc) - 1);
	qmp_msg_free(&m);
}

TEST_MAIN(T(reader_splits_lines), T(reader_joins_pieces), T(reader_refuses_long_line),
	  T(reader_long_line_in_pieces), T(parse_kinds), T(parse_refuses_bad_input),
	  T(parse_depth_limited), T(parse_embedded_nul_and_truncation))
