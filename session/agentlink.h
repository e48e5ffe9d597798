/*
 * agentlink.h - hearthd's one connection per VM to the VM's agent (through
 * the keeper's relay, <vmdir>/agent.sock), shared by every shell, exec and
 * proxy channel of that VM. Everything runs on hearthd's event-loop thread.
 *
 * Contract for channel owners (shellhub, execchan, proxy):
 *
 *  - agentlink_open() gets (or starts) the VM's link and queues an OPEN for
 *    a fresh channel id. It never blocks: while the VM is being resumed
 *    (lifecycle_request_resume) or the relay connected and greeted (HELLO),
 *    the OPEN waits in the link's queue. It returns a handle, or NULL with
 *    a reason (no memory, too many channels, VM cannot be resumed).
 *  - Every handle is released by exactly one agentlink_close(), at any time,
 *    also from inside one of its own callbacks. It sends CLOSE to the agent
 *    when the channel may still be live (the link keeps the id until the
 *    agent's CLOSE comes back). After agentlink_close() no callback names
 *    the handle again.
 *  - ops->frame gets every agent frame for the channel except WINDOW, which
 *    the link consumes: OPEN_OK, OPEN_FAIL, DATA, EOF, EXIT, CLOSE, ERROR.
 *    The owner decodes with protocol/mux.h (mux_decode_*); f->payload is
 *    valid only during the call. After OPEN_FAIL or CLOSE the channel is
 *    dead on the agent's side: the owner should agentlink_close() it.
 *  - ops->down: the link died (connect or resume failed or timed out, the
 *    relay connection ended because the VM was suspended, terminated or the
 *    keeper went away, or the agent broke the protocol). reason is short
 *    text for a client. The channel is dead; the owner must still call
 *    agentlink_close() (no CLOSE is sent then).
 *  - ops->writable: agentlink_send_room() may have grown (the agent granted
 *    WINDOW on this channel, or the link's output queue drained).
 *  - Flow control towards the agent: DATA goes only within the agent's
 *    window for the channel, which the link tracks (OPEN_OK's window plus
 *    WINDOW increments) and within the link's bounded output queue;
 *    agentlink_send_room() is what may be sent now. DATA past it is refused
 *    (-1, nothing queued). Before OPEN_OK the room is 0.
 *  - Flow control from the agent: the owner grants `window` in
 *    agentlink_open (1..AGENTLINK_WINDOW_MAX) and returns credit with
 *    agentlink_window() as it consumes output. The link sends it on once a
 *    quarter of the window has gathered (so an echoed keystroke costs the
 *    agent no extra wakeup), never holding back enough to stall the agent.
 *    The sum over a link's
 *    channels stays below what the relay buffers for one client (1.8).
 *  - Control frames (WINDOW, RESIZE, SIGNAL, EOF, CLOSE) use a reserve of
 *    the output queue DATA cannot fill, so they are only refused (-1) when
 *    the link is down or the queue is truly stuck.
 *  - The link closes itself when its last channel is closed (after the
 *    agent's CLOSE for each id, or AGENTLINK_LINGER_MS).
 */
#ifndef HEARTH_AGENTLINK_H
#define HEARTH_AGENTLINK_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/mux.h"
#include "session/hearthd.h"

/* Open channels per VM. Through the relay, their windows together must stay
 * below what it buffers for one client (1.8); the direct stream has no such
 * bound (the agent holds its own output back), only hearthd's memory. */
#define AGENTLINK_MAX_CHANS 60
#define AGENTLINK_MAX_CHANS_DIRECT 256
#define AGENTLINK_WINDOW_MAX (256u * 1024)       /* largest window a channel may grant */
#define AGENTLINK_OUT_MAX (1024u * 1024)         /* frames queued to the agent */
#define AGENTLINK_CTL_RESERVE (64u * 1024)       /* of which DATA may not use */
#define AGENTLINK_RESUME_MS 180000               /* longest wait for an auto-resumed VM */
#define AGENTLINK_HELLO_MS 30000                 /* longest wait for the relay's HELLO */
#define AGENTLINK_LINGER_MS 5000                 /* wait for the agent's CLOSEs at the end */

struct agentlink_chan;

struct agentlink_ops {
	void (*frame)(void *owner, const struct mux_frame *f);
	void (*down)(void *owner, const char *reason);
	void (*writable)(void *owner);
};

/* Called once by ingress_start: the link's lws vhost. rx_batch(1) runs before
 * and rx_batch(0) after the frames of each read from an agent are handed out
 * (the ingress then writes what they produced at once). 0 or -1 with err. */
int agentlink_init(struct hearthd *hd, void (*rx_batch)(int begin), char *err, size_t errlen);

/*
 * Open a channel of o->kind on vm_id's agent (o->window is clamped to
 * AGENTLINK_WINDOW_MAX; the OPEN is encoded now, so o's strings need not
 * outlive the call). NULL with err when it cannot even be queued.
 */
struct agentlink_chan *agentlink_open(struct hearthd *hd, const char *vm_id,
				      const struct mux_open *o, const struct agentlink_ops *ops,
				      void *owner, char *err, size_t errlen);
void agentlink_close(struct agentlink_chan *c);

/*
 * For a keep-alive pool of upstream connections (uppool.h): 1 when c is open
 * and neither side has ended it, on a link that is up; the most channels
 * c's link takes (AGENTLINK_MAX_CHANS*); agentlink_rebind hands c to a new
 * owner (its callbacks go to ops/owner from now on).
 */
int agentlink_reusable(const struct agentlink_chan *c);
unsigned agentlink_chan_limit(const struct agentlink_chan *c);
void agentlink_rebind(struct agentlink_chan *c, const struct agentlink_ops *ops, void *owner);

/* The agent's channel id on the link (for logs), and its pid from OPEN_OK (0 before). */
uint32_t agentlink_id(const struct agentlink_chan *c);

/* DATA bytes (stream 0) that agentlink_data() accepts now. */
size_t agentlink_send_room(const struct agentlink_chan *c);
/* Queue DATA (split into frames as needed); 0, or -1 (nothing queued) past the room. */
int agentlink_data(struct agentlink_chan *c, const void *p, size_t n);
/* Send as much of b as the room allows (consumed from b); how many bytes went. */
size_t agentlink_data_from(struct agentlink_chan *c, struct buf *b);
/* Return output credit to the agent (sent once a quarter of the window gathered). */
int agentlink_window(struct agentlink_chan *c, uint32_t incr);
int agentlink_resize(struct agentlink_chan *c, uint16_t rows, uint16_t cols);
int agentlink_signal(struct agentlink_chan *c, uint8_t signo);
int agentlink_eof(struct agentlink_chan *c);

/*
 * agentlink_cork(1) ... agentlink_cork(0) (nestable, same event-loop turn):
 * frames queued in between go to each agent in one send at the outermost
 * agentlink_cork(0) instead of one send per frame, so a client's read of
 * many requests costs one write and one wake-up of the agent. Nothing else
 * changes: room, windows and order are those of the queue.
 */
void agentlink_cork(int on);

#endif
