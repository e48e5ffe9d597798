/*
 * agent_bench.c - the measuring client of `make bench` for hearth-agent and
 * its OpenSSH peer. Both sides are measured by the same loops, so the figures
 * can be set side by side:
 *
 *   agent_bench [-t SECS] rtt SOCK N WARMUP          agent shell channel, `cat` on a raw pty
 *   agent_bench [-t SECS] bulk SOCK BYTES WINDOW     agent exec `head -c BYTES /dev/zero`
 *   agent_bench [-t SECS] rtt-cmd N WARMUP -- CMD... CMD's stdin/stdout (e.g. ssh -tt ... cat)
 *   agent_bench [-t SECS] rtt-pty N WARMUP -- CMD... CMD on a local pty: the floor, no transport
 *   agent_bench [-t SECS] bulk-cmd BYTES -- CMD...   CMD's stdout read to EOF
 *
 * rtt: the remote side runs `stty raw -echo; printf READY; exec cat` on a pty;
 * after WARMUP discarded round trips, N single bytes are each written and
 * timed until the same byte comes back. bulk: throughput from the first
 * output byte to end of stream. Each mode prints one line of key=value
 * figures on stdout. Every wait is bounded by one deadline (-t, default 60 s);
 * past it the mode fails and its child is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "protocol/mux.h"
#include "tests/bench/figures.h"

#define READY "READY"
/* Quoting keeps the echoed command line from containing READY itself. */
#define RTT_SETUP "stty raw -echo; printf 'RE''ADY'; exec cat\n"
#define IN_BUF (256u * 1024)
#define OUT_MAX (1u << 20)
#define RTT_MAX_N 1000000L
#define SCAN_MAX 65536 /* output kept while looking for READY */

static int64_t deadline;  /* CLOCK_MONOTONIC ns */
static pid_t child = -1;  /* killed on failure */
static const char *phase = "start";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "agent_bench: %s: ", phase);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	exit(1);
}

/* Wait for fd to become ready, never past the deadline. */
static void wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - fig_now_ns();
		if (left <= 0)
			fail("deadline passed");
		rc = poll(&p, 1, (int)(left / 1000000) + 1);
		if (rc > 0)
			return;
		if (rc < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
}

/* Read what is there (at least one byte), or 0 at end of stream. */
static size_t read_some(int fd, void *p, size_t cap)
{
	ssize_t n;

	for (;;) {
		n = read(fd, p, cap);
		if (n >= 0)
			return (size_t)n;
		if (errno == EAGAIN)
			wait_fd(fd, POLLIN);
		else if (errno != EINTR)
			fail("read: %s", strerror(errno));
	}
}

static void write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w > 0) {
			q += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			wait_fd(fd, POLLOUT);
		} else if (w < 0 && errno != EINTR) {
			fail("write: %s", strerror(errno));
		}
	}
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fail("fcntl: %s", strerror(errno));
}

/* ---- the agent side: one mux connection, one channel at a time ---- */

struct mconn {
	int fd;
	struct mux_reader rd;
	uint8_t in[IN_BUF];
	size_t off, len;
	struct buf out; /* frames queued, written before the next blocking read */
};

/* The host's view of one channel. */
struct chstate {
	uint32_t id;
	uint32_t rx_window;  /* what we granted in OPEN */
	uint32_t rx_unacked; /* bytes consumed, credit not yet returned */
	uint32_t credit_at;  /* return credit once this much is unacked */
	uint64_t tx_window;  /* bytes we may still send */
	int opened, eof_out, exited, closed;
	struct mux_exit exit;
};

static struct mconn mc;

static void mc_flush(void)
{
	if (buf_used(&mc.out) > 0) {
		write_all(mc.fd, buf_ptr(&mc.out), buf_used(&mc.out));
		buf_reset(&mc.out);
	}
}

static void mc_check(int rc, const char *what)
{
	if (rc != MUX_OK)
		fail("encoding %s: %s", what, mux_strerror(rc));
}

/* The next frame from the agent; queued frames go out before any blocking read. */
static void mc_next(struct mux_frame *f)
{
	size_t used, n;
	int rc;

	for (;;) {
		while (mc.off < mc.len) {
			rc = mux_reader_feed(&mc.rd, mc.in + mc.off, mc.len - mc.off, &used, f);
			mc.off += used;
			if (rc == MUX_OK)
				return;
			if (rc < 0)
				fail("agent sent a refused frame (type 0x%02x): %s", f->hdr.type,
				     mux_strerror(rc));
		}
		mc_flush();
		mc.off = mc.len = 0;
		n = read_some(mc.fd, mc.in, sizeof(mc.in));
		if (n == 0)
			fail("agent closed the connection");
		mc.len = n;
	}
}

static void mc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mux_frame f;
	struct mux_hello h;

	phase = "connect";
	if (strlen(path) >= sizeof(sa.sun_path))
		fail("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	mc.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (mc.fd < 0 || connect(mc.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("%s: %s", path, strerror(errno));
	set_nonblock(mc.fd);
	mux_reader_init(&mc.rd);
	buf_init(&mc.out, OUT_MAX);
	mc_check(mux_put_hello(&mc.out, MUX_HELLO_F_HOST, 0, "agent_bench"), "HELLO");
	for (;;) {
		mc_next(&f);
		if (f.hdr.type == MUX_HELLO) {
			if (mux_decode_hello(&f, &h) != MUX_OK || h.version < MUX_VERSION)
				fail("bad HELLO from the agent");
			return;
		}
		if (f.hdr.type == MUX_ERROR)
			fail("agent answered HELLO with ERROR");
	}
}

static void ch_return_credit(struct chstate *c, size_t n)
{
	c->rx_unacked += (uint32_t)n;
	if (c->rx_unacked >= c->credit_at) {
		mc_check(mux_put_window(&mc.out, c->id, c->rx_unacked), "WINDOW");
		c->rx_unacked = 0;
	}
}

/*
 * Read one frame and apply it to channel c. Returns 1 with *d filled for
 * DATA on c (credit is returned for it), 0 for anything else.
 */
static int ch_next(struct chstate *c, struct mux_data *d)
{
	struct mux_frame f;
	struct mux_open_ok ok;
	struct mux_fail e;
	uint32_t incr;
	uint8_t stream;

	mc_next(&f);
	if (f.hdr.type == MUX_ERROR) {
		if (mux_decode_fail(&f, &e) != MUX_OK)
			fail("undecodable ERROR");
		fail("agent ERROR %d on channel %u: %.*s", e.code, f.hdr.channel, (int)e.msg.len,
		     e.msg.p);
	}
	if (f.hdr.channel != c->id)
		return 0;
	switch (f.hdr.type) {
	case MUX_OPEN_OK:
		if (mux_decode_open_ok(&f, &ok) != MUX_OK)
			fail("bad OPEN_OK");
		c->tx_window = ok.window;
		c->opened = 1;
		return 0;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(&f, &e) != MUX_OK)
			fail("bad OPEN_FAIL");
		fail("OPEN_FAIL %d: %.*s", e.code, (int)e.msg.len, e.msg.p);
	case MUX_DATA:
		if (mux_decode_data(&f, d) != MUX_OK)
			fail("bad DATA");
		ch_return_credit(c, d->len);
		return 1;
	case MUX_WINDOW:
		if (mux_decode_window(&f, &incr) != MUX_OK)
			fail("bad WINDOW");
		c->tx_window += incr;
		return 0;
	case MUX_EOF:
		if (mux_decode_eof(&f, &stream) != MUX_OK)
			fail("bad EOF");
		if (stream == MUX_STREAM_MAIN || stream == MUX_STREAM_STDOUT)
			c->eof_out = 1;
		return 0;
	case MUX_EXIT:
		if (mux_decode_exit(&f, &c->exit) != MUX_OK)
			fail("bad EXIT");
		c->exited = 1;
		return 0;
	case MUX_CLOSE:
		c->closed = 1;
		return 0;
	default:
		return 0;
	}
}

static void ch_open(struct chstate *c, uint32_t id, struct mux_open *o)
{
	struct mux_data d;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->rx_window = o->window;
	c->credit_at = o->window / 4;
	mc_check(mux_put_open(&mc.out, id, o), "OPEN");
	while (!c->opened)
		ch_next(c, &d);
}

static void ch_send(struct chstate *c, const void *p, size_t n)
{
	struct mux_data d;

	while (c->tx_window < n) {
		ch_next(c, &d);
		if (c->closed)
			fail("channel closed while sending");
	}
	c->tx_window -= n;
	mc_check(mux_put_data(&mc.out, c->id, MUX_STREAM_MAIN, p, n), "DATA");
	mc_flush();
}

/* Close the channel and wait for the agent's CLOSE. */
static void ch_close(struct chstate *c)
{
	struct mux_data d;

	phase = "close";
	mc_check(mux_put_close(&mc.out, c->id), "CLOSE");
	mc_flush();
	while (!c->closed)
		ch_next(c, &d);
}

/* Slide `got` bytes into a bounded scan buffer; true once READY was seen. */
static int scan_ready(char *scan, size_t *have, const void *got, size_t n)
{
	size_t keep;

	if (n > SCAN_MAX / 2) {
		got = (const char *)got + n - SCAN_MAX / 2;
		n = SCAN_MAX / 2;
	}
	if (*have + n > SCAN_MAX) {
		/* keep a short tail: READY may straddle two reads */
		keep = *have < 8 ? *have : 8;
		memmove(scan, scan + *have - keep, keep);
		*have = keep;
	}
	memcpy(scan + *have, got, n);
	*have += n;
	return memmem(scan, *have, READY, strlen(READY)) != NULL;
}

/* ---- modes ---- */

static void mode_rtt_agent(const char *sock, long n, long warm)
{
	static char scan[SCAN_MAX + 1];
	struct mux_open o;
	struct chstate c;
	struct mux_data d;
	int64_t *s, t0;
	size_t have = 0;
	uint8_t b;
	long i;

	s = calloc((size_t)n, sizeof(*s));
	if (!s)
		fail("out of memory");
	mc_connect(sock);
	phase = "open shell";
	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_SHELL;
	o.window = MUX_DEFAULT_WINDOW;
	o.term = mux_cstr("xterm");
	o.has_size = 1;
	o.rows = 24;
	o.cols = 80;
	ch_open(&c, 1, &o);
	phase = "raw cat";
	ch_send(&c, RTT_SETUP, strlen(RTT_SETUP));
	for (;;) {
		if (ch_next(&c, &d) && scan_ready(scan, &have, d.p, d.len))
			break;
		if (c.closed || c.exited)
			fail("shell ended before READY");
	}
	phase = "round trips";
	for (i = 0; i < warm + n; i++) {
		b = (uint8_t)('a' + i % 26);
		t0 = fig_now_ns();
		ch_send(&c, &b, 1);
		for (;;) {
			if (ch_next(&c, &d))
				break;
			if (c.closed || c.exited)
				fail("shell ended during the round trips");
		}
		if (d.len != 1 || d.p[0] != b)
			fail("echo mismatch at %ld: sent %c, got %u bytes", i, b, d.len);
		if (i >= warm)
			s[i - warm] = fig_now_ns() - t0;
	}
	ch_close(&c);
	fig_print_rtt(s, n);
	free(s);
}

static void mode_bulk_agent(const char *sock, uint64_t bytes, uint32_t window)
{
	char count[32];
	struct mux_open o;
	struct chstate c;
	struct mux_data d;
	uint64_t got = 0;
	int64_t t_start, t_first = 0, t_end = 0;

	mc_connect(sock);
	phase = "open exec";
	snprintf(count, sizeof(count), "%llu", (unsigned long long)bytes);
	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_EXEC;
	o.window = window;
	o.argv[0] = mux_cstr("head");
	o.argv[1] = mux_cstr("-c");
	o.argv[2] = mux_cstr(count);
	o.argv[3] = mux_cstr("/dev/zero");
	o.nargv = 4;
	t_start = fig_now_ns();
	ch_open(&c, 2, &o);
	phase = "bulk";
	while (!c.closed) {
		if (ch_next(&c, &d) && d.stream == MUX_STREAM_STDOUT) {
			if (got == 0)
				t_first = fig_now_ns();
			got += d.len;
		}
		if (c.eof_out && !t_end)
			t_end = fig_now_ns();
	}
	mc_check(mux_put_close(&mc.out, c.id), "CLOSE");
	mc_flush();
	if (!c.exited || c.exit.how != MUX_EXIT_CODE || c.exit.value != 0)
		fail("head did not exit 0");
	if (got != bytes)
		fail("got %llu bytes, expected %llu", (unsigned long long)got,
		     (unsigned long long)bytes);
	if (!t_end)
		t_end = fig_now_ns();
	fig_print_bulk(got, t_start, t_first, t_end);
}

/* Start argv with pipes on stdin (or /dev/null) and stdout. */
static pid_t spawn(char **argv, int *in_fd, int *out_fd)
{
	int pin[2] = { -1, -1 }, pout[2];
	pid_t pid;

	if ((in_fd && pipe2(pin, O_CLOEXEC) < 0) || pipe2(pout, O_CLOEXEC) < 0)
		fail("pipe: %s", strerror(errno));
	/* A wide pipe saves the child write calls; best effort. */
	(void)fcntl(pout[1], F_SETPIPE_SZ, 1 << 20);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(in_fd ? pin[0] : null, 0);
		dup2(pout[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (in_fd) {
		close(pin[0]);
		*in_fd = pin[1];
		set_nonblock(*in_fd);
	}
	close(pout[1]);
	*out_fd = pout[0];
	set_nonblock(*out_fd);
	child = pid;
	return pid;
}

/* Reap the child within the deadline; returns its wait status. */
static int reap(pid_t pid)
{
	struct timespec ts = { 0, 5000000 };
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			child = -1;
			return st;
		}
		if (r < 0 && errno != EINTR)
			fail("waitpid: %s", strerror(errno));
		if (fig_now_ns() > deadline)
			fail("child %d did not exit", (int)pid);
		nanosleep(&ts, NULL);
	}
}

/* Start argv on a new pty (its controlling tty); returns the master. */
static pid_t spawn_pty(char **argv, int *master)
{
	const char *slave;
	pid_t pid;
	int m, sfd;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || (slave = ptsname(m)) == NULL)
		fail("pty: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		setsid();
		sfd = open(slave, O_RDWR); /* first tty opened after setsid: controlling */
		if (sfd < 0)
			_exit(127);
		dup2(sfd, 0);
		dup2(sfd, 1);
		dup2(sfd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	set_nonblock(m);
	*master = m;
	child = pid;
	return pid;
}

/* The echo loop over a child's input and output fds (the same fd for a pty). */
static void rtt_child(pid_t pid, int in, int out, long n, long warm)
{
	static char scan[SCAN_MAX + 1];
	uint8_t rb[64], b;
	int64_t *s, t0;
	size_t have = 0, got;
	long i;

	s = calloc((size_t)n, sizeof(*s));
	if (!s)
		fail("out of memory");
	phase = "raw cat";
	for (;;) {
		got = read_some(out, rb, sizeof(rb));
		if (got == 0)
			fail("command ended before READY");
		if (scan_ready(scan, &have, rb, got))
			break;
	}
	phase = "round trips";
	for (i = 0; i < warm + n; i++) {
		b = (uint8_t)('a' + i % 26);
		t0 = fig_now_ns();
		write_all(in, &b, 1);
		got = read_some(out, rb, sizeof(rb));
		if (got != 1 || rb[0] != b)
			fail("echo mismatch at %ld: sent %c, got %zu bytes", i, b, got);
		if (i >= warm)
			s[i - warm] = fig_now_ns() - t0;
	}
	phase = "stop";
	close(in);
	if (out != in)
		close(out);
	kill(pid, SIGTERM);
	reap(pid);
	fig_print_rtt(s, n);
	free(s);
}

static void mode_rtt_cmd(char **argv, long n, long warm)
{
	int in, out;
	pid_t pid;

	phase = "spawn";
	pid = spawn(argv, &in, &out);
	rtt_child(pid, in, out, n, warm);
}

static void mode_rtt_pty(char **argv, long n, long warm)
{
	int m;
	pid_t pid;

	phase = "spawn";
	pid = spawn_pty(argv, &m);
	rtt_child(pid, m, m, n, warm);
}

static void mode_bulk_cmd(char **argv, uint64_t bytes)
{
	static uint8_t rb[IN_BUF];
	uint64_t got = 0;
	int64_t t_start, t_first = 0, t_end;
	size_t n;
	int out, st;
	pid_t pid;

	phase = "spawn";
	t_start = fig_now_ns();
	pid = spawn(argv, NULL, &out);
	phase = "bulk";
	while ((n = read_some(out, rb, sizeof(rb))) > 0) {
		if (got == 0)
			t_first = fig_now_ns();
		got += n;
	}
	t_end = fig_now_ns();
	st = reap(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("command failed (status 0x%x)", st);
	if (got != bytes)
		fail("got %llu bytes, expected %llu", (unsigned long long)got,
		     (unsigned long long)bytes);
	fig_print_bulk(got, t_start, t_first, t_end);
}

/* ---- arguments ---- */

static long num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		fail("bad %s: %s", what, s);
	return (long)v;
}

static void usage(void)
{
	fprintf(stderr, "usage: agent_bench [-t SECS] rtt SOCK N WARMUP\n"
			"       agent_bench [-t SECS] bulk SOCK BYTES WINDOW\n"
			"       agent_bench [-t SECS] rtt-cmd N WARMUP -- CMD...\n"
			"       agent_bench [-t SECS] rtt-pty N WARMUP -- CMD...\n"
			"       agent_bench [-t SECS] bulk-cmd BYTES -- CMD...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long secs = 60;
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		secs = num_arg(argv[2], 1, 86400, "deadline");
		i = 3;
	}
	deadline = fig_now_ns() + (int64_t)secs * 1000000000;
	if (argc - i < 2)
		usage();
	const char *mode = argv[i];
	if (strcmp(mode, "rtt") == 0 && argc - i == 4) {
		mode_rtt_agent(argv[i + 1], num_arg(argv[i + 2], 1, RTT_MAX_N, "N"),
			       num_arg(argv[i + 3], 0, RTT_MAX_N, "WARMUP"));
	} else if (strcmp(mode, "bulk") == 0 && argc - i == 4) {
		mode_bulk_agent(argv[i + 1], (uint64_t)num_arg(argv[i + 2], 1, 1L << 40, "BYTES"),
				(uint32_t)num_arg(argv[i + 3], 4, MUX_MAX_WINDOW, "WINDOW"));
	} else if (strcmp(mode, "rtt-cmd") == 0 && argc - i >= 5 &&
		   strcmp(argv[i + 3], "--") == 0) {
		mode_rtt_cmd(argv + i + 4, num_arg(argv[i + 1], 1, RTT_MAX_N, "N"),
			     num_arg(argv[i + 2], 0, RTT_MAX_N, "WARMUP"));
	} else if (strcmp(mode, "rtt-pty") == 0 && argc - i >= 5 &&
		   strcmp(argv[i + 3], "--") == 0) {
		mode_rtt_pty(argv + i + 4, num_arg(argv[i + 1], 1, RTT_MAX_N, "N"),
			     num_arg(argv[i + 2], 0, RTT_MAX_N, "WARMUP"));
	} else if (strcmp(mode, "bulk-cmd") == 0 && argc - i >= 4 &&
		   strcmp(argv[i + 2], "--") == 0) {
		mode_bulk_cmd(argv + i + 3, (uint64_t)num_arg(argv[i + 1], 1, 1L << 40, "BYTES"));
	} else {
		usage();
	}
	return 0;
}
