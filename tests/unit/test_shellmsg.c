/* test_shellmsg.c - the shell WebSocket's TEXT control frames (protocol/shellmsg.c) */
#include "protocol/shellmsg.h"
#include "test.h"

/* 0 accepted, -1 refused with a reason, -2 refused without one. */
static int parse(const char *s, struct shellmsg *m)
{
	char err[128];
	err[0] = '\0';
	int rc = shellmsg_parse(s, strlen(s), m, err, sizeof err);
	return rc < 0 && err[0] == '\0' ? -2 : rc;
}

TEST(resize)
{
	struct shellmsg m;
	CHECK_EQ(parse("{\"type\":\"resize\",\"cols\":120,\"rows\":40}", &m), 0);
	CHECK_EQ(m.type, SHELLMSG_RESIZE);
	CHECK_EQ(m.cols, 120);
	CHECK_EQ(m.rows, 40);
	CHECK_EQ(parse(" { \"rows\" : 1 , \"cols\" : 65535, \"type\" : \"resize\" } ", &m), 0);
	CHECK_EQ(m.cols, 65535);
	CHECK_EQ(m.rows, 1);
	CHECK(parse("{\"type\":\"resize\",\"cols\":0,\"rows\":5}", &m) < 0); /* no 0-sized pty */
}

TEST(refused)
{
	static const char *const bad[] = {
		"",
		"ls -l\r",
		"{\"type\":\"resize\",\"cols\":80}",
		"{\"type\":\"resize\",\"cols\":80,\"rows\":-1}",
		"{\"type\":\"resize\",\"cols\":80,\"rows\":65536}",
		"{\"type\":\"resize\",\"cols\":80.5,\"rows\":24}",
		"{\"type\":\"resize\",\"cols\":\"80\",\"rows\":24}",
		"{\"type\":\"resize\",\"cols\":80,\"rows\":24,\"x\":1}",
		"{\"type\":\"resize\",\"cols\":80,\"rows\":24}x",
		"{\"type\":\"resize\",\"cols\":80,\"rows\":24",
		"{\"type\":\"bogus\"}",
		"{\"type\":1}",
		"{\"cols\":80,\"rows\":24}",
		"[\"resize\",80,24]",
		"\"resize\"",
		"{\"type\":{\"a\":{\"b\":{\"c\":{}}}}}",
	};
	struct shellmsg m;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(parse(bad[i], &m), -1);
	/* An embedded NUL or an over-long frame is refused before parsing. */
	char err[64];
	CHECK_EQ(shellmsg_parse("{\"type\":\"resize\"\0}", 18, &m, err, sizeof err), -1);
	static char big[SHELLMSG_MAX + 2];
	memset(big, ' ', sizeof big);
	memcpy(big, "{\"type\":\"resize\",\"cols\":1,\"rows\":1}", 35);
	CHECK_EQ(shellmsg_parse(big, SHELLMSG_MAX, &m, err, sizeof err), 0);
	CHECK_EQ(shellmsg_parse(big, SHELLMSG_MAX + 1, &m, err, sizeof err), -1);
}

TEST(encode)
{
	char out[256];
	int n = shellmsg_session_init(out, sizeof out, "0b5f6a52-7d1c-4a8e-9f3e-2a1b3c4d5e6f");
	CHECK(n > 0);
	CHECK_STR(out, "{\"type\":\"session_init\",\"session_id\":"
		       "\"0b5f6a52-7d1c-4a8e-9f3e-2a1b3c4d5e6f\"}");
	n = shellmsg_error(out, sizeof out, "bad \"frame\"/x");
	CHECK(n > 0);
	CHECK_STR(out, "{\"type\":\"error\",\"message\":\"bad \\\"frame\\\"/x\"}");
	CHECK_EQ(shellmsg_error(out, 10, "too long for ten bytes"), -1);
}

TEST_MAIN(T(resize), T(refused), T(encode))
