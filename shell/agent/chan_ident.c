/*
 * chan_ident.c - the identity channel (kind 6): hearthd opens one per host
 * session; its input and output are one end of a socketpair whose other end
 * the identity socket (identity.c) writes requests into and reads answers
 * out of. So the channel gets the windows and queueing every channel has.
 */
#include "agent.h"

static int chan_ident_open(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
			 size_t errlen)
{
	(void)o;
	return chan_socketpair_open(a, c, ident_attach, "identity socket", err, errlen);
}

const struct chan_kind_ops chan_ident_ops = {
	.open = chan_ident_open,
	.resize = NULL,
	.signal = NULL,
	.host_eof = chan_socketpair_host_eof,
	.terminate = NULL,
};
