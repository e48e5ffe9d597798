/*
 * uppool.h - idle HTTP/1.1 connections to applications, kept for the next
 * request (as nghttpx keeps its backend connections): agent tcp channels
 * whose last exchange ended cleanly, per VM and port. h2srv's HTTP/1.1
 * upstream takes one for a request instead of opening a channel (an OPEN
 * round trip and a new TCP connection to the app) and puts it back when the
 * response ended with the connection still good.
 *
 * A channel is only ever reused for the same VM and port (the stream was
 * authorized for that VM before it asks). An idle channel on which anything
 * arrives (the app closed, sent bytes unasked, the link went down) is closed
 * and forgotten; so is one idle past UPPOOL_IDLE_MS (shorter than common app
 * keep-alive timeouts, e.g. Node's 5 s, so the app rarely closes first).
 */
#ifndef HEARTH_UPPOOL_H
#define HEARTH_UPPOOL_H

#include "session/agentlink.h"
#include "session/hearthd.h"

#define UPPOOL_IDLE_MS 2000
#define UPPOOL_PER_KEY 128 /* idle channels per VM and port */

/* An idle channel to vm_id:port, now the caller's (agentlink_rebind it), or NULL. */
struct agentlink_chan *uppool_take(const char *vm_id, unsigned port);
/* Keep c (open, clean, agentlink_reusable) for vm_id:port; closes it when it
 * cannot be kept. The caller no longer owns c. */
void uppool_put(struct hearthd *hd, struct agentlink_chan *c, const char *vm_id, unsigned port);
/* Idle channels kept now (tests, logs). */
unsigned uppool_count(void);

#endif
