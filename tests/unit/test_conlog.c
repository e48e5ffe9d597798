/* test_conlog.c - the console log: rotation at the budget, never more than
 * two files of it, and a reader that keeps draining. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "vmm/conlog.h"

static long fsize(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

TEST(rotates_within_budget)
{
	char dir[] = "/tmp/hearth-test-conlogXXXXXX", path[128], prev[140], err[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/console.log", dir);
	snprintf(prev, sizeof prev, "%s.1", path);
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	struct conlog *c;
	CHECK(conlog_start(&c, sp[0], path, 1000, err, sizeof err) == 0);
	char buf[300];
	memset(buf, 'a', sizeof buf);
	for (int i = 0; i < 20; i++) { /* 6000 bytes through a 1000-byte budget */
		buf[0] = (char)('A' + i);
		CHECK(write(sp[1], buf, sizeof buf) == (ssize_t)sizeof buf);
	}
	memcpy(buf, "THE-END", 7);
	CHECK(write(sp[1], buf, 7) == 7);
	close(sp[1]);
	conlog_stop(c, 2000);
	/* 6007 bytes: .1 holds bytes 5000..5999 (full), the current the last 7. */
	CHECK_EQ(fsize(prev), 1000);
	CHECK_EQ(fsize(path), 7);
	char got[8] = { 0 };
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, got, 7) == 7);
	close(fd);
	CHECK_STR(got, "THE-END");
	unlink(path);
	unlink(prev);
	rmdir(dir);
}

TEST(stop_does_not_wait_for_a_writer_that_stays)
{
	char dir[] = "/tmp/hearth-test-conlogXXXXXX", path[128], err[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/console.log", dir);
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	struct conlog *c;
	CHECK(conlog_start(&c, sp[0], path, 1000, err, sizeof err) == 0);
	CHECK(write(sp[1], "x", 1) == 1);
	conlog_stop(c, 100); /* sp[1] still open: bounded, then cut */
	close(sp[1]);
	CHECK_EQ(fsize(path), 1);
	unlink(path);
	rmdir(dir);
}

TEST(bad_path_refused)
{
	char err[256];
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	struct conlog *c;
	CHECK(conlog_start(&c, sp[0], "/nonexistent/dir/console.log", 1000, err, sizeof err) < 0);
	CHECK(strstr(err, "console log") != NULL);
	close(sp[1]);
}

TEST_MAIN(T(rotates_within_budget), T(stop_does_not_wait_for_a_writer_that_stays),
	  T(bad_path_refused))
