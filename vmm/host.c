/*
 * host.c - the "host" engine: the guest is hearth-agent running as a plain
 * process on the host (no VM, no isolation). It exists so the layers above
 * the engine (relay, hearthd, ingress, clients) can be developed and
 * benchmarked without a hypervisor: `make bench` uses it to measure the
 * ingress's own cost beside sshd, which also runs on the host.
 *
 * What it cannot do, it refuses rather than pretends:
 *  - A process has no memory image to save, so suspend fails (hearthd keeps
 *    the VM RUNNING and records the reason).
 *  - snapshot records only that the image booted (host.json); restore of
 *    such a snapshot starts a new agent process, which is what a snapshot
 *    taken right after boot holds anyway. A qemu snapshot is refused.
 *  - The agent runs with hearthd's own user and sees the host's hostname,
 *    clock and files, so the engine is flagged VM_ENGINE_HOST_PROCESS and
 *    nobody pushes a hostname or the time into it.
 *
 * The agent binary is $HEARTH_HOST_AGENT, else hearth-agent next to the
 * running executable (its shells: $HEARTH_HOST_SHELL, else the user's); it serves one host on <run_dir>/agent.sock (the
 * keeper's stream) and the direct stream on <run_dir>/VM_DIRECT_SOCK.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/engine.h"
#include "vmm/proc.h"

#define HOST_MARK "host.json"
#define HOST_MARK_TEXT "{\"engine\":\"host\"}\n"

struct vm {
	struct proc agent;
	int fd;            /* connected to the agent's socket */
	int dirfd;         /* run_dir (O_PATH): socket paths stay short through /proc/self/fd */
	int made_dir;      /* we created run_dir: remove it on stop */
	char run_dir[PATH_MAX];
};

static void seterr(struct vm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seterr(struct vm_err *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

static int host_path(char *out, size_t n, const char *dir, const char *name)
{
	int k = snprintf(out, n, "%s/%s", dir, name);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int agent_binary(char *out, size_t n)
{
	const char *env = getenv("HEARTH_HOST_AGENT");
	char self[PATH_MAX];
	if (env && *env) {
		int k = snprintf(out, n, "%s", env);
		return k < 0 || (size_t)k >= n ? -1 : 0;
	}
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		return -1;
	self[len] = '\0';
	return host_path(out, n, dirname(self), "hearth-agent");
}

static void host_free(struct vm *vm)
{
	char p[PATH_MAX + 32];
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->dirfd >= 0)
		close(vm->dirfd);
	if (vm->agent.pid > 0) {
		proc_kill(&vm->agent, 2000);
		proc_close(&vm->agent);
	}
	if (host_path(p, sizeof p, vm->run_dir, "agent.sock") == 0)
		unlink(p);
	if (host_path(p, sizeof p, vm->run_dir, "agent.log") == 0)
		unlink(p);
	if (host_path(p, sizeof p, vm->run_dir, VM_DIRECT_SOCK) == 0)
		unlink(p);
	if (vm->made_dir)
		rmdir(vm->run_dir);
	free(vm);
}

/* Connect to the agent's socket, retrying until it listens or the deadline. */
static int host_connect(struct vm *vm, int64_t dl, struct vm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char log[PATH_MAX + 32], tail[512];
	/* sun_path holds 108 bytes; run dirs can be longer. */
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/agent.sock", vm->dirfd);
	host_path(log, sizeof log, vm->run_dir, "agent.log");
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			seterr(err, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
			vm->fd = fd;
			return 0;
		}
		close(fd);
		if (proc_wait(&vm->agent, 0) == 1) {
			char how[64];
			proc_describe(&vm->agent, how, sizeof how);
			proc_tail(log, 5, tail, sizeof tail);
			seterr(err, "hearth-agent %s: %s", how, tail);
			return -1;
		}
		if (clock_left(dl) == 0) {
			seterr(err, "hearth-agent did not listen in time");
			return -1;
		}
		poll(NULL, 0, 5);
	}
}

static int host_boot(const struct vm_config *cfg, int deadline_ms, struct vm **out,
		     struct vm_err *err)
{
	int64_t dl = clock_deadline(deadline_ms);
	char agent[PATH_MAX], listen[PATH_MAX + 32], direct[PATH_MAX + 32], log[PATH_MAX + 32];
	char e[256];
	if (!cfg->run_dir || !*cfg->run_dir) {
		seterr(err, "run_dir is required");
		return -1;
	}
	struct vm *vm = calloc(1, sizeof *vm);
	if (!vm) {
		seterr(err, "out of memory");
		return -1;
	}
	vm->fd = vm->dirfd = -1;
	if (mkdir(cfg->run_dir, 0700) == 0)
		vm->made_dir = 1;
	else if (errno != EEXIST) {
		seterr(err, "run_dir %s: %s", cfg->run_dir, strerror(errno));
		free(vm);
		return -1;
	}
	/* The agent binds through its fd 3, the run dir (see host_connect). */
	snprintf(listen, sizeof listen, "unix:/proc/self/fd/3/agent.sock");
	snprintf(direct, sizeof direct, "unix:/proc/self/fd/3/%s", VM_DIRECT_SOCK);
	if (!realpath(cfg->run_dir, vm->run_dir) || agent_binary(agent, sizeof agent) < 0 ||
	    (vm->dirfd = open(vm->run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    host_path(log, sizeof log, vm->run_dir, "agent.log") < 0) {
		seterr(err, "run_dir %s or the agent's path: %s", cfg->run_dir, strerror(errno));
		if (vm->dirfd >= 0)
			close(vm->dirfd);
		if (vm->made_dir)
			rmdir(cfg->run_dir);
		free(vm);
		return -1;
	}
	/* $HEARTH_HOST_SHELL: the agent's shells run it instead of the host
	 * user's login shell, whose dotfiles tests and benchmarks cannot control. */
	const char *shell = getenv("HEARTH_HOST_SHELL");
	char *argv[] = { agent, "--listen", listen, "--direct-listen", direct, NULL, NULL, NULL };
	if (shell && *shell) {
		argv[5] = "--shell";
		argv[6] = (char *)shell;
	}
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "HOME=/root", "TERM=xterm-256color", NULL };
	if (proc_spawn(&vm->agent, argv, envp, &vm->dirfd, 1, log, e, sizeof e) < 0) {
		seterr(err, "start %s: %s", agent, e);
		vm->agent.pid = 0;
		host_free(vm);
		return -1;
	}
	if (host_connect(vm, dl, err) < 0) {
		host_free(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

static int host_restore(const struct vm_config *cfg, const char *snapdir, int deadline_ms,
			struct vm **out, struct vm_err *err)
{
	char mark[PATH_MAX + 32], buf[64] = { 0 };
	if (host_path(mark, sizeof mark, snapdir, HOST_MARK) < 0) {
		seterr(err, "snapshot path too long");
		return -1;
	}
	int fd = open(mark, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(HOST_MARK_TEXT) || strcmp(buf, HOST_MARK_TEXT) != 0) {
		seterr(err, "%s is not a host-engine snapshot", snapdir);
		return -1;
	}
	return host_boot(cfg, deadline_ms, out, err);
}

static int host_signal(struct vm *vm, int sig, struct vm_err *err)
{
	if (kill(vm->agent.pid, sig) < 0) {
		seterr(err, "signal the agent: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int host_pause(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	(void)deadline_ms;
	return host_signal(vm, SIGSTOP, err);
}

static int host_resume(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	(void)deadline_ms;
	return host_signal(vm, SIGCONT, err);
}

/* Records that the image booted; the agent is left paused, as the contract says. */
static int host_snapshot(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err)
{
	char mark[PATH_MAX + 32];
	(void)deadline_ms;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		seterr(err, "snapshot dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (host_path(mark, sizeof mark, dir, HOST_MARK) < 0) {
		seterr(err, "snapshot path too long");
		return -1;
	}
	int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		seterr(err, "%s: %s", mark, strerror(errno));
		return -1;
	}
	ssize_t n = write(fd, HOST_MARK_TEXT, strlen(HOST_MARK_TEXT));
	if (close(fd) < 0 || n != (ssize_t)strlen(HOST_MARK_TEXT)) {
		unlink(mark);
		seterr(err, "write %s failed", mark);
		return -1;
	}
	return host_signal(vm, SIGSTOP, err);
}

static int host_suspend(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err)
{
	(void)vm;
	(void)dir;
	(void)deadline_ms;
	seterr(err, "the host engine cannot suspend: a host process has no memory image to keep");
	return -1;
}

static int host_stop(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	(void)deadline_ms;
	(void)err;
	host_free(vm);
	return 0;
}

static int host_agent_fd(struct vm *vm)
{
	return vm->fd;
}

static pid_t host_pid(struct vm *vm)
{
	return vm->agent.pid;
}

const struct vm_engine host_engine = {
	.name = "host",
	.flags = VM_ENGINE_HOST_PROCESS,
	.boot = host_boot,
	.snapshot = host_snapshot,
	.suspend = host_suspend,
	.restore = host_restore,
	.pause = host_pause,
	.resume = host_resume,
	.stop = host_stop,
	.agent_fd = host_agent_fd,
	.pid = host_pid,
};
