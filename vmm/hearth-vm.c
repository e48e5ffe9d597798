/*
 * hearth-vm - boot or restore one microVM in the foreground (dev/test tool).
 *
 *   hearth-vm boot --image IMAGE.json --dir RUN [options]
 *   hearth-vm restore --snapshot DIR --dir RUN [--mem-fd N] [options]
 *
 * --mem-fd N: guest RAM maps fd N, an inherited sealed memfd holding the
 * snapshot's memory.bin (engine.h; hearthd hands one to each VM of an image),
 * instead of the file.
 *
 * Once QEMU runs it prints "started pid=QEMU_PID"; when the agent has answered HELLO (and, after a restore, has been given
 * fresh entropy, a hostname and the time) it prints one line
 *   ready pid=QEMU_PID agent=RUN/agent.sock ms=ELAPSED engine_ms=ENGINE_PART
 * and relays the agent stream to the unix socket RUN/agent.sock. Commands
 * are read from stdin, one per line, each answered by one line "ok ..." or
 * "err MESSAGE": snapshot DIR | suspend DIR | pause | resume | stop | pid.
 * suspend (when it succeeds: a failed one leaves the VM running, its relay
 * back) and stop end the program; so does EOF on stdin (stop) and
 * SIGTERM/SIGINT. Unexpected VM death prints "err ..." and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/agentctl.h"
#include "vmm/clock.h"
#include "vmm/engine.h"
#include "vmm/image.h"
#include "vmm/relay.h"

#define DEFAULT_BOOT_MS 120000
#define DEFAULT_OP_MS 30000
#define STOP_MS 5000

struct opts {
	const char *image, *snapshot, *dir, *id, *agent_sock;
	unsigned mem, vcpus;
	int boot_ms, op_ms;
	enum vm_accel accel;
	int net;
	int mem_fd; /* restore: an inherited sealed memfd of the snapshot's memory (0: none) */
};

struct ctx {
	const struct vm_engine *eng;
	struct vm *vm;
	struct relay relay;
	struct opts *o;
	char line[8192];
	size_t linelen;
	char sock[PATH_MAX]; /* the relay's socket */
	int done, rc;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hearth-vm boot --image IMAGE.json --dir RUN [options]\n"
		"       hearth-vm restore --snapshot DIR --dir RUN [--mem-fd N] [options]\n"
		"options: --mem MiB --vcpus N --id NAME --accel kvm|tcg --net\n"
		"         --agent-sock PATH (default RUN/agent.sock)\n"
		"         --timeout MS (boot/restore, default %d) --op-timeout MS (default %d)\n"
		"stdin commands: snapshot DIR | suspend DIR | pause | resume | stop | pid\n",
		DEFAULT_BOOT_MS, DEFAULT_OP_MS);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Messages go on one line: the tests read replies line by line. */
static const char *oneline(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

static int cmd_snapshot(struct ctx *c, const char *arg)
{
	struct vm_err err;
	int64_t t0 = clock_ms();
	if (!*arg) {
		say("err snapshot needs a directory");
		return 0;
	}
	if (c->eng->snapshot(c->vm, arg, c->o->op_ms, &err) < 0) {
		say("err %s", oneline(err.msg));
		return 0;
	}
	say("ok snapshot ms=%lld", (long long)(clock_ms() - t0));
	return 0;
}

static int cmd_suspend(struct ctx *c, const char *arg)
{
	struct vm_err err;
	int64_t t0 = clock_ms();
	if (!*arg) {
		say("err suspend needs a directory");
		return 0;
	}
	relay_close(&c->relay);
	if (c->eng->suspend(c->vm, arg, c->o->op_ms, &err) < 0) {
		/* The engine continued the VM (a full disk...): it runs on, with
		 * its relay back, unless it died. */
		char e[256];
		struct vm_err rerr;
		if (c->eng->resume(c->vm, c->o->op_ms, &rerr) == 0 &&
		    relay_open(&c->relay, c->sock, c->eng->agent_fd(c->vm), e, sizeof(e)) == 0) {
			say("err %s", oneline(err.msg));
			return 0;
		}
		say("err %s", oneline(err.msg));
		c->eng->stop(c->vm, STOP_MS, &err);
		c->vm = NULL;
		c->done = 1;
		c->rc = 1;
		return 0;
	}
	c->vm = NULL;
	say("ok suspend ms=%lld", (long long)(clock_ms() - t0));
	c->done = 1;
	return 0;
}

static int cmd_pause(struct ctx *c, const char *arg)
{
	struct vm_err err;
	if (c->eng->pause(c->vm, c->o->op_ms, &err) < 0)
		say("err %s", oneline(err.msg));
	else
		say("ok pause");
	return 0;
}

static int cmd_resume(struct ctx *c, const char *arg)
{
	struct vm_err err;
	if (c->eng->resume(c->vm, c->o->op_ms, &err) < 0)
		say("err %s", oneline(err.msg));
	else
		say("ok resume");
	return 0;
}

static int cmd_stop(struct ctx *c, const char *arg)
{
	struct vm_err err;
	int64_t t0 = clock_ms();
	relay_close(&c->relay);
	int rc = c->eng->stop(c->vm, STOP_MS, &err);
	c->vm = NULL;
	c->done = 1;
	if (rc < 0) {
		say("err %s", oneline(err.msg));
		c->rc = 1;
	} else {
		say("ok stop ms=%lld", (long long)(clock_ms() - t0));
	}
	return 0;
}

static int cmd_pid(struct ctx *c, const char *arg)
{
	say("ok pid=%d", (int)c->eng->pid(c->vm));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *, const char *);
} commands[] = {
	{ "snapshot", cmd_snapshot }, { "suspend", cmd_suspend }, { "pause", cmd_pause },
	{ "resume", cmd_resume },     { "stop", cmd_stop },       { "pid", cmd_pid },
};

static void run_line(struct ctx *c, char *line)
{
	while (*line == ' ')
		line++;
	if (!*line)
		return;
	char *arg = strchr(line, ' ');
	if (arg) {
		*arg++ = 0;
		while (*arg == ' ')
			arg++;
	} else {
		arg = line + strlen(line);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, line)) {
			commands[i].fn(c, arg);
			return;
		}
	say("err unknown command \"%s\"", line);
}

/* Read stdin; run every complete line. Returns -1 on EOF. */
static int read_stdin(struct ctx *c)
{
	ssize_t n = read(0, c->line + c->linelen, sizeof(c->line) - 1 - c->linelen);
	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	c->linelen += (size_t)n;
	for (;;) {
		char *nl = memchr(c->line, '\n', c->linelen);
		if (!nl) {
			if (c->linelen == sizeof(c->line) - 1)
				c->linelen = 0; /* an absurd line: drop it */
			return 0;
		}
		*nl = 0;
		char cmd[sizeof(c->line)];
		memcpy(cmd, c->line, (size_t)(nl - c->line) + 1);
		size_t rest = c->linelen - (size_t)(nl - c->line) - 1;
		memmove(c->line, nl + 1, rest);
		c->linelen = rest;
		run_line(c, cmd);
		if (c->done)
			return 0;
	}
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "image", required_argument, 0, 'i' },   { "snapshot", required_argument, 0, 's' },
		{ "dir", required_argument, 0, 'd' },     { "mem", required_argument, 0, 'm' },
		{ "vcpus", required_argument, 0, 'c' },   { "id", required_argument, 0, 'n' },
		{ "accel", required_argument, 0, 'a' },   { "net", no_argument, 0, 'N' },
		{ "agent-sock", required_argument, 0, 'A' },
		{ "timeout", required_argument, 0, 't' }, { "op-timeout", required_argument, 0, 'T' },
		{ "mem-fd", required_argument, 0, 'F' },
		{ "help", no_argument, 0, 'h' },          { 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': o->image = optarg; break;
		case 's': o->snapshot = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'm': o->mem = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': o->vcpus = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': o->id = optarg; break;
		case 'N': o->net = 1; break;
		case 'A': o->agent_sock = optarg; break;
		case 't': o->boot_ms = atoi(optarg); break;
		case 'T': o->op_ms = atoi(optarg); break;
		case 'F':
			o->mem_fd = atoi(optarg);
			if (o->mem_fd <= 2)
				return -1;
			break;
		case 'a':
			if (!strcmp(optarg, "kvm"))
				o->accel = VM_ACCEL_KVM;
			else if (!strcmp(optarg, "tcg"))
				o->accel = VM_ACCEL_TCG;
			else
				return -1;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *mode = argv[1];
	struct opts o = { .boot_ms = DEFAULT_BOOT_MS, .op_ms = DEFAULT_OP_MS };
	if (parse_opts(argc - 1, argv + 1, &o) < 0 || !o.dir ||
	    (strcmp(mode, "boot") && strcmp(mode, "restore")) ||
	    (!strcmp(mode, "boot") && !o.image) || (!strcmp(mode, "restore") && !o.snapshot)) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);

	struct ctx c = { .o = &o };
	c.eng = vm_engine_find(getenv("HEARTH_ENGINE"));
	if (!c.eng) {
		say("err unknown engine");
		return 1;
	}
	char id[64];
	snprintf(id, sizeof(id), "%s", o.id ? o.id : "");
	if (!*id)
		snprintf(id, sizeof(id), "vm-%d", (int)getpid());
	struct vm_config cfg = { .id = id, .run_dir = o.dir, .accel = o.accel, .net = o.net,
				 .mem_mib = o.mem, .vcpus = o.vcpus, .mem_fd = o.mem_fd };
	struct image img;
	struct vm_err err;
	char e[AGENTCTL_ERR];
	int64_t t0 = clock_ms();
	int rc;
	if (!strcmp(mode, "boot")) {
		if (image_load(o.image, &img, e, sizeof(e)) < 0) {
			say("err %s", oneline(e));
			return 1;
		}
		cfg.kernel = img.kernel;
		cfg.initrd = img.initrd[0] ? img.initrd : NULL;
		cfg.disk = img.disk[0] ? img.disk : NULL;
		cfg.cmdline = img.cmdline;
		if (!cfg.mem_mib)
			cfg.mem_mib = img.mem_mib;
		rc = c.eng->boot(&cfg, o.boot_ms, &c.vm, &err);
	} else {
		rc = c.eng->restore(&cfg, o.snapshot, o.boot_ms, &c.vm, &err);
	}
	if (rc < 0) {
		say("err %s", oneline(err.msg));
		return 1;
	}
	int64_t engine_ms = clock_ms() - t0;
	say("started pid=%d", (int)c.eng->pid(c.vm));
	/* Agent ready: HELLO answered; every VM also gets its own entropy and name. */
	int64_t dl = t0 + o.boot_ms;
	int fd = c.eng->agent_fd(c.vm);
	int host = (c.eng->flags & VM_ENGINE_HOST_PROCESS) != 0;
	if (((!strcmp(mode, "boot") || host) &&
	     agentctl_hello(fd, clock_left(dl), NULL, NULL, e, sizeof(e)) < 0) ||
	    (!host && agentctl_refresh(fd, id, clock_left(dl), NULL, NULL, e, sizeof(e)) < 0)) {
		/* When QEMU died meanwhile, the engine says how (pause fails with it). */
		struct vm_err why;
		if (c.eng->pause(c.vm, 500, &why) == 0)
			snprintf(why.msg, sizeof(why.msg), "%s", e);
		c.eng->stop(c.vm, STOP_MS, &err);
		say("err agent not ready: %s", oneline(why.msg));
		return 1;
	}
	int64_t ready_ms = clock_ms() - t0;
	char *sock = c.sock;
	if (o.agent_sock)
		snprintf(c.sock, sizeof(c.sock), "%s", o.agent_sock);
	else
		snprintf(c.sock, sizeof(c.sock), "%s/agent.sock", o.dir);
	if (relay_open(&c.relay, sock, c.eng->agent_fd(c.vm), e, sizeof(e)) < 0) {
		c.eng->stop(c.vm, STOP_MS, &err);
		say("err %s", oneline(e));
		return 1;
	}
	say("ready pid=%d agent=%s ms=%lld engine_ms=%lld", (int)c.eng->pid(c.vm), sock,
	    (long long)ready_ms, (long long)engine_ms);

	while (!c.done) {
		struct pollfd pfd[RELAY_NFDS + 2];
		relay_poll_fds(&c.relay, pfd);
		pfd[RELAY_NFDS] = (struct pollfd){ .fd = 0, .events = POLLIN };
		pfd[RELAY_NFDS + 1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (poll(pfd, RELAY_NFDS + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[RELAY_NFDS + 1].revents & POLLIN) {
			cmd_stop(&c, "");
			break;
		}
		if (pfd[RELAY_NFDS].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_stdin(&c) < 0) {
				cmd_stop(&c, "");
				break;
			}
			if (c.done)
				break;
			continue; /* the relay's fds may have changed */
		}
		if (relay_handle(&c.relay, pfd) < 0) {
			/* The agent stream ended: QEMU is gone. stop reaps it. */
			relay_close(&c.relay);
			struct vm_err why;
			if (c.eng->pause(c.vm, 500, &why) == 0)
				snprintf(why.msg, sizeof(why.msg), "agent channel closed");
			c.eng->stop(c.vm, STOP_MS, &err);
			c.vm = NULL;
			say("err VM exited unexpectedly: %s", oneline(why.msg));
			c.rc = 1;
			break;
		}
	}
	if (sfd >= 0)
		close(sfd);
	return c.rc;
}
