/*
 * chan_ident.c - the identity channel (kind 6): hearthd opens one per host
 * session; its input and output are one end of a socketpair whose other end
 * the identity socket (identity.c) writes requests into and reads answers
 * out of. So the channel gets the windows and queueing every channel has.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int chan_ident_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
			 size_t errlen)
{
	int sv[2];

	(void)o;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return MUX_E_LIMIT;
	}
	if (ident_attach(a, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "no identity socket in this agent");
		return MUX_E_UNSUPPORTED;
	}
	chan_set_fd(a, c, 0, sv[0], MUX_STREAM_MAIN, 1);
	return MUX_OK;
}

static void chan_ident_host_eof(struct agent *a, struct chan *c)
{
	(void)a;
	shutdown(c->fds[0].fd, SHUT_WR);
}

const struct chan_kind_ops chan_ident_ops = {
	.open = chan_ident_open,
	.resize = NULL,
	.signal = NULL,
	.host_eof = chan_ident_host_eof,
	.terminate = NULL,
};
