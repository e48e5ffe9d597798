/* proc.c - spawning and reaping engine helpers (QEMU, qemu-img) with deadlines. */
#include "vmm/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/clock.h"

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

int proc_spawn(struct proc *p, char *const argv[], char *const envp[], const int *fds, int nfds,
	       const char *log_path, char *errbuf, size_t errlen)
{
	p->pid = -1;
	p->pidfd = -1;
	p->reaped = 0;
	p->status = 0;
	p->guard = 0;
	if (nfds > PROC_MAX_FDS) {
		snprintf(errbuf, errlen, "too many fds for %s", argv[0]);
		return -1;
	}
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int logfd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			 0600);
	int ep[2] = { -1, -1 };
	if (devnull < 0 || logfd < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(errbuf, errlen, "spawn %s: %s", argv[0], strerror(errno));
		goto fail;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(errbuf, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here on. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* Move the passed fds and the error pipe out of the way first so
		 * dup2 never clobbers one. */
		int errfd = fcntl(ep[1], F_DUPFD_CLOEXEC, 64);
		int tmp[PROC_MAX_FDS];
		if (errfd < 0)
			_exit(127);
		for (int i = 0; i < nfds; i++) {
			tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
			if (tmp[i] < 0)
				goto child_fail;
		}
		if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			goto child_fail;
		for (int i = 0; i < nfds; i++)
			if (dup2(tmp[i], 3 + i) < 0)
				goto child_fail;
		/* Everything else is closed; the error pipe is CLOEXEC. */
		close_range(3 + (unsigned)nfds, (unsigned)errfd - 1, 0);
		close_range((unsigned)errfd + 1, ~0U, 0);
		execve(argv[0], argv, envp);
	child_fail:;
		int e = errno;
		if (errfd >= 0 && write(errfd, &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(ep[1]);
	ep[1] = -1;
	int e = 0;
	ssize_t r;
	do
		r = read(ep[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(ep[0]);
	close(devnull);
	close(logfd);
	p->pid = pid;
	if (r == (ssize_t)sizeof(e)) {
		waitpid(pid, &p->status, 0);
		p->reaped = 1;
		snprintf(errbuf, errlen, "exec %s: %s", argv[0], strerror(e));
		return -1;
	}
	p->pidfd = pidfd_open_(pid);
	return 0;
fail:
	if (devnull >= 0)
		close(devnull);
	if (logfd >= 0)
		close(logfd);
	if (ep[0] >= 0)
		close(ep[0]);
	if (ep[1] >= 0)
		close(ep[1]);
	return -1;
}

/* The guard: SIGTERM (its death signal) means the starting thread died:
 * SIGKILL the child; the child's exit (pidfd readable) ends the guard. */
static void guard_run(struct proc *p, pid_t parent, size_t arglen)
{
	/* Not a second "hearthd --keeper" in ps or to tools that look for
	 * keepers by command line: the argument area (ours, copy-on-write)
	 * and the name say what this is. */
	static const char name[] = "hearth-vm-guard";
	prctl(PR_SET_NAME, name);
	if (arglen > 1 && program_invocation_name) {
		memset(program_invocation_name, 0, arglen);
		memcpy(program_invocation_name, name,
		       arglen - 1 < sizeof(name) - 1 ? arglen - 1 : sizeof(name) - 1);
	}
	sigset_t all, term;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == parent) {
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		int sfd = signalfd(-1, &term, 0);
		/* Hold nothing of the parent's (sockets must close when it does). */
		if (sfd < 0 || dup2(sfd, 0) < 0 || (p->pidfd >= 0 && dup2(p->pidfd, 1) < 0))
			_exit(1);
		close_range(p->pidfd >= 0 ? 2 : 1, ~0U, 0);
		struct pollfd pf[2] = { { .fd = 0, .events = POLLIN },
					{ .fd = p->pidfd >= 0 ? 1 : -1, .events = POLLIN } };
		while (poll(pf, 2, -1) < 0 || !(pf[0].revents | pf[1].revents))
			;
		if (!pf[0].revents)
			_exit(0); /* the child ended by itself */
	}
#ifdef SYS_pidfd_send_signal
	if (p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, 1, SIGKILL, NULL, 0) == 0)
		_exit(0);
#endif
	kill(p->pid, SIGKILL);
	_exit(0);
}

int proc_guard(struct proc *p, char *errbuf, size_t errlen)
{
	/* The size of our argument area (argv[0] onwards), read before fork. */
	size_t arglen = 0;
	char tmp[4096];
	ssize_t r;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && (r = read(fd, tmp, sizeof(tmp))) > 0)
		arglen += (size_t)r;
	if (fd >= 0)
		close(fd);
	pid_t parent = getpid();
	pid_t g = fork();
	if (g < 0) {
		snprintf(errbuf, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (g == 0)
		guard_run(p, parent, arglen); /* async-signal-safe calls only: we may have threads */
	p->guard = g;
	return 0;
}

int proc_wait(struct proc *p, int ms)
{
	if (p->reaped)
		return 1;
	if (p->pid <= 0)
		return -1;
	int64_t dl = clock_deadline(ms);
	for (;;) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid) {
			p->reaped = 1;
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		int left = clock_left(dl);
		if (left <= 0)
			return 0;
		if (p->pidfd >= 0) {
			struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
			poll(&pfd, 1, left);
		} else {
			struct timespec ts = { 0, 2 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
}

void proc_kill(struct proc *p, int ms)
{
	if (p->reaped || p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	proc_wait(p, ms);
}

void proc_close(struct proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	if (p->guard > 0) {
		kill(p->guard, SIGKILL);
		while (waitpid(p->guard, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->guard = 0;
}

void proc_describe(const struct proc *p, char *out, size_t n)
{
	if (!p->reaped)
		snprintf(out, n, "running");
	else if (WIFSIGNALED(p->status))
		snprintf(out, n, "killed by signal %d", WTERMSIG(p->status));
	else
		snprintf(out, n, "exited with status %d", WEXITSTATUS(p->status));
}

int proc_run(char *const argv[], const char *log_path, int ms, char *errbuf, size_t errlen)
{
	static char *const env[] = { "LC_ALL=C", NULL };
	struct proc p;
	if (log_path)
		unlink(log_path);
	if (proc_spawn(&p, argv, env, NULL, 0, log_path, errbuf, errlen) < 0)
		return -1;
	int w = proc_wait(&p, ms);
	if (w != 1)
		proc_kill(&p, 1000);
	proc_close(&p);
	if (w == 1 && WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0) {
		if (log_path)
			unlink(log_path);
		return 0;
	}
	char how[64], tail[512] = "";
	proc_describe(&p, how, sizeof(how));
	if (log_path) {
		proc_tail(log_path, 3, tail, sizeof(tail));
		unlink(log_path);
	}
	snprintf(errbuf, errlen, "%s %s%s: %s", argv[0], w == 1 ? "" : "timed out, ",
		 how, tail);
	return -1;
}

void proc_tail(const char *path, int lines, char *out, size_t n)
{
	out[0] = 0;
	if (n < 2)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[2048];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t r = pread(fd, buf, sizeof(buf) - 1, start);
	close(fd);
	if (r <= 0)
		return;
	size_t len = (size_t)r;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = 0;
	size_t s = len;
	int seen = 0;
	while (s > 0) {
		if (buf[s - 1] == '\n' && ++seen == lines)
			break;
		s--;
	}
	const char *t = buf + s;
	size_t tl = len - s;
	if (tl >= n)
		t += tl - (n - 1), tl = n - 1;
	/* One line for error messages: newlines become " | ". */
	size_t o = 0;
	for (size_t i = 0; i < tl; i++) {
		char c = t[i];
		if (c == '\n') {
			if (o + 3 >= n)
				break;
			memcpy(out + o, " | ", 3);
			o += 3;
		} else if ((unsigned char)c >= 0x20 && c != 0x7f) {
			if (o + 1 >= n)
				break;
			out[o++] = c;
		}
	}
	out[o] = 0;
}

int proc_which(const char *name, char *out, size_t n)
{
	if (strchr(name, '/')) {
		if (access(name, X_OK) != 0)
			return -1;
		snprintf(out, n, "%s", name);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);
		if (l && (size_t)snprintf(out, n, "%.*s/%s", (int)l, path, name) < n &&
		    access(out, X_OK) == 0)
			return 0;
		path += l + (c ? 1 : 0);
	}
	return -1;
}
