/*
 * agent.c - hearth-agent's entry point and event loop. Single-threaded:
 * every fd is non-blocking and registered edge-triggered with epoll; events
 * only set readiness flags, then one pass does the work in a fixed order
 * (host input, channel input, channel output, end-of-channel messages,
 * flush) until nothing moves. SIGCHLD, SIGTERM and SIGINT arrive through a
 * signalfd.
 */
#include "agent.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define POWEROFF_FLUSH_MS 1000

static struct agent the_agent;

int64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agent_watch(struct agent *a, int fd, struct src *s, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = s;
	s->events = events;
	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Change a registration's mask if it differs (adding EPOLLOUT reports at
 * once when the fd is already writable). */
void agent_rearm(struct agent *a, int fd, struct src *s, uint32_t events)
{
	struct epoll_event ev;

	if (s->events == events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		log_msg("epoll mod fd %d: %s", fd, strerror(errno));
	else
		s->events = events;
}

void agent_request_poweroff(struct agent *a)
{
	a->poweroff = 1;
	a->poweroff_at = agent_now_ms() + POWEROFF_FLUSH_MS;
}

/*
 * Up to 1024 channels with up to three fds each: lift the soft fd limit to
 * AGENT_NOFILE (not to the hard limit: children inherit it).
 */
#define AGENT_NOFILE 4096
static void agent_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < AGENT_NOFILE) {
		rl.rlim_cur = rl.rlim_max < AGENT_NOFILE ? rl.rlim_max : AGENT_NOFILE;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void agent_usage(FILE *f)
{
	fprintf(f, "usage: hearth-agent [--device PATH|auto | --listen unix:PATH]\n"
		   "                    [--direct PATH | --direct-listen unix:PATH] [--verbose]\n"
		   "  --device PATH       serve the agent protocol on a character device;\n"
		   "                      auto (the default as PID 1): the virtio-serial\n"
		   "                      port named " AGENT_PORT_NAME ", else /dev/hvc0, and\n"
		   "                      the direct stream on the port " AGENT_DIRECT_PORT_NAME
		   " if any\n"
		   "  --listen unix:PATH  serve it on a unix socket, one host at a time\n"
		   "  --direct PATH       serve the direct stream on a character device\n"
		   "  --direct-listen unix:PATH\n"
		   "                      serve the direct stream on a unix socket\n"
		   "  --shell PATH        the shell of pty channels that name none, for\n"
		   "                      every user, instead of the one in /etc/passwd\n"
		   "  -v, --verbose       log protocol events to stderr\n"
		   "  --version           print the version\n");
}

/* "unix:PATH" for --listen and --direct-listen: PATH, or NULL. */
static const char *agent_unix_path(const char *opt, const char *arg)
{
	if (strncmp(arg, "unix:", 5) != 0 || arg[5] == 0) {
		fprintf(stderr, "hearth-agent: %s wants unix:PATH\n", opt);
		return NULL;
	}
	return arg + 5;
}

/*
 * Sets each stream's mode: listen[] gets the socket paths, conns[].device
 * the device paths. Returns 0 to run, 1 to exit successfully, -1 on a usage
 * error.
 */
static int agent_options(struct agent *a, int argc, char **argv, const char *listen[CONN_COUNT])
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "direct", required_argument, NULL, 'D' },
		{ "direct-listen", required_argument, NULL, 'L' },
		{ "shell", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct conn *m = &a->conns[CONN_MAIN], *d = &a->conns[CONN_DIRECT];
	int c;

	while ((c = getopt_long(argc, argv, "d:l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			m->device = optarg;
			break;
		case 'l':
			if ((listen[CONN_MAIN] = agent_unix_path("--listen", optarg)) == NULL)
				return -1;
			break;
		case 'D':
			d->device = optarg;
			break;
		case 'L':
			if ((listen[CONN_DIRECT] = agent_unix_path("--direct-listen", optarg)) == NULL)
				return -1;
			break;
		case 'S':
			if (spawn_set_default_shell(optarg) != 0) {
				fprintf(stderr, "hearth-agent: --shell wants an absolute path\n");
				return -1;
			}
			break;
		case 'v':
			a->verbose = 1;
			break;
		case 'V':
			printf("%s\n", AGENT_SOFTWARE);
			return 1;
		case 'h':
			agent_usage(stdout);
			return 1;
		default:
			/* The kernel hands init its unknown boot arguments: not fatal then. */
			if (a->pid1)
				break;
			agent_usage(stderr);
			return -1;
		}
	}
	if (m->device && listen[CONN_MAIN]) {
		fprintf(stderr, "hearth-agent: --device and --listen exclude each other\n");
		return -1;
	}
	if (d->device && listen[CONN_DIRECT]) {
		fprintf(stderr, "hearth-agent: --direct and --direct-listen exclude each other\n");
		return -1;
	}
	if (!m->device && !listen[CONN_MAIN]) {
		if (!a->pid1) {
			agent_usage(stderr);
			return -1;
		}
		m->device = AGENT_DEVICE_AUTO;
	}
	/* auto also looks for the direct port, unless told where it is. */
	if (m->device && strcmp(m->device, AGENT_DEVICE_AUTO) == 0 && !d->device &&
	    !listen[CONN_DIRECT])
		d->device = AGENT_DEVICE_AUTO;
	for (int i = 0; i < CONN_COUNT; i++)
		a->conns[i].mode = listen[i] ? CONN_LISTEN : a->conns[i].device ? CONN_DEVICE : CONN_OFF;
	return 0;
}

static int agent_signals_init(struct agent *a)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig_fd < 0)
		return -1;
	a->sig_src.type = SRC_SIGNAL;
	a->sig_ready = 1;
	return agent_watch(a, a->sig_fd, &a->sig_src, EV_BASE);
}

static void agent_signals(struct agent *a)
{
	struct signalfd_siginfo si;
	ssize_t n;

	while ((n = read(a->sig_fd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_debug("signal %u: shutting down", si.ssi_signo);
			if (a->pid1)
				agent_request_poweroff(a);
			else
				a->quit = 1;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		log_msg("signalfd: %s", strerror(errno));
	a->sig_ready = 0;
	reap_children(a); /* coalesced SIGCHLDs: always look */
}

static void agent_event(struct agent *a, const struct epoll_event *ev)
{
	struct src *s = ev->data.ptr;
	int in = (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0;
	int out = (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
	int hup = (ev->events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0;

	switch (s->type) {
	case SRC_LISTEN:
		conn_of_src(s)->listen_ready = 1;
		break;
	case SRC_SIGNAL:
		a->sig_ready = 1;
		break;
	case SRC_CONN: {
		struct conn *c = conn_of_src(s);

		c->readable |= in;
		c->writable |= out;
		c->hup |= hup;
		break;
	}
	case SRC_CHAN: {
		struct chan_fd *f = (struct chan_fd *)s;

		f->readable |= in;
		f->writable |= out;
		f->hup |= hup;
		break;
	}
	case SRC_DNS:
		dns_event(s);
		break;
	case SRC_IDENT:
		ident_event(s);
		break;
	}
}

static int agent_timeout(struct agent *a, int64_t now)
{
	int64_t d[5 + CONN_COUNT] = { chan_next_deadline(a), reap_next_deadline(a),
				      a->poweroff ? a->poweroff_at : 0, dns_next_deadline(),
				      ident_next_deadline() };
	int64_t best = 0;

	for (int i = 0; i < CONN_COUNT; i++)
		d[5 + i] = a->conns[i].reopen_at;
	for (int i = 0; i < 5 + CONN_COUNT; i++)
		if (d[i] && (best == 0 || d[i] < best))
			best = d[i];
	if (best == 0)
		return -1;
	if (best <= now)
		return 0;
	return best - now > 60000 ? 60000 : (int)(best - now);
}

static void agent_shutdown(struct agent *a)
{
	if (a->pid1)
		pid1_poweroff();
	chan_kill_all(a);
	conn_shutdown(a);
	log_debug("exiting");
	exit(0);
}

static void agent_loop(struct agent *a)
{
	struct conn *m = &a->conns[CONN_MAIN];
	struct epoll_event evs[128];
	int64_t now;
	int n, progress;

	for (;;) {
		now = agent_now_ms();
		n = epoll_wait(a->epfd, evs, 128, agent_timeout(a, now));
		if (n < 0 && errno != EINTR) {
			log_msg("epoll_wait: %s", strerror(errno));
			n = 0;
		}
		for (int i = 0; i < n; i++)
			agent_event(a, &evs[i]);
		if (a->sig_ready)
			agent_signals(a);
		for (int i = 0; i < CONN_COUNT; i++)
			if (a->conns[i].listen_ready)
				conn_accept(a, &a->conns[i]);
		now = agent_now_ms();
		conn_check_reopen(a, now);
		reap_run_kills(a, now);
		do {
			progress = 0;
			for (int i = 0; i < CONN_COUNT; i++)
				progress |= conn_process_input(a, &a->conns[i]);
			progress |= chan_write_inputs(a);
			progress |= chan_pump(a);
			progress |= chan_advance(a, now);
			progress |= dns_run(a, now);
			progress |= ident_run(a, now);
			for (int i = 0; i < CONN_COUNT; i++)
				progress |= conn_flush(a, &a->conns[i]);
		} while (progress && !a->quit);
		if (a->quit)
			agent_shutdown(a);
		/* POWEROFF comes only from the main stream: flush its reply. */
		if (a->poweroff && (buf_used(&m->out) == 0 || m->fd < 0 ||
				    agent_now_ms() >= a->poweroff_at))
			agent_shutdown(a);
	}
}

/* Start serving stream c; -1 (errno set) if it cannot be set up at all. */
static int agent_serve(struct agent *a, struct conn *c, const char *listen)
{
	switch (c->mode) {
	case CONN_LISTEN:
		if (conn_listen(a, c, listen) < 0) {
			log_msg("%s: listen on %s: %s", c->name, listen, strerror(errno));
			return -1;
		}
		log_debug("%s: %s serving on %s", c->name, AGENT_SOFTWARE, listen);
		break;
	case CONN_DEVICE:
		/* The main device is retried from the loop, the direct one never:
		 * no hearth.direct port (auto) means no direct stream, but an
		 * explicit --direct PATH must open. */
		if (conn_open_device(a, c) < 0 && c->direct &&
		    strcmp(c->device, AGENT_DEVICE_AUTO) != 0) {
			log_msg("%s: cannot open %s: %s", c->name, c->device, strerror(errno));
			return -1;
		}
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct agent *a = &the_agent;
	const char *listen[CONN_COUNT] = { NULL };
	int rc;

	/* Installed as a link named hearth-identity: the guest's token helper. */
	const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argv[0];
	if (base && strcmp(base, IDENT_CLI_NAME) == 0)
		return ident_cli_main(argc, argv);
	a->pid1 = getpid() == 1;
	rc = agent_options(a, argc, argv, listen);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_init(a->verbose);
	agent_raise_nofile();
	caps_init();
	if (a->pid1) {
		pid1_setup();
		caps_boot();
	}
	else
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of our shells come back to us */
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0 || agent_signals_init(a) < 0 || conn_init(a) < 0) {
		log_msg("setup: %s", strerror(errno));
		if (a->pid1)
			pid1_poweroff();
		return 1;
	}
	/* The guest's resolver: only PID 1 owns the guest's network setup. */
	if (a->pid1) {
		dns_init(a);
		ident_init(a);
	}
	for (int i = 0; i < CONN_COUNT; i++) {
		if (agent_serve(a, &a->conns[i], listen[i]) < 0) {
			conn_shutdown(a);
			if (a->pid1)
				pid1_poweroff();
			return 1;
		}
	}
	agent_loop(a);
	return 0;
}
