/*
 * chan_exec.c - exec channels: argv (execvp) or a command line (/bin/sh -c),
 * no pty, stdout and stderr on separate pipes (streams 1 and 2), stdin from
 * the channel only when asked for, in its own process group. A detached exec
 * (PROTOCOL.md 1.3.2) runs the program in a grandchild of its own session
 * with stdout/stderr on the console; the channel's process only reports
 * whether the exec worked.
 */
#include "agent.h"
#include "shell/agent/tarfs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_PIPE_SIZE (256 * 1024) /* fewer wakeups for bulk output */

static int chan_exec_argv(struct spawn_req *r, const struct mux_open *o)
{
	int rc = MUX_OK;

	if (o->files_op) /* the builtin: nothing is executed */
		return MUX_OK;
	if (o->nargv > 0) {
		for (unsigned i = 0; i < o->nargv && rc == MUX_OK; i++)
			rc = spawn_add_arg(r, i, o->argv[i].p, o->argv[i].len);
		return rc;
	}
	if ((rc = spawn_add_arg(r, 0, "/bin/sh", 7)) || (rc = spawn_add_arg(r, 1, "-c", 2)))
		return rc;
	return spawn_add_arg(r, 2, o->cmdline.p, o->cmdline.len);
}

static void chan_exec_close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

/*
 * The FILES builtin (PROTOCOL.md 1.3.1) in the child, after the user switch
 * and cwd: a tar stream from stdin (PUT) or to stdout (GET). A failure is one
 * line on stderr and exit status 1, so the host reads it like any command's.
 */
static void chan_exec_files(const struct mux_open *o) __attribute__((noreturn));
static void chan_exec_files(const struct mux_open *o)
{
	char path[MUX_MAX_STR + 1], err[1024];
	int rc;
	memcpy(path, o->files_path.p, o->files_path.len);
	path[o->files_path.len] = '\0';
	if (o->files_op == MUX_FILES_PUT && (o->files_flags & MUX_FILES_MULTI))
		rc = tarfs_extract_multi(0, path, err, sizeof err);
	else if (o->files_op == MUX_FILES_PUT)
		rc = tarfs_extract(0, path, err, sizeof err);
	else
		rc = tarfs_write(1, path, o->files_flags & MUX_FILES_RECURSIVE, err, sizeof err);
	if (rc != 0) {
		dprintf(2, "%s\n", err);
		_exit(1);
	}
	_exit(0);
}

static void chan_exec_close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = lowfd; fd < max; fd++)
		close(fd);
}

/*
 * The detached program, from the channel's child (root, stdout/stderr on the
 * channel): the console is opened before the user switch (it is root's), the
 * grandchild gets its own session, so the channel's end signals nothing in it,
 * and is reaped by PID 1. Exits 0 once the exec worked (its pid on stdout),
 * else 127 with the reason on stderr. Never returns.
 */
static void chan_exec_detached(const struct spawn_req *r) __attribute__((noreturn));
static void chan_exec_detached(const struct spawn_req *r)
{
	int rep[2], e;
	char why[256];
	const char *stage = "/dev/console";
	int con = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (con < 0)
		con = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (con < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		dprintf(2, "detach: %s\n", strerror(errno));
		_exit(127);
	}
	pid_t pid = fork();
	if (pid < 0) {
		dprintf(2, "detach: fork: %s\n", strerror(errno));
		_exit(127);
	}
	if (pid == 0) {
		close(rep[0]);
		setsid();
		if (dup2(con, 1) < 0 || dup2(con, 2) < 0)
			spawn_child_fail(rep[1], stage, errno);
		if ((e = spawn_child_setup(r, &stage)) != 0)
			spawn_child_fail(rep[1], stage, e);
		execvp(r->argv[0], r->argv);
		spawn_child_fail(rep[1], r->argv[0], errno);
	}
	close(rep[1]);
	if (spawn_wait_exec(rep[0], why, sizeof why) != 0) {
		dprintf(2, "%s\n", why);
		_exit(127);
	}
	dprintf(1, "%d\n", (int)pid); /* so the host can tell whether it still runs */
	_exit(0);
}

/* In the child: wire the pipes to 0, 1, 2 and exec. Never returns. */
static void chan_exec_child(const struct spawn_req *r, const struct mux_open *o, int in[2],
			    int out[2], int errs[2], int errp[2])
{
	const char *stage = "stdio";
	int e, null;

	setpgid(0, 0);
	if (in[0] >= 0) {
		if (dup2(in[0], 0) < 0)
			spawn_child_fail(errp[1], stage, errno);
	} else {
		null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0)
			spawn_child_fail(errp[1], "/dev/null", errno);
		if (null > 2)
			close(null);
	}
	if (dup2(out[1], 1) < 0 || dup2(errs[1], 2) < 0)
		spawn_child_fail(errp[1], stage, errno);
	if (o->detach)
		chan_exec_detached(r); /* still root: the setup is the grandchild's */
	if ((e = spawn_child_setup(r, &stage)) != 0)
		spawn_child_fail(errp[1], stage, e);
	if (o->files_op) {
		/* No exec, so O_CLOEXEC does nothing: close every inherited fd (the
		 * agent's, other channels' pipes, our stdin's write end, errp: the
		 * parent's wait for exec ends here) or EOFs would never come. */
		chan_exec_close_from(3);
		chan_exec_files(o);
	}
	execvp(r->argv[0], r->argv);
	spawn_child_fail(errp[1], r->argv[0], errno);
}

static int chan_exec_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
		     size_t errlen)
{
	struct spawn_req *r = &(struct spawn_req){ 0 };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errs[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int rc, e;
	pid_t pid;

	if ((rc = spawn_prepare(r, o, NULL, err, errlen)) != MUX_OK || (rc = chan_exec_argv(r, o))) {
		spawn_free(r);
		return rc;
	}
	if ((o->want_stdin && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errs, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rc = MUX_E_SPAWN;
		goto fail;
	}
	pid = fork();
	if (pid == 0)
		chan_exec_child(r, o, in, out, errs, errp);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		rc = MUX_E_SPAWN;
		goto fail;
	}
	setpgid(pid, pid); /* also in the child: whichever runs first */
	close(errp[1]);
	errp[1] = -1;
	e = spawn_wait_exec(errp[0], err, errlen);
	if (e != 0) {
		waitpid(pid, NULL, 0);
		rc = MUX_E_SPAWN;
		goto fail;
	}
	chan_exec_close_pair(errp);
	close(out[1]);
	close(errs[1]);
	fcntl(out[0], F_SETPIPE_SZ, EXEC_PIPE_SIZE);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errs[0], F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->want_stdin = o->want_stdin ? 1 : 0;
	if (in[0] >= 0) {
		close(in[0]);
		fcntl(in[1], F_SETFL, O_NONBLOCK);
		chan_set_fd(a, c, 0, in[1], -1, 1);
	}
	chan_set_fd(a, c, 1, out[0], MUX_STREAM_STDOUT, 0);
	chan_set_fd(a, c, 2, errs[0], MUX_STREAM_STDERR, 0);
	spawn_free(r);
	return MUX_OK;
fail:
	chan_exec_close_pair(in);
	chan_exec_close_pair(out);
	chan_exec_close_pair(errs);
	chan_exec_close_pair(errp);
	spawn_free(r);
	return rc;
}

static int chan_exec_signal(struct chan *c, int signo)
{
	if (c->exited)
		return MUX_E_STATE;
	return kill(-c->pid, signo) < 0 ? MUX_E_STATE : MUX_OK;
}

static void chan_exec_host_eof(struct agent *a, struct chan *c)
{
	chan_close_fd(a, c, 0); /* the child reads EOF on stdin */
}

static void chan_exec_terminate(struct agent *a, struct chan *c)
{
	kill(-c->pid, SIGTERM);
	reap_kill_later(a, c->pid, agent_now_ms() + KILL_GRACE_MS);
}

const struct chan_kind_ops chan_exec_ops = {
	.open = chan_exec_open,
	.resize = NULL,
	.signal = chan_exec_signal,
	.host_eof = chan_exec_host_eof,
	.terminate = chan_exec_terminate,
};
