/*
 * chan_dns.c - the DNS channel (kind 5): hearthd opens one per host
 * session; its input and output are one end of a socketpair whose other end
 * the stub (dns.c) reads queries into and answers out of. So the channel
 * gets the windows and queueing every channel has, and the stub stays a
 * plain fd user.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int chan_dns_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
			 size_t errlen)
{
	int sv[2];

	(void)o;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return MUX_E_LIMIT;
	}
	if (dns_attach(a, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "no DNS stub in this agent");
		return MUX_E_UNSUPPORTED;
	}
	chan_set_fd(a, c, 0, sv[0], MUX_STREAM_MAIN, 1);
	return MUX_OK;
}

static void chan_dns_host_eof(struct agent *a, struct chan *c)
{
	(void)a;
	shutdown(c->fds[0].fd, SHUT_WR);
}

const struct chan_kind_ops chan_dns_ops = {
	.open = chan_dns_open,
	.resize = NULL,
	.signal = NULL,
	.host_eof = chan_dns_host_eof,
	.terminate = NULL,
};
