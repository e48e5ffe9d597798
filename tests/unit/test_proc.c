/* test_proc.c - engine child processes: spawn, fds, deadlines, kill, stderr tail. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "vmm/clock.h"
#include "vmm/proc.h"

static char *const env[] = { "LC_ALL=C", NULL };

TEST(run_ok_and_failure_tail)
{
	char err[512];
	char *ok[] = { "/bin/sh", "-c", "exit 0", NULL };
	CHECK_EQ(proc_run(ok, NULL, 5000, err, sizeof(err)), 0);
	char log[] = "/tmp/hearth-test-procXXXXXX";
	int fd = mkstemp(log);
	CHECK(fd >= 0);
	close(fd);
	char *bad[] = { "/bin/sh", "-c", "echo first >&2; echo the reason >&2; exit 3", NULL };
	CHECK_EQ(proc_run(bad, log, 5000, err, sizeof(err)), -1);
	CHECK(strstr(err, "exited with status 3") != NULL);
	CHECK(strstr(err, "the reason") != NULL);
	CHECK(access(log, F_OK) != 0); /* the log is removed */
}

TEST(run_deadline_kills)
{
	char err[512];
	char *slow[] = { "/bin/sh", "-c", "sleep 30", NULL };
	int64_t t = clock_ms();
	CHECK_EQ(proc_run(slow, NULL, 200, err, sizeof(err)), -1);
	CHECK(clock_ms() - t < 5000);
	CHECK(strstr(err, "timed out") != NULL);
}

TEST(exec_failure_reported)
{
	struct proc p;
	char err[512];
	char *nope[] = { "/nonexistent/prog", NULL };
	CHECK_EQ(proc_spawn(&p, nope, env, NULL, 0, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "exec /nonexistent/prog") != NULL);
}

TEST(fds_passed_in_order_and_env_clean)
{
	int a[2], b[2];
	CHECK_EQ(pipe(a), 0);
	CHECK_EQ(pipe(b), 0);
	/* fd 3 gets "x" and fd 4 gets the environment size; nothing else is open. */
	char *argv[] = { "/bin/sh", "-c",
			 "printf x >&3; env | wc -l >&4; ls /proc/self/fd | wc -l >&4", NULL };
	int fds[2] = { a[1], b[1] };
	struct proc p;
	char err[512];
	CHECK_EQ(proc_spawn(&p, argv, env, fds, 2, NULL, err, sizeof(err)), 0);
	close(a[1]);
	close(b[1]);
	CHECK_EQ(proc_wait(&p, 5000), 1);
	proc_close(&p);
	char buf[64] = { 0 };
	CHECK_EQ(read(a[0], buf, sizeof(buf)), 1);
	CHECK_EQ(buf[0], 'x');
	memset(buf, 0, sizeof(buf));
	CHECK(read(b[0], buf, sizeof(buf) - 1) > 0);
	int nenv = 0, nfd = 0;
	CHECK_EQ(sscanf(buf, "%d %d", &nenv, &nfd), 2);
	CHECK(nenv <= 3);  /* LC_ALL plus what sh itself sets (PWD, ...) */
	CHECK_EQ(nfd, 6);  /* 0,1,2,3,4 and ls's own directory fd */
	close(a[0]);
	close(b[0]);
}

TEST(wait_kill_describe)
{
	struct proc p;
	char err[256], how[64];
	char *argv[] = { "/bin/sh", "-c", "sleep 30", NULL };
	CHECK_EQ(proc_spawn(&p, argv, env, NULL, 0, NULL, err, sizeof(err)), 0);
	int64_t t = clock_ms();
	CHECK_EQ(proc_wait(&p, 100), 0);
	CHECK(clock_ms() - t >= 90);
	proc_kill(&p, 2000);
	CHECK(p.reaped);
	proc_describe(&p, how, sizeof(how));
	CHECK_STR(how, "killed by signal 9");
	proc_close(&p);
}

TEST(tail_lines)
{
	char log[] = "/tmp/hearth-test-procXXXXXX";
	int fd = mkstemp(log);
	CHECK(fd >= 0);
	const char *text = "one\ntwo\nthree\nfour\n\n";
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char out[64];
	proc_tail(log, 2, out, sizeof(out));
	CHECK_STR(out, "three | four");
	proc_tail(log, 10, out, sizeof(out));
	CHECK_STR(out, "one | two | three | four");
	proc_tail(log, 2, out, 6);
	CHECK_EQ(strlen(out), 5u);
	unlink(log);
	proc_tail(log, 2, out, sizeof(out));
	CHECK_STR(out, "");
}

static struct proc guarded;

static void *spawn_guarded(void *arg)
{
	char err[256];
	/* Like QEMU after -runas: no death signal of its own (setpriv clears it). */
	char *argv[] = { "/usr/bin/setpriv", "--pdeathsig", "clear", "/bin/sleep", "30", NULL };
	if (proc_spawn(&guarded, argv, env, NULL, 0, NULL, err, sizeof(err)) == 0 &&
	    proc_guard(&guarded, err, sizeof(err)) < 0)
		proc_kill(&guarded, 1000);
	usleep(300 * 1000); /* setpriv has cleared its death signal and runs sleep */
	return arg; /* the thread ends: the guard kills the child */
}

TEST(guard_kills_when_the_starting_thread_ends)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, spawn_guarded, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(guarded.pid > 0 && guarded.guard > 0);
	CHECK_EQ(proc_wait(&guarded, 5000), 1);
	char how[64];
	proc_describe(&guarded, how, sizeof(how));
	CHECK_STR(how, "killed by signal 9");
	proc_close(&guarded);
	CHECK_EQ(guarded.guard, 0);
}

TEST(guard_ends_with_the_child)
{
	struct proc p;
	char err[256];
	char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
	CHECK(proc_spawn(&p, argv, env, NULL, 0, NULL, err, sizeof(err)) == 0);
	CHECK(proc_guard(&p, err, sizeof(err)) == 0);
	CHECK_EQ(proc_wait(&p, 5000), 1);
	/* The guard sees the child's end and exits on its own. */
	int st = 0;
	CHECK_EQ(waitpid(p.guard, &st, 0), p.guard);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	p.guard = 0;
	proc_close(&p);
}

TEST_MAIN(T(run_ok_and_failure_tail), T(run_deadline_kills), T(exec_failure_reported),
	  T(fds_passed_in_order_and_env_clean), T(wait_kill_describe), T(tail_lines),
	  T(guard_kills_when_the_starting_thread_ends), T(guard_ends_with_the_child))
