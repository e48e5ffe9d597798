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
	fprintf(f, "usage: hearth-agent [--device PATH|auto | --listen unix:PATH] [--verbose]\n"
		   "  --device PATH       serve the agent protocol on a character device;\n"
		   "                      auto (the default as PID 1): the virtio-serial\n"
		   "                      port named " AGENT_PORT_NAME ", else /dev/hvc0\n"
		   "  --listen unix:PATH  serve it on a unix socket, one host at a time\n"
		   "  -v, --verbose       log protocol events to stderr\n"
		   "  --version           print the version\n");
}

/* Returns 0 to run, 1 to exit successfully, -1 on a usage error. */
static int agent_options(struct agent *a, int argc, char **argv, const char **listen)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "d:l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a->device = optarg;
			break;
		case 'l':
			if (strncmp(optarg, "unix:", 5) != 0 || optarg[5] == 0) {
				fprintf(stderr, "hearth-agent: --listen wants unix:PATH\n");
				return -1;
			}
			*listen = optarg + 5;
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
	if (a->device && *listen) {
		fprintf(stderr, "hearth-agent: --device and --listen exclude each other\n");
		return -1;
	}
	if (!a->device && !*listen) {
		if (!a->pid1) {
			agent_usage(stderr);
			return -1;
		}
		a->device = AGENT_DEVICE_AUTO;
	}
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
		a->listen_ready = 1;
		break;
	case SRC_SIGNAL:
		a->sig_ready = 1;
		break;
	case SRC_CONN:
		a->conn.readable |= in;
		a->conn.writable |= out;
		a->conn.hup |= hup;
		break;
	case SRC_CHAN: {
		struct chan_fd *f = (struct chan_fd *)s;

		f->readable |= in;
		f->writable |= out;
		f->hup |= hup;
		break;
	}
	}
}

static int agent_timeout(struct agent *a, int64_t now)
{
	int64_t d[4] = { chan_next_deadline(a), reap_next_deadline(a), a->conn.reopen_at,
			 a->poweroff ? a->poweroff_at : 0 };
	int64_t best = 0;

	for (int i = 0; i < 4; i++)
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
	if (a->listen_path[0])
		unlink(a->listen_path);
	log_debug("exiting");
	exit(0);
}

static void agent_loop(struct agent *a)
{
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
		if (a->listen_ready)
			conn_accept(a);
		now = agent_now_ms();
		conn_check_reopen(a, now);
		reap_run_kills(a, now);
		do {
			progress = conn_process_input(a);
			progress |= chan_write_inputs(a);
			progress |= chan_pump(a);
			progress |= chan_advance(a, now);
			progress |= conn_flush(a);
		} while (progress && !a->quit);
		if (a->quit)
			agent_shutdown(a);
		if (a->poweroff && (buf_used(conn_out(a)) == 0 || a->conn.fd < 0 ||
				    agent_now_ms() >= a->poweroff_at))
			agent_shutdown(a);
	}
}

int main(int argc, char **argv)
{
	struct agent *a = &the_agent;
	const char *listen = NULL;
	int rc;

	a->pid1 = getpid() == 1;
	a->listen_fd = -1;
	rc = agent_options(a, argc, argv, &listen);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_init(a->verbose);
	agent_raise_nofile();
	if (a->pid1)
		pid1_setup();
	else
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of our shells come back to us */
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0 || agent_signals_init(a) < 0 || conn_init(a) < 0) {
		log_msg("setup: %s", strerror(errno));
		if (a->pid1)
			pid1_poweroff();
		return 1;
	}
	if (listen && conn_listen(a, listen) < 0) {
		log_msg("listen on %s: %s", listen, strerror(errno));
		if (a->pid1)
			pid1_poweroff();
		return 1;
	}
	if (a->device)
		conn_open_device(a); /* retried from the loop if it fails */
	log_debug("%s serving on %s", AGENT_SOFTWARE, listen ? listen : a->device);
	agent_loop(a);
	return 0;
}
