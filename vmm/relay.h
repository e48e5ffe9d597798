/*
 * relay.h - pass the agent stream through a unix listener (hearth-vm only).
 *
 * One client at a time; a new connection replaces the old one (like the
 * agent's own listen mode). Frames cross whole in both directions: a client
 * that leaves mid-frame never leaves half a frame in the agent's stream, and
 * the next client always starts at a frame boundary. Agent frames that
 * arrive with no client connected are dropped (the agent protocol says a new
 * HELLO starts a session; in-flight bytes are lost and channels stay alive).
 */
#ifndef HEARTH_RELAY_H
#define HEARTH_RELAY_H

#include <limits.h>
#include <poll.h>
#include <stdint.h>

#include "protocol/buf.h"
#include "protocol/mux.h"

#define RELAY_NFDS 3

struct relay {
	int lfd, cfd, afd;
	char path[PATH_MAX];
	int agent_eof;
	/* agent -> client */
	uint8_t ahdr[MUX_HDR_LEN];
	size_t ahlen;
	uint64_t aleft; /* payload bytes of the current frame still to pass */
	int adrop;      /* current frame is being dropped */
	struct buf to_client;
	/* client -> agent */
	struct buf from_client; /* incomplete frame */
	struct buf to_agent;    /* whole frames waiting to be written */
};

int relay_open(struct relay *r, const char *path, int agent_fd, char *err, size_t errlen);
/* Fill pfd[0..RELAY_NFDS-1]. */
void relay_poll_fds(struct relay *r, struct pollfd *pfd);
/* Handle poll results; returns -1 when the agent side closed (VM gone). */
int relay_handle(struct relay *r, const struct pollfd *pfd);
/* Close the listener (removing its socket file) and any client; not the agent fd. */
void relay_close(struct relay *r);

#endif
