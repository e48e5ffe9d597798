/* test_shellmsg.c - the shell WebSocket's TEXT control frames (protocol/shellmsg.c) */
#include "protocol/shellmsg.h"
#include "protocol/mux.h"
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
	/* Unknown members are ignored (2.3). */
	CHECK_EQ(parse("{\"type\":\"resize\",\"cols\":80,\"rows\":24,\"x\":[1]}", &m), 0);
}

TEST(open_attach)
{
	static struct shellmsg m;
	CHECK_EQ(parse("{\"type\":\"open\",\"cols\":100,\"rows\":30}", &m), 0);
	CHECK(m.type == SHELLMSG_OPEN && m.cols == 100 && m.rows == 30 && !m.has_grace);
	CHECK_EQ(parse("{\"type\":\"open\",\"cols\":1,\"rows\":1,\"grace\":3600}", &m), 0);
	CHECK(m.has_grace && m.grace == 3600);
	CHECK_EQ(parse("{\"type\":\"open\",\"cols\":1,\"rows\":1,\"grace\":3601}", &m), -1);
	CHECK_EQ(m.type, SHELLMSG_OPEN); /* a refused request still says what it was */
	CHECK_EQ(parse("{\"type\":\"open\",\"cols\":1}", &m), -1);
	CHECK_EQ(parse("{\"type\":\"attach\",\"session_id\":\"abc\"}", &m), 0);
	CHECK(m.type == SHELLMSG_ATTACH && !strcmp(m.session_id, "abc") && !m.read_only &&
	      !m.has_offset);
	CHECK_EQ(parse("{\"type\":\"attach\",\"session_id\":\"s\",\"mode\":\"ro\","
		       "\"offset\":12345678901}",
		       &m),
		 0);
	CHECK(m.read_only && m.has_offset && m.offset == 12345678901ull);
	CHECK_EQ(parse("{\"type\":\"attach\",\"session_id\":\"s\",\"mode\":\"rw\"}", &m), 0);
	CHECK(!m.read_only);
	static const char *const bad[] = {
		"{\"type\":\"attach\"}",
		"{\"type\":\"attach\",\"session_id\":\"\"}",
		"{\"type\":\"attach\",\"session_id\":7}",
		"{\"type\":\"attach\",\"session_id\":\"s\",\"mode\":\"rx\"}",
		"{\"type\":\"attach\",\"session_id\":\"s\",\"offset\":-1}",
		"{\"type\":\"attach\",\"session_id\":\"s\",\"offset\":1.5}",
		"{\"type\":\"attach\",\"session_id\":\"s\",\"offset\":99999999999999999999999}",
		"{\"type\":\"attach\",\"session_id\":\"0123456789012345678901234567890123456789"
		"01234567890123456789012345\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(parse(bad[i], &m), -1);
}

TEST(exec)
{
	static struct shellmsg m;
	CHECK_EQ(parse("{\"type\":\"exec\",\"argv\":[\"/bin/echo\",\"a b\",\"\"],"
		       "\"env\":{\"A\":\"1\",\"B\":\"x=y\"},\"cwd\":\"/tmp\",\"timeout\":5,"
		       "\"stdin\":true}",
		       &m),
		 0);
	CHECK(m.type == SHELLMSG_EXEC && m.nargv == 3 && !m.command);
	CHECK(!strcmp(m.argv[0], "/bin/echo") && !strcmp(m.argv[1], "a b") && !m.argv[2][0]);
	CHECK(m.nenv == 2 && !strcmp(m.env[0], "A=1") && !strcmp(m.env[1], "B=x=y"));
	CHECK(!strcmp(m.cwd, "/tmp") && m.timeout == 5 && m.want_stdin);
	CHECK_EQ(parse("{\"type\":\"exec\",\"command\":\"echo hi; exit 3\"}", &m), 0);
	CHECK(m.command && !strcmp(m.command, "echo hi; exit 3") && m.nargv == 0 && !m.want_stdin);
	static const char *const bad[] = {
		"{\"type\":\"exec\"}",
		"{\"type\":\"exec\",\"argv\":[\"a\"],\"command\":\"b\"}",
		"{\"type\":\"exec\",\"argv\":[]}",
		"{\"type\":\"exec\",\"argv\":[\"\"]}",
		"{\"type\":\"exec\",\"argv\":[1]}",
		"{\"type\":\"exec\",\"argv\":\"ls\"}",
		"{\"type\":\"exec\",\"argv\":[\"a\\u0000b\"]}",
		"{\"type\":\"exec\",\"command\":7}",
		"{\"type\":\"exec\",\"command\":\"x\",\"env\":{\"A\":1}}",
		"{\"type\":\"exec\",\"command\":\"x\",\"env\":{\"A=B\":\"1\"}}",
		"{\"type\":\"exec\",\"command\":\"x\",\"env\":[\"A=1\"]}",
		"{\"type\":\"exec\",\"command\":\"x\",\"timeout\":-1}",
		"{\"type\":\"exec\",\"command\":\"x\",\"stdin\":1}",
		"{\"type\":\"exec\",\"command\":\"x\",\"cwd\":false}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(parse(bad[i], &m), -1);
	/* argv past the agent's 256 entries */
	static char big[SHELLMSG_MAX];
	size_t n = (size_t)snprintf(big, sizeof big, "{\"type\":\"exec\",\"argv\":[\"a\"");
	for (int i = 0; i < 256; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, ",\"a\"");
	n += (size_t)snprintf(big + n, sizeof big - n, "]}");
	char err[128];
	CHECK_EQ(shellmsg_parse(big, n, &m, err, sizeof err), -1);
}

TEST(small_messages)
{
	static struct shellmsg m;
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":\"INT\"}", &m), 0);
	CHECK(m.type == SHELLMSG_SIGNAL && m.signo == 2);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":\"KILL\"}", &m), 0);
	CHECK_EQ(m.signo, 9);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":64}", &m), 0);
	CHECK_EQ(m.signo, 64);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":\"15\"}", &m), 0);
	CHECK_EQ(m.signo, 15);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":65}", &m), -1);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":\"SIGINT\"}", &m), -1);
	CHECK_EQ(parse("{\"type\":\"signal\",\"signal\":\"0\"}", &m), -1);
	CHECK_EQ(parse("{\"type\":\"signal\"}", &m), -1);
	CHECK_EQ(parse("{\"type\":\"detach\"}", &m), 0);
	CHECK_EQ(m.type, SHELLMSG_DETACH);
	CHECK_EQ(parse("{\"type\":\"eof\"}", &m), 0);
	CHECK_EQ(m.type, SHELLMSG_EOF);
	CHECK_EQ(parse("{\"type\":\"ping\",\"data\":\"x1\"}", &m), 0);
	CHECK(m.type == SHELLMSG_PING && m.has_data && !strcmp(m.data, "x1"));
	CHECK_EQ(parse("{\"type\":\"ping\",\"data\":5}", &m), 0);
	CHECK(!m.has_data);
	CHECK_EQ(parse("{\"type\":\"ping\"}", &m), 0);
	CHECK(!m.has_data);
	CHECK_EQ(shellmsg_signal_number("WINCH"), 28);
	CHECK_EQ(shellmsg_signal_number("1"), 1);
	CHECK_EQ(shellmsg_signal_number("007"), -1);
	CHECK_EQ(shellmsg_signal_number(""), -1);
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
	CHECK(shellmsg_error_code(out, sizeof out, "NoSuchSession", "gone") > 0);
	CHECK_STR(out, "{\"type\":\"error\",\"code\":\"NoSuchSession\",\"message\":\"gone\"}");
	CHECK(shellmsg_hello(out, sizeof out, 2097152, 300) > 0);
	CHECK_STR(out, "{\"type\":\"hello\",\"version\":1,\"replay_bytes\":2097152,\"grace\":300}");
	CHECK(shellmsg_attached(out, sizeof out, "s1", 5000000000ull, 7) > 0);
	CHECK_STR(out, "{\"type\":\"attached\",\"session_id\":\"s1\",\"offset\":5000000000,"
		       "\"dropped\":7}");
	CHECK(shellmsg_exec_started(out, sizeof out, "s2", 42) > 0);
	CHECK_STR(out, "{\"type\":\"exec_started\",\"session_id\":\"s2\",\"pid\":42}");
	CHECK(shellmsg_exit(out, sizeof out, 0, 3, 0) > 0);
	CHECK_STR(out, "{\"type\":\"exit\",\"code\":3}");
	CHECK(shellmsg_exit(out, sizeof out, 1, 9, 1) > 0);
	CHECK_STR(out, "{\"type\":\"exit\",\"signal\":9,\"timed_out\":true}");
	CHECK(shellmsg_dropped(out, sizeof out, 123) > 0);
	CHECK_STR(out, "{\"type\":\"dropped\",\"bytes\":123}");
	CHECK(shellmsg_pong(out, sizeof out, "a\"b") > 0);
	CHECK_STR(out, "{\"type\":\"pong\",\"data\":\"a\\\"b\"}");
	CHECK(shellmsg_pong(out, sizeof out, NULL) > 0);
	CHECK_STR(out, "{\"type\":\"pong\"}");
}

TEST(exec_files)
{
	static struct shellmsg m;
	CHECK_EQ(parse("{\"type\":\"exec\",\"put\":\"/tmp/x\"}", &m), 0);
	CHECK(m.files_op == MUX_FILES_PUT && !strcmp(m.files_path, "/tmp/x") && m.want_stdin);
	CHECK(m.nargv == 0 && !m.command);
	CHECK_EQ(parse("{\"type\":\"exec\",\"get\":\"/etc\",\"recursive\":true}", &m), 0);
	CHECK(m.files_op == MUX_FILES_GET && m.files_recursive && !m.want_stdin);
	static const char *const bad[] = {
		"{\"type\":\"exec\",\"put\":\"\"}",
		"{\"type\":\"exec\",\"put\":3}",
		"{\"type\":\"exec\",\"put\":\"/a\",\"get\":\"/b\"}",
		"{\"type\":\"exec\",\"get\":\"/a\",\"command\":\"ls\"}",
		"{\"type\":\"exec\",\"get\":\"/a\",\"recursive\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(parse(bad[i], &m), -1);
}

TEST_MAIN(T(resize), T(open_attach), T(exec), T(exec_files), T(small_messages), T(refused), T(encode))
