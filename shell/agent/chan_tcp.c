/*
 * chan_tcp.c - relay a channel to a TCP port inside the guest. The connect
 * is non-blocking; OPEN_OK (or OPEN_FAIL) goes out only when it completes.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int chan_tcp_addr(const struct mux_open *o, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[MUX_MAX_HOST + 1] = "127.0.0.1";
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (o->host.p != NULL && o->host.len > 0) {
		memcpy(host, o->host.p, o->host.len);
		host[o->host.len] = 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(o->port);
		*len = sizeof(*in4);
		return MUX_OK;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(o->port);
		*len = sizeof(*in6);
		return MUX_OK;
	}
	return MUX_E_PROTO;
}

static int chan_tcp_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
		    size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (chan_tcp_addr(o, &ss, &len) != MUX_OK) {
		snprintf(err, errlen, "host is not a numeric address");
		return MUX_E_PROTO;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return MUX_E_CONNECT;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return MUX_E_CONNECT;
	}
	chan_set_fd(a, c, 0, fd, MUX_STREAM_MAIN, 1);
	/* Wait for EPOLLOUT (or an error) before looking at the result. */
	c->connecting = 1;
	c->fds[0].readable = c->fds[0].writable = 0;
	agent_rearm(a, fd, &c->fds[0].src, EV_OUT);
	return MUX_OK;
}

void chan_tcp_connected(struct agent *a, struct chan *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	uint32_t id = c->id;
	struct conn *conn = c->conn;

	if (getsockopt(c->fds[0].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	c->connecting = 0;
	if (soerr != 0) {
		chan_destroy(a, c);
		if (mux_put_fail(&conn->out, MUX_OPEN_FAIL, id, MUX_E_CONNECT, strerror(soerr)))
			log_msg("%s: queue full: OPEN_FAIL for channel %u dropped", conn->name, id);
		return;
	}
	c->fds[0].readable = 1;
	agent_rearm(a, c->fds[0].fd, &c->fds[0].src, EV_BASE);
	chan_send_open_ok(a, c);
}

static void chan_tcp_host_eof(struct agent *a, struct chan *c)
{
	shutdown(c->fds[0].fd, SHUT_WR);
}

const struct chan_kind_ops chan_tcp_ops = {
	.open = chan_tcp_open,
	.resize = NULL,
	.signal = NULL,
	.host_eof = chan_tcp_host_eof,
	.terminate = NULL,
};
