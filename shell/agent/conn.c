/*
 * conn.c - the host stream. Listen mode accepts one unix-socket connection
 * at a time (a new one replaces the old); device mode opens a character
 * device (virtio console) and reopens it after EOF, EIO or hangup. Either
 * way a new stream starts with an empty queue and a fresh frame reader;
 * channels live on, and the host's HELLO starts a new session with them.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int conn_init(struct agent *a)
{
	struct conn *c = &a->conn;

	c->src.type = SRC_CONN;
	c->fd = -1;
	c->rd = malloc(sizeof(*c->rd));
	if (c->rd == NULL)
		return -1;
	mux_reader_init(c->rd);
	buf_init(&c->out, OUT_MAX);
	return 0;
}

struct buf *conn_out(struct agent *a)
{
	return &a->conn.out;
}

int conn_ready(const struct agent *a)
{
	return a->conn.fd >= 0 && a->conn.hello;
}

void conn_error(struct agent *a, uint32_t ch, int code, const char *msg)
{
	log_debug("error on channel %u: %s (%s)", ch, msg ? msg : "", mux_strerror(code));
	if (mux_put_fail(&a->conn.out, MUX_ERROR, ch, code, msg ? msg : mux_strerror(code)))
		log_msg("queue full: ERROR for channel %u dropped", ch);
}

static void conn_drop(struct agent *a)
{
	struct conn *c = &a->conn;

	if (c->fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->hello = 0;
	c->readable = c->writable = c->hup = 0;
	c->raw_off = c->raw_len = 0;
	mux_reader_init(c->rd);
	buf_reset(&c->out);
}

static void conn_attach(struct agent *a, int fd)
{
	struct conn *c = &a->conn;

	conn_drop(a);
	c->fd = fd;
	c->readable = c->writable = 1;
	if (agent_watch(a, fd, &c->src, EV_BASE) < 0) {
		log_msg("epoll add: %s", strerror(errno));
		conn_drop(a);
	}
}

static void conn_lost(struct agent *a, const char *why)
{
	log_debug("host stream ended: %s", why);
	conn_drop(a);
	if (a->device)
		a->conn.reopen_at = agent_now_ms() + REOPEN_MS;
}

int conn_listen(struct agent *a, const char *path)
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
	snprintf(a->listen_path, sizeof(a->listen_path), "%s", path);
	a->listen_src.type = SRC_LISTEN;
	a->listen_fd = fd;
	a->listen_ready = 1;
	return agent_watch(a, fd, &a->listen_src, EV_BASE);
}

void conn_accept(struct agent *a)
{
	int fd;

	while (a->listen_ready) {
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_msg("accept: %s", strerror(errno));
			a->listen_ready = 0;
			break;
		}
		log_debug("host connected");
		conn_attach(a, fd); /* the newest connection wins */
	}
}

/* The virtio-serial port named AGENT_PORT_NAME ("/dev/vportNpM"), if any. */
static int conn_find_port(char *path, size_t cap)
{
	char name[128], want[] = AGENT_PORT_NAME "\n";
	struct dirent *e;
	int found = 0, seen = 0;
	DIR *d = opendir("/sys/class/virtio-ports");
	ssize_t n;
	int fd;

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
		if (n == (ssize_t)strlen(want) && memcmp(name, want, (size_t)n) == 0) {
			snprintf(path, cap, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/*
 * "auto": a plain virtio-serial port named hearth.agent (QEMU throttles those
 * when the host is slow; a virtconsole drops data instead), else /dev/hvc0.
 * A console port's /dev/vport node refuses open() with ENXIO.
 */
static int conn_open_path(struct agent *a, char *path, size_t cap)
{
	int fd;

	if (strcmp(a->device, AGENT_DEVICE_AUTO) != 0) {
		snprintf(path, cap, "%s", a->device);
		return open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	}
	if (conn_find_port(path, cap)) {
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	snprintf(path, cap, "%s", AGENT_DEVICE_CONSOLE);
	return open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

int conn_open_device(struct agent *a)
{
	char path[300];
	struct termios t;
	int fd;

	fd = conn_open_path(a, path, sizeof(path));
	if (fd < 0) {
		log_debug("open %s: %s", path, strerror(errno));
		a->conn.reopen_at = agent_now_ms() + REOPEN_MS;
		return -1;
	}
	log_debug("serving on %s", path);
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
	a->conn.reopen_at = 0;
	conn_attach(a, fd);
	return 0;
}

void conn_check_reopen(struct agent *a, int64_t now)
{
	if (a->device && a->conn.fd < 0 && a->conn.reopen_at && now >= a->conn.reopen_at)
		conn_open_device(a);
}

void conn_session_start(struct agent *a)
{
	if (mux_put_hello(&a->conn.out, 0, 0, AGENT_SOFTWARE))
		log_msg("queue full: HELLO dropped");
	a->conn.hello = 1;
	chan_session_reset(a);
	log_debug("host session started");
}

/* Refill the raw buffer; returns 1 if bytes arrived, 0 if none, -1 if the stream ended. */
static int conn_fill(struct agent *a)
{
	struct conn *c = &a->conn;
	ssize_t n;

	for (;;) {
		n = read(c->fd, c->raw, sizeof(c->raw));
		if (n > 0) {
			c->raw_off = 0;
			c->raw_len = (size_t)n;
			/* On a socket a short read drained the fd and new bytes raise
			 * a new edge. Not on a device: a virtio port returns one
			 * queued buffer per read and raises no edge for the rest. */
			if ((size_t)n < sizeof(c->raw) && !c->hup && !a->device)
				c->readable = 0;
			return 1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = 0;
			return 0;
		}
		conn_lost(a, n == 0 ? "end of stream" : strerror(errno));
		return -1;
	}
}

int conn_process_input(struct agent *a)
{
	struct conn *c = &a->conn;
	struct mux_frame f;
	char msg[96];
	size_t used;
	int progress = 0, rc;

	while (c->fd >= 0 && buf_used(&c->out) < OUT_CTL_HIGH) {
		if (c->raw_off == c->raw_len) {
			if (!c->readable || conn_fill(a) <= 0)
				break;
			progress = 1;
		}
		rc = mux_reader_feed(c->rd, c->raw + c->raw_off, c->raw_len - c->raw_off, &used, &f);
		c->raw_off += used;
		if (rc == MUX_OK) {
			msg_dispatch(a, &f);
			progress = 1;
		} else if (rc < 0) {
			/* The reader already skips the payload: report and go on. */
			snprintf(msg, sizeof(msg), "frame refused (type 0x%02x, length %u): %s",
				 f.hdr.type, f.hdr.length, mux_strerror(rc));
			conn_error(a, 0, rc, msg);
			progress = 1;
		}
	}
	return progress;
}

int conn_flush(struct agent *a)
{
	struct conn *c = &a->conn;
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
			conn_lost(a, n == 0 ? "write returned 0" : strerror(errno));
			return 1;
		}
	}
	if (c->fd >= 0 && buf_used(&c->out) == 0)
		agent_rearm(a, c->fd, &c->src, EV_BASE);
	return progress;
}
