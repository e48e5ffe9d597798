/* muxconn.c - client end of an agent stream; see muxconn.h. */
#include "shell/client/muxconn.h"
#include "vmm/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MUXCONN_OUT_MAX (4u * 1024 * 1024)

int muxconn_open(struct muxconn *c, const char *addr)
{
	struct sockaddr_un sa;
	const char *path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : addr;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c->rdr = malloc(sizeof(*c->rdr));
	if (c->rdr == NULL)
		return -ENOMEM;
	mux_reader_init(c->rdr);
	buf_init(&c->out, MUXCONN_OUT_MAX);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		muxconn_close(c);
		return -e;
	}
	return 0;
}

void muxconn_close(struct muxconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->out);
	free(c->rdr);
	c->rdr = NULL;
}

int muxconn_flush(struct muxconn *c)
{
	while (buf_used(&c->out) > 0) {
		ssize_t n = send(c->fd, buf_ptr(&c->out), buf_used(&c->out), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

int muxconn_next(struct muxconn *c, int may_read, struct mux_frame *f)
{
	size_t used;
	int rc;

	for (;;) {
		if (c->in_off < c->in_len) {
			rc = mux_reader_feed(c->rdr, c->in + c->in_off, c->in_len - c->in_off, &used, f);
			c->in_off += used;
			if (rc != MUX_AGAIN)
				return rc;
		}
		if (!may_read)
			return MUX_AGAIN;
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
		if (n == 0)
			return MUXCONN_EOF;
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? MUX_AGAIN : MUXCONN_IOERR;
		c->in_len = (size_t)n;
		c->in_off = 0;
		may_read = 0; /* one read per call keeps the caller's loop fair */
	}
}

int muxconn_hello(struct muxconn *c, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = clock_ms() + timeout_ms;
	struct mux_frame f;
	struct mux_hello h;
	int rc;

	if (mux_put_hello(&c->out, MUX_HELLO_F_HOST, 0, "hearth/0.1") != MUX_OK ||
	    muxconn_flush(c) != 0) {
		snprintf(err, errlen, "cannot send hello");
		return -1;
	}
	for (;;) {
		int64_t left = deadline - clock_ms();
		struct pollfd p = { c->fd, POLLIN, 0 };

		if (left <= 0) {
			snprintf(err, errlen, "agent did not answer hello within %d ms", timeout_ms);
			return -1;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		while ((rc = muxconn_next(c, 1, &f)) == MUX_OK || rc < 0) {
			if (rc == MUXCONN_EOF || rc == MUXCONN_IOERR) {
				snprintf(err, errlen, "agent closed the connection");
				return -1;
			}
			if (rc == MUX_OK && f.hdr.type == MUX_HELLO) {
				if (mux_decode_hello(&f, &h) != MUX_OK) {
					snprintf(err, errlen, "malformed hello from agent");
					return -1;
				}
				return 0;
			}
		}
	}
}
