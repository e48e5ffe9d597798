/*
 * keeper.c - the per-VM keeper process and hearthd's side of it.
 */
#include "session/keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/agentctl.h"
#include "vmm/engine.h"
#include "vmm/relay.h"

#define KEEPER_OP_MS 60000
#define KEEPER_REFRESH_MS 20000
#define KEEPER_LINE 4200

static int sock_path(struct sockaddr_un *sa, const char *dir, const char *name)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= sizeof sa->sun_path ? -1 : 0;
}

/* ---- the keeper process ---- */

struct keeper {
	const struct vm_engine *eng;
	struct vm *vm;
	struct relay relay;
	int relay_open;
	int lfd, cfd;
	char dir[4096];
	char inbuf[KEEPER_LINE];
	size_t inlen;
};

static int open_relay(struct keeper *k, char *err, size_t n)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/agent.sock", k->dir);
	if (relay_open(&k->relay, path, k->eng->agent_fd(k->vm), err, n) < 0)
		return -1;
	chmod(path, 0600);
	k->relay_open = 1;
	return 0;
}

static void close_relay(struct keeper *k)
{
	if (k->relay_open)
		relay_close(&k->relay);
	k->relay_open = 0;
}

static void reply(struct keeper *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct keeper *k, const char *fmt, ...)
{
	char line[KEEPER_REPLY];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	/* Replies are single lines: fold any newline in an engine message. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (k->cfd >= 0 && send(k->cfd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* The asker went away; the outcome is visible in the VM's files. */
	}
}

static void finish(struct keeper *k, int code)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/ctl.sock", k->dir);
	unlink(p);
	if (k->cfd >= 0)
		close(k->cfd);
	exit(code);
}

static void do_command(struct keeper *k, char *line)
{
	struct vm_err err = { { 0 } };
	if (strcmp(line, "ping") == 0) {
		reply(k, "ok %d", (int)k->eng->pid(k->vm));
	} else if (strncmp(line, "suspend ", 8) == 0) {
		close_relay(k);
		/* The engine's suspend is a transaction: "ok" only once the snapshot
		 * is complete and synced; on failure the engine has continued the VM
		 * and nothing of it depends on DIR. */
		if (k->eng->suspend(k->vm, line + 8, KEEPER_OP_MS, &err) == 0) {
			reply(k, "ok");
			finish(k, 0);
		}
		/* Running again (cont is a no-op then) and reachable: "err", the
		 * VM stays. Only a VM the engine can no longer drive is "dead". */
		struct vm_err rerr = { { 0 } };
		char e2[256] = "";
		if (k->eng->resume(k->vm, KEEPER_OP_MS, &rerr) == 0 && open_relay(k, e2, sizeof e2) == 0) {
			reply(k, "err %s", err.msg);
			return;
		}
		reply(k, "dead %s; %s", err.msg, rerr.msg[0] ? rerr.msg : e2);
		k->eng->stop(k->vm, KEEPER_OP_MS, &rerr);
		finish(k, 3);
	} else if (strcmp(line, "stop") == 0) {
		close_relay(k);
		k->eng->stop(k->vm, KEEPER_OP_MS, &err);
		reply(k, "ok");
		finish(k, 0);
	} else {
		reply(k, "err unknown command");
	}
}

static void on_ctl_input(struct keeper *k)
{
	ssize_t r = recv(k->cfd, k->inbuf + k->inlen, sizeof k->inbuf - 1 - k->inlen, 0);
	if (r <= 0) {
		close(k->cfd);
		k->cfd = -1;
		k->inlen = 0;
		return;
	}
	k->inlen += (size_t)r;
	char *nl = memchr(k->inbuf, '\n', k->inlen);
	if (!nl) {
		if (k->inlen >= sizeof k->inbuf - 1) {
			reply(k, "err line too long");
			close(k->cfd);
			k->cfd = -1;
			k->inlen = 0;
		}
		return;
	}
	*nl = '\0';
	do_command(k, k->inbuf);
	k->inlen = 0;
}

/*
 * What a keeper keeps of root: KILL (its QEMU runs under another uid),
 * SETUID/SETGID (QEMU's -runas drop), DAC_OVERRIDE/DAC_READ_SEARCH (image
 * files of any owner), FOWNER (chmod of its sockets) and SYS_PTRACE (a
 * suspend reads the pages its QEMU wrote: /proc/PID/pagemap and
 * process_vm_readv on a process of another uid, vmm/ramfile.h); every other
 * capability leaves the bounding set, so neither it nor QEMU can get it back.
 * No new privileges (setuid binaries, file capabilities) and not dumpable
 * (no core file holds its memory, which carries the agent stream).
 */
static int drop_privileges(char *err, size_t n)
{
	static const cap_value_t keep[] = { CAP_KILL, CAP_SETUID, CAP_SETGID, CAP_DAC_OVERRIDE,
					    CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_SYS_PTRACE };
	const size_t nkeep = sizeof keep / sizeof keep[0];
	if (prctl(PR_SET_DUMPABLE, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, n, "prctl: %s", strerror(errno));
		return -1;
	}
	if (geteuid() != 0)
		return 0; /* nothing beyond the caller's own rights */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		int kept = 0;
		for (size_t i = 0; i < nkeep; i++)
			kept |= keep[i] == c;
		if (!kept && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
			snprintf(err, n, "dropping capability %d: %s", (int)c, strerror(errno));
			return -1;
		}
	}
	cap_t caps = cap_init();
	int rc = caps ? 0 : -1;
	if (rc == 0)
		rc = cap_set_flag(caps, CAP_PERMITTED, (int)nkeep, keep, CAP_SET) |
		     cap_set_flag(caps, CAP_EFFECTIVE, (int)nkeep, keep, CAP_SET);
	if (rc == 0)
		rc = cap_set_proc(caps);
	if (rc < 0)
		snprintf(err, n, "capabilities: %s", strerror(errno));
	if (caps)
		cap_free(caps);
	return rc;
}

int keeper_main(int argc, char **argv)
{
	const char *dir = NULL, *id = NULL, *snap = NULL, *engine = "qemu";
	int tap_fd = -1, mem_fd = 0;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--id"))
			id = argv[i + 1];
		else if (!strcmp(argv[i], "--snapshot"))
			snap = argv[i + 1];
		else if (!strcmp(argv[i], "--engine"))
			engine = argv[i + 1];
		else if (!strcmp(argv[i], "--tap-fd"))
			tap_fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mem-fd"))
			mem_fd = atoi(argv[i + 1]);
	}
	/* fd 3 is the status pipe to the hearthd that started us. */
	FILE *status = fdopen(3, "w");
	if (!dir || !id || !snap || !status)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	struct keeper k = { .lfd = -1, .cfd = -1 };
	snprintf(k.dir, sizeof k.dir, "%s", dir);
	k.eng = vm_engine_find(engine);
	if (!k.eng) {
		fprintf(status, "err unknown engine %s\n", engine);
		return 1;
	}
	/* The host engine's "guest" is a login on this host: it keeps the
	 * caller's rights (development and benchmarks only). */
	char perr[256];
	if (!(k.eng->flags & VM_ENGINE_HOST_PROCESS) && drop_privileges(perr, sizeof perr) < 0) {
		fprintf(status, "err keeper: %s\n", perr);
		return 1;
	}
	char run[4200], err[512];
	snprintf(run, sizeof run, "%s/run", dir);
	struct vm_config cfg = { .id = id, .run_dir = run, .accel = VM_ACCEL_AUTO,
				 .net = tap_fd >= 0 ? VM_NET_TAP : VM_NET_NONE, .tap_fd = tap_fd,
				 .mem_fd = mem_fd > 2 ? mem_fd : 0 };
	struct vm_err verr = { { 0 } };
	int rrc = k.eng->restore(&cfg, snap, KEEPER_OP_MS, &k.vm, &verr);
	if (cfg.mem_fd)
		close(cfg.mem_fd); /* the engine holds its own duplicate */
	if (rrc < 0) {
		fprintf(status, "err restore failed: %s\n", verr.msg);
		return 1;
	}
	/* Make the restored clone unique (entropy, hostname, clock) before anyone
	 * can talk to it: done here, next to the engine, it costs no relay hop. */
	char aerr[AGENTCTL_ERR];
	int afd = k.eng->agent_fd(k.vm);
	struct agentctl_peer peer = { 0 };
	if ((k.eng->flags & VM_ENGINE_HOST_PROCESS)
		    ? agentctl_hello(afd, KEEPER_REFRESH_MS, &peer, NULL, aerr, sizeof aerr) < 0
		    : agentctl_refresh(afd, id, KEEPER_REFRESH_MS, &peer, NULL, aerr, sizeof aerr) < 0) {
		fprintf(status, "err agent did not answer after restore: %s\n", aerr);
		k.eng->stop(k.vm, KEEPER_OP_MS, &verr);
		return 1;
	}
	/* A new link (session/egress.c): the guest's connections from before
	 * cannot go on, so the agent aborts them now (apps reconnect at once).
	 * An agent without NET_RESET answers UNSUPPORTED: its connections get
	 * resets from the host on their next packet instead. */
	if (tap_fd >= 0) {
		uint8_t cnt[4];
		size_t bl = 0;
		if (agentctl_ctl(afd, MUX_CTL_NET_RESET, NULL, 0, KEEPER_REFRESH_MS, cnt, sizeof cnt,
				 &bl, NULL, aerr, sizeof aerr) < 0)
			fprintf(stderr, "keeper: %s: network reset: %s\n", id, aerr); /* keeper.log */
		else if (bl == 4)
			fprintf(stderr, "keeper: %s: %u connections cut after restore\n", id,
				(unsigned)cnt[0] << 24 | (unsigned)cnt[1] << 16 | (unsigned)cnt[2] << 8 | cnt[3]);
	}
	/* An agent built before the direct stream never answers on it: take the
	 * socket away, so hearthd goes through the relay (keeper_agent_connect). */
	if (!(peer.flags & MUX_HELLO_F_DIRECT)) {
		char dsock[4300];
		snprintf(dsock, sizeof dsock, "%s/%s", run, VM_DIRECT_SOCK);
		unlink(dsock);
	}
	struct sockaddr_un sa;
	if (open_relay(&k, err, sizeof err) < 0) {
		fprintf(status, "err keeper: agent relay: %s\n", err);
		k.eng->stop(k.vm, KEEPER_OP_MS, &verr);
		return 1;
	}
	/* Longer than sun_path (a deep state dir): bind through a directory fd. */
	int dfd = -1;
	if (sock_path(&sa, dir, "ctl.sock") < 0) {
		char via[32];
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		snprintf(via, sizeof via, "/proc/self/fd/%d", dfd);
		sock_path(&sa, via, "ctl.sock");
	}
	unlink(sa.sun_path);
	k.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k.lfd < 0 || bind(k.lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(k.lfd, 4) < 0 ||
	    chmod(sa.sun_path, 0600) < 0) {
		fprintf(status, "err keeper: ctl.sock: %s\n", strerror(errno));
		k.eng->stop(k.vm, KEEPER_OP_MS, &verr);
		return 1;
	}
	if (dfd >= 0)
		close(dfd);
	fprintf(status, "ok %d\n", (int)k.eng->pid(k.vm));
	fclose(status);
	char activity[4200];
	snprintf(activity, sizeof activity, "%s/activity", dir);
	time_t touched = 0;
	for (;;) {
		struct pollfd pfd[RELAY_NFDS + 2];
		int n = 0;
		if (k.relay_open) {
			relay_poll_fds(&k.relay, pfd);
			n = RELAY_NFDS;
		}
		pfd[n] = (struct pollfd){ .fd = k.lfd, .events = POLLIN };
		pfd[n + 1] = (struct pollfd){ .fd = k.cfd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* Traffic between a client and the agent counts as activity: touch
		 * <vmdir>/activity (at most once a second) for hearthd's idle timer. */
		if (k.relay_open && relay_busy(&k.relay, pfd)) {
			time_t now = time(NULL);
			if (now != touched) {
				int fd = open(activity, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
				if (fd >= 0) {
					futimens(fd, NULL);
					close(fd);
				}
				touched = now;
			}
		}
		if (k.relay_open && relay_handle(&k.relay, pfd) < 0) {
			/* The agent stream ended: the VM is gone. */
			close_relay(&k);
			k.eng->stop(k.vm, KEEPER_OP_MS, &verr);
			finish(&k, 4);
		}
		if (pfd[n].revents & POLLIN) {
			int c = accept4(k.lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (k.cfd >= 0)
					close(k.cfd);
				k.cfd = c;
				k.inlen = 0;
			}
			continue;
		}
		if (k.cfd >= 0 && (pfd[n + 1].revents & (POLLIN | POLLHUP | POLLERR)))
			on_ctl_input(&k);
	}
	k.eng->stop(k.vm, KEEPER_OP_MS, &verr);
	finish(&k, 5);
	return 5;
}

/* ---- hearthd's side ---- */

static int read_line(int fd, char *out, size_t n, int64_t dl)
{
	size_t have = 0;
	while (have + 1 < n) {
		int left = (int)(dl - clock_ms());
		if (left <= 0)
			return -1;
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int pr = poll(&pf, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = read(fd, out + have, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out[have] == '\n') {
			out[have] = '\0';
			return 0;
		}
		have++;
	}
	out[have] = '\0';
	return have ? 0 : -1;
}

int keeper_spawn(const char *exe, const char *engine, const char *vmdir, const char *id,
		 const char *snapdir, int tap_fd, int mem_fd, int timeout_ms, struct keeper_id *out,
		 pid_t *engine_pid, char *reason, size_t rlen)
{
	int pfd[2];
	char log[4200];
	snprintf(log, sizeof log, "%s/keeper.log", vmdir);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(reason, rlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* The tap is the keeper's fd 4, the sealed memory its fd 5. */
	char *argv[16] = { (char *)exe, "--keeper", "--dir", (char *)vmdir, "--id", (char *)id,
			   "--snapshot", (char *)snapdir, "--engine", (char *)engine };
	int na = 10;
	if (tap_fd >= 0) {
		argv[na++] = "--tap-fd";
		argv[na++] = "4";
	}
	if (mem_fd > 0) {
		argv[na++] = "--mem-fd";
		argv[na++] = "5";
	}
	argv[na] = NULL;
	pid_t keeper = fork();
	if (keeper < 0) {
		snprintf(reason, rlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (keeper == 0) {
		/* Only async-signal-safe calls until exec (hearthd is multi-threaded).
		 * A session of its own: signals to hearthd's group do not reach it. */
		setsid();
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nul >= 0)
			dup2(nul, 0);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		dup2(pfd[1], 3);
		if (tap_fd >= 0)
			dup2(tap_fd, 4); /* cleared close-on-exec: the keeper's, then QEMU's */
		if (mem_fd > 0)
			dup2(mem_fd, 5);
		close_range(mem_fd > 0 ? 6 : tap_fd >= 0 ? 5 : 4, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(exe, argv);
		_exit(127);
	}
	close(pfd[1]);
	char line[KEEPER_REPLY];
	int rc = read_line(pfd[0], line, sizeof line, clock_ms() + timeout_ms);
	close(pfd[0]);
	if (rc < 0 || strncmp(line, "ok ", 3) != 0) {
		if (rc < 0)
			snprintf(reason, rlen, "VM keeper did not report within %d ms", timeout_ms);
		else
			snprintf(reason, rlen, "%s", strncmp(line, "err ", 4) == 0 ? line + 4 : line);
		/* Our unreaped child: its PID cannot have been reused yet. */
		kill(keeper, SIGKILL);
		int64_t dl = clock_ms() + 2000;
		while (waitpid(keeper, NULL, WNOHANG) == 0 && clock_ms() < dl)
			usleep(10 * 1000);
		return -1;
	}
	out->pid = keeper;
	out->start = 0;
	/* Still our child (alive or a zombie): the start time is its own. */
	if (keeper_proc_start(keeper, &out->start, NULL) < 0)
		out->start = 0;
	long ep = strtol(line + 3, NULL, 10);
	*engine_pid = ep > 0 && ep < INT_MAX ? (pid_t)ep : 0;
	return 0;
}

static int connect_to(const char *vmdir, const char *name, int timeout_ms)
{
	struct sockaddr_un sa;
	int dfd = -1, fd = -1;
	if (sock_path(&sa, vmdir, name) < 0) {
		/* Longer than sun_path (a deep state dir): go through a directory fd. */
		dfd = open(vmdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		char dir[32];
		snprintf(dir, sizeof dir, "/proc/self/fd/%d", dfd);
		if (dfd < 0 || sock_path(&sa, dir, name) < 0)
			goto out;
	}
	int64_t dl = clock_ms() + timeout_ms;
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		int e = errno;
		close(fd);
		fd = -1;
		if (clock_ms() >= dl || (e != ENOENT && e != ECONNREFUSED))
			break;
		usleep(20 * 1000);
	}
out:
	if (dfd >= 0)
		close(dfd);
	return fd;
}

int keeper_cmd(const char *vmdir, const char *cmd, int timeout_ms, char *reply_out, size_t n)
{
	int64_t dl = clock_ms() + timeout_ms;
	int fd = connect_to(vmdir, "ctl.sock", timeout_ms < 2000 ? timeout_ms : 2000);
	if (fd < 0)
		return -1;
	char line[KEEPER_LINE];
	int len = snprintf(line, sizeof line, "%s\n", cmd);
	int rc = -1;
	if (len > 0 && (size_t)len < sizeof line &&
	    send(fd, line, (size_t)len, MSG_NOSIGNAL) == len)
		rc = read_line(fd, reply_out, n, dl);
	close(fd);
	return rc;
}

int keeper_ping(const char *vmdir, int timeout_ms, pid_t *keeper_pid, pid_t *engine_pid)
{
	int64_t dl = clock_ms() + timeout_ms;
	int fd = connect_to(vmdir, "ctl.sock", timeout_ms < 2000 ? timeout_ms : 2000);
	if (fd < 0)
		return -1;
	struct ucred cr;
	socklen_t cl = sizeof cr;
	char r[KEEPER_REPLY];
	int rc = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.pid > 0 &&
	    send(fd, "ping\n", 5, MSG_NOSIGNAL) == 5 && read_line(fd, r, sizeof r, dl) == 0 &&
	    strncmp(r, "ok ", 3) == 0 && strtol(r + 3, NULL, 10) > 0 &&
	    strtol(r + 3, NULL, 10) < INT_MAX) {
		*keeper_pid = cr.pid;
		*engine_pid = (pid_t)strtol(r + 3, NULL, 10);
		rc = 0;
	}
	close(fd);
	return rc;
}

int keeper_proc_start(pid_t pid, unsigned long long *start, char *state)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	/* The name (field 2) may hold spaces and parentheses: fields 3.. follow
	 * the last ')'. Field 22 is the 20th after it. */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	if (state)
		*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -1;
	*start = v;
	return 0;
}

/* 1 when pid is currently the process k (alive or zombie). */
static int is_same(const struct keeper_id *k, char *state)
{
	unsigned long long st;
	if (!k || k->pid <= 0 || k->start == 0)
		return 0;
	return keeper_proc_start(k->pid, &st, state) == 0 && st == k->start;
}

void keeper_reap(const struct keeper_id *k, int timeout_ms)
{
	int64_t dl = clock_ms() + timeout_ms;
	while (is_same(k, NULL)) {
		pid_t r = waitpid(k->pid, NULL, WNOHANG);
		if (r == k->pid || (r < 0 && errno != EINTR))
			return; /* reaped, or not our child (adopted after a restart) */
		if (clock_ms() >= dl)
			return;
		usleep(10 * 1000);
	}
}

int keeper_alive(const struct keeper_id *k, int *wstatus)
{
	char state = 0;
	if (wstatus)
		*wstatus = -1;
	if (!is_same(k, &state))
		return 0;
	if (state != 'Z')
		return 1;
	/* A zombie with our keeper's start time: our child, reap it for its status. */
	int st;
	if (waitpid(k->pid, &st, WNOHANG) == k->pid && wstatus)
		*wstatus = st;
	return 0;
}

int keeper_kill(const struct keeper_id *k)
{
	if (!k || k->pid <= 0 || k->start == 0)
		return -1;
	int fd = pidfd_open(k->pid, 0);
	if (fd < 0)
		return -1;
	/* The pidfd pins one process: if the PID still shows k's start time now,
	 * the pidfd is k, and the signal cannot reach a successor. */
	int rc = -1;
	if (is_same(k, NULL) && pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
		rc = 0;
	close(fd);
	return rc;
}

static const struct {
	int code;
	const char *why;
} keeper_exits[] = {
	{ 1, "the VM could not start" },
	{ 3, "a suspend failed and the VM could not go on" },
	{ 4, "the VM's agent stream ended: the engine process died" },
	{ 5, "keeper internal error" },
};

void keeper_describe_exit(int wstatus, char *out, size_t n)
{
	if (wstatus < 0) {
		snprintf(out, n, "exit status unknown (not hearthd's child)");
		return;
	}
	if (WIFSIGNALED(wstatus)) {
		snprintf(out, n, "keeper killed by signal %d (%s)", WTERMSIG(wstatus),
			 strsignal(WTERMSIG(wstatus)));
		return;
	}
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	for (size_t i = 0; i < sizeof keeper_exits / sizeof keeper_exits[0]; i++)
		if (keeper_exits[i].code == code) {
			snprintf(out, n, "keeper exited with status %d (%s)", code,
				 keeper_exits[i].why);
			return;
		}
	snprintf(out, n, "keeper exited with status %d", code);
}

int keeper_agent_connect(const char *vmdir, int timeout_ms)
{
	return connect_to(vmdir, "agent.sock", timeout_ms);
}

int keeper_direct_connect(const char *vmdir)
{
	return connect_to(vmdir, "run/" VM_DIRECT_SOCK, 0);
}
