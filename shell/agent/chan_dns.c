/*
 * chan_dns.c - the DNS channel (kind 5): hearthd opens one per host
 * session; its input and output are one end of a socketpair whose other end
 * the stub (dns.c) reads queries into and answers out of. So the channel
 * gets the windows and queueing every channel has, and the stub stays a
 * plain fd user.
 */
#include "agent.h"

static int chan_dns_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
			 size_t errlen)
{
	(void)o;
	return chan_socketpair_open(a, c, dns_attach, "DNS stub", err, errlen);
}

const struct chan_kind_ops chan_dns_ops = {
	.open = chan_dns_open,
	.resize = NULL,
	.signal = NULL,
	.host_eof = chan_socketpair_host_eof,
	.terminate = NULL,
};
