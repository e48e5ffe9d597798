/*
 * relay.h - share one VM's agent stream among many unix-socket clients.
 *
 * The relay holds the agent stream and serves up to RELAY_MAX_CLIENTS
 * clients on a unix listener; each client sees what looks like its own agent
 * (protocol/PROTOCOL.md section 1.8 is the contract):
 *  - HELLO and PING are answered by the relay itself (HELLO is optional);
 *  - channel ids and CTL request ids are per client: the relay maps them to
 *    agent ids (the client's own id when the agent has no such channel, else
 *    one from RELAY_AID_BASE up) and rewrites every frame's channel and CTL id;
 *  - CTL LIST replies show the client's own channels under its ids plus
 *    "orphans" (channels no client owns) under their agent ids; the first
 *    client to send a non-OPEN frame on an orphan's id adopts it;
 *  - a client that leaves orphans its channels (they stay alive in the agent);
 *  - clients are read only once the agent has listed its live channels (a
 *    restored snapshot's, a previous relay's), so an OPEN never reuses one.
 * Frames cross whole in both directions. The agent side is never blocked by
 * a client: a client whose output passes RELAY_CLIENT_OUT_MAX is disconnected.
 * Single-threaded: the caller polls the fds from relay_poll_fds and calls
 * relay_handle.
 */
#ifndef HEARTH_RELAY_H
#define HEARTH_RELAY_H

#include <limits.h>
#include <poll.h>
#include <stdint.h>

#include "protocol/buf.h"
#include "protocol/mux.h"

#define RELAY_MAX_CLIENTS 64
#define RELAY_MAX_CHANS 2048 /* agent allows 1024; slack for ids still closing */
#define RELAY_MAX_REQS 256   /* CTL requests in flight */
/* One channel's largest window plus room for headers and control replies, so
 * a client that keeps to flow control on one channel is never cut off. */
#define RELAY_CLIENT_OUT_MAX (MUX_MAX_WINDOW + 1024u * 1024)
#define RELAY_TO_AGENT_MAX (4u * 1024 * 1024)
#define RELAY_NFDS (2 + RELAY_MAX_CLIENTS)
#define RELAY_SOFTWARE "hearth-relay/1"
#define RELAY_AID_BASE 0x80000000u /* first agent id the relay hands out */

struct relay_client {
	int fd; /* -1: free slot */
	struct mux_reader *rd;
	struct buf out; /* whole frames waiting for the client */
};

/* One agent channel the relay knows of. */
struct relay_chan {
	uint32_t aid;   /* agent's id */
	uint32_t cid;   /* owner's id (meaningless for orphans) */
	int owner;      /* client slot, -1 for an orphan */
	uint8_t host_closed, agent_closed;
	uint8_t close_owed; /* the agent's CLOSE was dropped while orphaned */
};

/* One CTL request in flight to the agent. */
struct relay_req {
	uint32_t aid;  /* id on the agent stream */
	uint32_t cid;  /* the client's id */
	int owner;     /* client slot, -1 gone, RELAY_SELF the relay's own */
	uint8_t op;
};
#define RELAY_SELF (-2)

struct relay {
	int lfd, afd;
	char path[PATH_MAX];
	int agent_eof;
	/* The start LIST is unanswered: clients are not read yet, or an OPEN
	 * could take the id of a channel still live in the agent (EXISTS). */
	int listing;
	struct mux_reader *ard; /* agent -> relay */
	struct buf to_agent;    /* whole frames for the agent */
	struct relay_client cl[RELAY_MAX_CLIENTS];
	int nclients;
	struct relay_chan *ch; /* RELAY_MAX_CHANS entries, nch used (unordered) */
	int nch;
	struct relay_req req[RELAY_MAX_REQS];
	int nreq;
	uint32_t next_aid, next_req;
	int rr; /* client slot read first in the next round */
};

/*
 * Listen on path and take over agent_fd, whose stream must be at a frame
 * boundary with the agent's HELLO already exchanged (agentctl did it).
 */
int relay_open(struct relay *r, const char *path, int agent_fd, char *err, size_t errlen);
/* Fill pfd[0..RELAY_NFDS-1]. */
void relay_poll_fds(struct relay *r, struct pollfd *pfd);
/* Handle poll results; returns -1 when the agent side closed (VM gone). */
int relay_handle(struct relay *r, const struct pollfd *pfd);
/* Whether these poll results show client<->agent traffic (idle timers). */
int relay_busy(const struct relay *r, const struct pollfd *pfd);
/* Close the listener (removing its socket file) and all clients; not the agent fd. */
void relay_close(struct relay *r);

#endif
