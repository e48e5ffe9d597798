/*
 * agentctl.h - a minimal blocking client for the agent's control channel
 * (HELLO and CTL requests of protocol/mux.h) over the agent fd, with
 * deadlines. Engine-neutral: hearth-vm and hearthd use it right after
 * boot/restore, before handing the fd on.
 *
 * It reads whole frames only, so the stream stays in frame sync for whoever
 * takes the fd next; frames for other channels that arrive meanwhile are
 * appended to `pending` (when given) for the caller to pass on.
 */
#ifndef HEARTH_AGENTCTL_H
#define HEARTH_AGENTCTL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

#define AGENTCTL_ENTROPY 64   /* bytes of host randomness given after every restore */
#define AGENTCTL_ERR 512

struct agentctl_peer {
	uint16_t version;
	uint16_t flags;
	uint32_t features;
	char software[257];
};

/*
 * HELLO exchange with an agent that may still be booting: PING probes until
 * one is answered (the agent drops what reached its console before it made
 * it raw), then one HELLO. Use after boot.
 */
int agentctl_hello(int fd, int deadline_ms, struct agentctl_peer *peer, struct buf *pending,
		   char *err, size_t errlen);
/*
 * One CTL request; waits for its CTL_RESP. On success (status 0) the reply
 * body is copied into body (up to cap bytes, *bodylen set; body may be NULL).
 * A non-zero status is an error ("<op>: <mux_strerror>").
 */
int agentctl_ctl(int fd, uint8_t op, const void *arg, size_t arglen, int deadline_ms,
		 void *body, size_t cap, size_t *bodylen, struct buf *pending, char *err,
		 size_t errlen);
/*
 * Make a restored clone unique: HELLO (no probing: the agent is up), then
 * AGENTCTL_ENTROPY bytes from getrandom(2), the hostname (when not NULL) and
 * the host's wall clock. After a boot, call agentctl_hello first. peer (may
 * be NULL) gets what the agent's HELLO said.
 */
int agentctl_refresh(int fd, const char *hostname, int deadline_ms, struct agentctl_peer *peer,
		     struct buf *pending, char *err, size_t errlen);

#endif
