/*
 * chan_shell.c - pty shells: forkpty gives the child its own session with
 * the pty as controlling terminal; the master is the channel's stream 0 in
 * both directions.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define SHELL_TERM "xterm-256color"
#define SHELL_ROWS 24
#define SHELL_COLS 80

static int chan_shell_argv(struct spawn_req *r, const struct mux_open *o, char *prog, size_t cap)
{
	const char *base;
	char argv0[600];
	int n;

	if (o->shell.p != NULL && o->shell.len > 0) {
		if (o->shell.len >= cap)
			return MUX_E_LIMIT;
		memcpy(prog, o->shell.p, o->shell.len);
		prog[o->shell.len] = 0;
	} else {
		snprintf(prog, cap, "%s", r->shell[0] ? r->shell : "/bin/sh");
	}
	base = strrchr(prog, '/');
	base = base ? base + 1 : prog;
	/* A command on a pty (ssh -t host cmd): the shell runs it, as sshd does. */
	if (o->cmdline.p != NULL) {
		int rc = spawn_add_arg(r, 0, base, strlen(base));
		if (rc == MUX_OK)
			rc = spawn_add_arg(r, 1, "-c", 2);
		return rc == MUX_OK ? spawn_add_arg(r, 2, o->cmdline.p, o->cmdline.len) : rc;
	}
	/* A login shell is told so by a leading '-' in argv[0]. */
	n = snprintf(argv0, sizeof(argv0), "%s%s", o->login ? "-" : "", o->login ? base : prog);
	if (n < 0 || (size_t)n >= sizeof(argv0))
		return MUX_E_LIMIT;
	return spawn_add_arg(r, 0, argv0, (size_t)n);
}

/*
 * The pty's initial modes: the kernel's defaults plus IUTF8, so line editing
 * erases whole UTF-8 characters (as sshd does for its clients).
 */
static void chan_shell_termios(struct termios *t)
{
	static const struct {
		int idx;
		cc_t val;
	} cc[] = {
		{ VINTR, 3 }, { VQUIT, 28 }, { VERASE, 127 }, { VKILL, 21 }, { VEOF, 4 },
		{ VSTART, 17 }, { VSTOP, 19 }, { VSUSP, 26 }, { VREPRINT, 18 },
		{ VWERASE, 23 }, { VLNEXT, 22 }, { VDISCARD, 15 }, { VMIN, 1 }, { VTIME, 0 },
	};

	memset(t, 0, sizeof(*t));
	t->c_iflag = ICRNL | IXON | IUTF8;
	t->c_oflag = OPOST | ONLCR;
	t->c_cflag = CS8 | CREAD;
	t->c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN | ECHOCTL | ECHOKE;
	for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++)
		t->c_cc[cc[i].idx] = cc[i].val;
	cfsetispeed(t, B38400);
	cfsetospeed(t, B38400);
}

static int chan_shell_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
		      size_t errlen)
{
	char term[MUX_MAX_TERM + 1] = SHELL_TERM, prog[MUX_MAX_STR + 1];
	struct winsize ws = { SHELL_ROWS, SHELL_COLS, 0, 0 };
	struct termios tio;
	struct spawn_req *r = &(struct spawn_req){ 0 };
	const char *stage = "spawn";
	int rc, master = -1, errp[2], e;
	pid_t pid;

	if (o->term.p != NULL && o->term.len > 0) {
		memcpy(term, o->term.p, o->term.len);
		term[o->term.len] = 0;
	}
	if (o->has_size) {
		ws.ws_row = o->rows;
		ws.ws_col = o->cols;
	}
	if ((rc = spawn_prepare(r, o, term, err, errlen)) != MUX_OK ||
	    (rc = chan_shell_argv(r, o, prog, sizeof(prog))) != MUX_OK) {
		spawn_free(r);
		return rc;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		spawn_free(r);
		return MUX_E_SPAWN;
	}
	chan_shell_termios(&tio);
	pid = forkpty(&master, NULL, &tio, &ws);
	if (pid == 0) {
		close(errp[0]);
		if ((e = spawn_child_setup(r, &stage)) != 0)
			spawn_child_fail(errp[1], stage, e);
		if (strchr(prog, '/'))
			execv(prog, r->argv);
		else
			execvp(prog, r->argv);
		spawn_child_fail(errp[1], prog, errno);
	}
	e = pid < 0 ? errno : 0;
	close(errp[1]);
	if (pid < 0) {
		snprintf(err, errlen, "forkpty: %s", strerror(e));
		close(errp[0]);
		spawn_free(r);
		return MUX_E_SPAWN;
	}
	/* Close-on-exec before the next child is forked; never block the loop. */
	fcntl(master, F_SETFD, FD_CLOEXEC);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	e = spawn_wait_exec(errp[0], err, errlen);
	close(errp[0]);
	spawn_free(r);
	if (e != 0) {
		close(master);
		waitpid(pid, NULL, 0);
		return MUX_E_SPAWN;
	}
	c->pid = pid;
	chan_set_fd(a, c, 0, master, MUX_STREAM_MAIN, 1);
	return MUX_OK;
}

static int chan_shell_resize(struct chan *c, const struct mux_resize *rz)
{
	struct winsize ws = { rz->rows, rz->cols, rz->xpixel, rz->ypixel };

	if (c->fds[0].fd < 0)
		return MUX_E_STATE;
	/* The kernel sends SIGWINCH to the pty's foreground process group. */
	return ioctl(c->fds[0].fd, TIOCSWINSZ, &ws) < 0 ? MUX_E_STATE : MUX_OK;
}

static int chan_shell_signal(struct chan *c, int signo)
{
	pid_t pg;

	if (c->exited || c->fds[0].fd < 0)
		return MUX_E_STATE;
	/* Like a key press: the foreground job gets it, not the shell behind. */
	pg = tcgetpgrp(c->fds[0].fd);
	if (pg <= 0)
		pg = c->pid;
	return kill(-pg, signo) < 0 ? MUX_E_STATE : MUX_OK;
}

static void chan_shell_terminate(struct agent *a, struct chan *c)
{
	kill(-c->pid, SIGHUP);
	reap_kill_later(a, c->pid, agent_now_ms() + KILL_GRACE_MS);
}

const struct chan_kind_ops chan_shell_ops = {
	.open = chan_shell_open,
	.resize = chan_shell_resize,
	.signal = chan_shell_signal,
	.host_eof = NULL,
	.terminate = chan_shell_terminate,
};
