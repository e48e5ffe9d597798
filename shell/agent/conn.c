/*
 * conn.c - the host streams. Each stream (main, direct) is served in listen
 * mode (one unix-socket connection at a time, a new one replaces the old)
 * or device mode (a character device). A new connection starts with an
 * empty queue and a fresh frame reader, and the host's HELLO starts a
 * session. When a session ends the main stream's channels live on (a later
 * HELLO resumes them); the direct stream's end with it (PROTOCOL.md 1.9).
 *
 * Device mode differs per stream: the main device is closed and reopened
 * after EOF, EIO or hangup; the direct device (a virtio-serial port) stays
 * open, since a port reports EPOLLHUP and read() == 0 while its host side is
 * disconnected and EPOLLIN once a host connects and sends.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static const char *const conn_names[CONN_COUNT] = {
	[CONN_MAIN] = "main",
	[CONN_DIRECT] = "direct",
};

int conn_init(struct agent *a)
{
	for (int i = 0; i < CONN_COUNT; i++) {
		struct conn *c = &a->conns[i];

		c->src.type = SRC_CONN;
		c->id = (uint8_t)i;
		c->direct = i == CONN_DIRECT;
		c->name = conn_names[i];
		c->fd = -1;
		c->listen_fd = -1;
		c->rd = malloc(sizeof(*c->rd));
		if (c->rd == NULL)
			return -1;
		mux_reader_init(c->rd);
		buf_init(&c->out, OUT_MAX);
	}
	return 0;
}

/* The stream an epoll registration belongs to (SRC_CONN or SRC_LISTEN). */
struct conn *conn_of_src(struct src *s)
{
	if (s->type == SRC_LISTEN)
		return (struct conn *)((char *)s - offsetof(struct conn, listen_src));
	return (struct conn *)s;
}

int conn_ready(const struct conn *c)
{
	return c->fd >= 0 && c->hello;
}

void conn_error(struct conn *c, uint32_t ch, int code, const char *msg)
{
	log_debug("%s: error on channel %u: %s (%s)", c->name, ch, msg ? msg : "",
		  mux_strerror(code));
	if (mux_put_fail(&c->out, MUX_ERROR, ch, code, msg ? msg : mux_strerror(code)))
		log_msg("%s: queue full: ERROR for channel %u dropped", c->name, ch);
}

/*
 * The host session is over: what was queued for it and any partly read frame
 * are dropped; on the direct stream its channels end too (no orphans).
 */
static void conn_session_end(struct agent *a, struct conn *c)
{
	if (c->direct && chan_count(a, c) > 0) {
		log_debug("%s: session ended: ending its channels", c->name);
		chan_end_stream(a, c);
	}
	c->hello = 0;
	c->raw_off = c->raw_len = 0;
	mux_reader_init(c->rd);
	buf_reset(&c->out);
}

static void conn_drop(struct agent *a, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->readable = c->writable = c->hup = 0;
	conn_session_end(a, c);
}

static void conn_attach(struct agent *a, struct conn *c, int fd)
{
	conn_drop(a, c);
	c->fd = fd;
	c->readable = c->writable = 1;
	if (agent_watch(a, fd, &c->src, EV_BASE) < 0) {
		log_msg("%s: epoll add: %s", c->name, strerror(errno));
		conn_drop(a, c);
	}
}

/* The direct device's host side is disconnected: keep the port, wait for an edge. */
static int conn_direct_device(const struct conn *c)
{
	return c->direct && c->mode == CONN_DEVICE;
}

/* End of stream (read() == 0). */
static void conn_hangup(struct agent *a, struct conn *c)
{
	log_debug("%s: host stream ended", c->name);
	if (conn_direct_device(c)) {
		conn_session_end(a, c);
		c->readable = c->hup = 0;
		return;
	}
	conn_drop(a, c);
	if (c->mode == CONN_DEVICE)
		c->reopen_at = agent_now_ms() + REOPEN_MS;
}

/* A read or write error: the main device is reopened, the direct one is not. */
static void conn_failed(struct agent *a, struct conn *c, const char *why)
{
	if (conn_direct_device(c)) {
		log_msg("%s: device failed (%s): closed, not reopened", c->name, why);
		conn_drop(a, c);
		return;
	}
	log_debug("%s: host stream ended: %s", c->name, why);
	conn_drop(a, c);
	if (c->mode == CONN_DEVICE)
		c->reopen_at = agent_now_ms() + REOPEN_MS;
}

int conn_listen(struct agent *a, struct conn *c, const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	snprintf(c->listen_path, sizeof(c->listen_path), "%s", path);
	c->listen_src.type = SRC_LISTEN;
	c->listen_fd = fd;
	c->listen_ready = 1;
	return agent_watch(a, fd, &c->listen_src, EV_BASE);
}

void conn_accept(struct agent *a, struct conn *c)
{
	int fd;

	while (c->listen_ready) {
		fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_msg("%s: accept: %s", c->name, strerror(errno));
			c->listen_ready = 0;
			break;
		}
		log_debug("%s: host connected", c->name);
		conn_attach(a, c, fd); /* the newest connection wins */
	}
}

/* The virtio-serial port with this name ("/dev/vportNpM"), if any. */
static int conn_find_port(const char *port, char *path, size_t cap)
{
	char name[128], want[64];
	struct dirent *e;
	int found = 0, seen = 0;
	DIR *d;
	ssize_t n;
	int fd, wlen = snprintf(want, sizeof(want), "%s\n", port);

	if (wlen < 0 || (size_t)wlen >= sizeof(want))
		return 0;
	d = opendir("/sys/class/virtio-ports");
	if (d == NULL)
		return 0;
	while (!found && seen++ < 256 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strlen(e->d_name) > 32)
			continue;
		snprintf(name, sizeof(name), "/sys/class/virtio-ports/%s/name", e->d_name);
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n == (ssize_t)wlen && memcmp(name, want, (size_t)n) == 0) {
			snprintf(path, cap, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

static int conn_open_rw(const char *path)
{
	return open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

/*
 * "auto" on the main stream: a plain virtio-serial port named hearth.agent
 * (QEMU throttles those when the host is slow; a virtconsole drops data
 * instead), else /dev/hvc0. A console port's /dev/vport node refuses open()
 * with ENXIO. "auto" on the direct stream: the port named hearth.direct,
 * else none (ENOENT).
 */
static int conn_open_path(const struct conn *c, char *path, size_t cap)
{
	int fd;

	if (strcmp(c->device, AGENT_DEVICE_AUTO) != 0) {
		snprintf(path, cap, "%s", c->device);
		return conn_open_rw(path);
	}
	if (conn_find_port(c->direct ? AGENT_DIRECT_PORT_NAME : AGENT_PORT_NAME, path, cap)) {
		fd = conn_open_rw(path);
		if (fd >= 0 || c->direct)
			return fd;
	}
	if (c->direct) {
		snprintf(path, cap, "port %s", AGENT_DIRECT_PORT_NAME);
		errno = ENOENT;
		return -1;
	}
	snprintf(path, cap, "%s", AGENT_DEVICE_CONSOLE);
	return conn_open_rw(path);
}

/*
 * Open the stream's device. The main device is retried every REOPEN_MS
 * until it opens; the direct device is not (auto: no hearth.direct port
 * means no direct stream).
 */
int conn_open_device(struct agent *a, struct conn *c)
{
	char path[300];
	struct termios t;
	int fd;

	fd = conn_open_path(c, path, sizeof(path));
	if (fd < 0) {
		if (c->direct) {
			log_debug("%s: open %s: %s: no direct stream", c->name, path, strerror(errno));
			return -1;
		}
		log_debug("%s: open %s: %s", c->name, path, strerror(errno));
		c->reopen_at = agent_now_ms() + REOPEN_MS;
		return -1;
	}
	log_debug("%s: serving on %s", c->name, path);
	/*
	 * A console is a tty: no echo, no line editing, no CR/NL mapping. What
	 * arrived before raw mode may have been cooked (or echoed): drop it;
	 * the host repeats HELLO when it gets no answer.
	 */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
		tcflush(fd, TCIOFLUSH);
	}
	c->reopen_at = 0;
	conn_attach(a, c, fd);
	return 0;
}

void conn_check_reopen(struct agent *a, int64_t now)
{
	for (int i = 0; i < CONN_COUNT; i++) {
		struct conn *c = &a->conns[i];

		if (c->mode == CONN_DEVICE && c->fd < 0 && c->reopen_at && now >= c->reopen_at)
			conn_open_device(a, c);
	}
}

/*
 * The host's HELLO. On the main stream live channels carry over into the
 * new session (PROTOCOL.md 1.4 rule 2); on the direct stream a new HELLO
 * means a new host that will not reattach: its predecessor's channels end.
 */
void conn_session_start(struct agent *a, struct conn *c)
{
	if (c->direct && chan_count(a, c) > 0) {
		log_debug("%s: new session: ending the old session's channels", c->name);
		chan_end_stream(a, c);
	}
	/* MUX_HELLO_F_DIRECT tells the keeper that hearthd may use the direct
	 * stream (an agent without one never answers there). */
	uint16_t flags = a->conns[CONN_DIRECT].mode != CONN_OFF ? MUX_HELLO_F_DIRECT : 0;
	if (mux_put_hello(&c->out, flags, MUX_FEATURE_FILES, AGENT_SOFTWARE))
		log_msg("%s: queue full: HELLO dropped", c->name);
	c->hello = 1;
	chan_session_reset(a, c);
	log_debug("%s: host session started", c->name);
}

/* Refill the raw buffer; returns 1 if bytes arrived, 0 if none, -1 if the stream ended. */
static int conn_fill(struct agent *a, struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = read(c->fd, c->raw, sizeof(c->raw));
		if (n > 0) {
			c->raw_off = 0;
			c->raw_len = (size_t)n;
			/* On a socket a short read drained the fd and new bytes raise
			 * a new edge. Not on a device: a virtio port returns one
			 * queued buffer per read and raises no edge for the rest. */
			if ((size_t)n < sizeof(c->raw) && !c->hup && c->mode != CONN_DEVICE)
				c->readable = 0;
			return 1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = 0;
			return 0;
		}
		if (n == 0)
			conn_hangup(a, c);
		else
			conn_failed(a, c, strerror(errno));
		return -1;
	}
}

int conn_process_input(struct agent *a, struct conn *c)
{
	struct mux_frame f;
	char msg[96];
	size_t used;
	int progress = 0, rc;

	/*
	 * A virtio port reports EPOLLHUP only while its host side is
	 * disconnected: the session is over even before read() says so. What
	 * is still queued from the departed host is read next and cannot
	 * outlive the read() == 0 that follows it.
	 */
	if (c->hup && conn_direct_device(c) && c->fd >= 0) {
		c->hup = 0;
		conn_session_end(a, c);
		progress = 1;
	}
	while (c->fd >= 0 && buf_used(&c->out) < OUT_CTL_HIGH) {
		if (c->raw_off == c->raw_len) {
			if (!c->readable || conn_fill(a, c) <= 0)
				break;
			progress = 1;
		}
		rc = mux_reader_feed(c->rd, c->raw + c->raw_off, c->raw_len - c->raw_off, &used, &f);
		c->raw_off += used;
		if (rc == MUX_OK) {
			msg_dispatch(a, c, &f);
			progress = 1;
		} else if (rc < 0) {
			/* The reader already skips the payload: report and go on. */
			snprintf(msg, sizeof(msg), "frame refused (type 0x%02x, length %u): %s",
				 f.hdr.type, f.hdr.length, mux_strerror(rc));
			conn_error(c, 0, rc, msg);
			progress = 1;
		}
	}
	return progress;
}

/*
 * Write the queue. A virtio port whose host is disconnected refuses writes
 * with EAGAIN: wait for EPOLLOUT like any blocked writer (no spinning); the
 * session end that comes with the hangup discards the queue anyway.
 */
int conn_flush(struct agent *a, struct conn *c)
{
	int progress = 0;
	ssize_t n;

	while (c->fd >= 0 && c->writable && buf_used(&c->out) > 0) {
		n = write(c->fd, buf_ptr(&c->out), buf_used(&c->out));
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			progress = 1;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			c->writable = 0;
			agent_rearm(a, c->fd, &c->src, EV_OUT);
		} else {
			conn_failed(a, c, n == 0 ? "write returned 0" : strerror(errno));
			return 1;
		}
	}
	if (c->fd >= 0 && buf_used(&c->out) == 0)
		agent_rearm(a, c->fd, &c->src, EV_BASE);
	return progress;
}

/* At exit: remove the listening sockets' paths. */
void conn_shutdown(struct agent *a)
{
	for (int i = 0; i < CONN_COUNT; i++)
		if (a->conns[i].listen_path[0])
			unlink(a->conns[i].listen_path);
}
