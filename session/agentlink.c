/*
 * agentlink.c - one relay connection per VM shared by all its channels;
 * see agentlink.h for the contract. The relay socket is adopted as a raw
 * lws connection on a non-listening vhost of its own.
 *
 * Owners may release channels from inside their callbacks, so nothing is
 * freed while a callback runs: released channels and dead links are swept
 * when the outermost entry point returns (depth counts the nesting).
 */
#include "session/agentlink.h"

#include <fcntl.h>
#include <libwebsockets.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "session/keeper.h"
#include "session/lifecycle.h"

#define AL_PROTO "hearth-agentlink"
#define AL_POLL_MS 200            /* resume checks */
#define AL_SOFTWARE "hearthd-agentlink/1"
/* hearthd's channel ids: below the relay's own (from 0x80000000) and above
 * what other clients pick (hearth attach uses its pid), so a new hearthd can
 * tell the orphans its predecessor left (al_reap_orphans) from others'. */
#define AL_MIN_ID 0x40000000u
#define AL_MAX_ID 0x7fffffffu
#define AL_LIST_CTL 1u            /* CTL id of the LIST sent at link up */
#define AL_CONNECT_RETRY_MS 5000  /* a RUNNING VM's relay must accept by then */

enum al_state { AL_WAIT_VM, AL_HELLO, AL_UP, AL_DOWN };

struct agentlink;

struct agentlink_chan {
	struct agentlink *l;
	struct agentlink_chan *next;
	uint32_t id, pid;
	const struct agentlink_ops *ops;
	void *owner;
	uint64_t send_window;
	uint32_t grant, credit; /* the window we granted; credit consumed, not yet sent */
	uint8_t open_ok, agent_closed, host_closed, released, dead;
	uint8_t quiet; /* DNS: its traffic is not activity for the idle policy */
};

struct agentlink {
	struct hearthd *hd;
	struct agentlink *next;
	char vm_id[128];
	enum al_state st;
	struct lws *wsi;
	struct mux_reader *rdr;
	struct buf out;
	int64_t deadline_ms, connect_fail_ms;
	lws_sorted_usec_list_t sul;
	struct agentlink_chan *chans;
	uint32_t next_id;
	int listed;  /* in the links list (new opens may join it) */
	int blocked; /* DATA was refused for queue room: tell owners on drain */
	int closing; /* no channels left: close once the queue is written */
	int direct;  /* on the agent's direct stream (PROTOCOL.md 1.9), not the relay */
	int corked;  /* frames queued while corked: on al_corked_links */
	struct agentlink *cork_next;
	int64_t traffic_ms; /* last time traffic was reported to the idle timer */
	char reason[128];
};

static struct lws_vhost *al_vhost;
static void (*al_rx_batch)(int begin);
static struct agentlink *al_links;
static int al_depth;
static int al_cork;                       /* agentlink_cork nesting */
static struct agentlink *al_corked_links; /* links with frames held by the cork */

static void al_tick(lws_sorted_usec_list_t *sul);

/*
 * Where a new link starts numbering: a random point of the range. The relay
 * hides an orphan whose id one of our own channels also uses (and gives that
 * channel another agent id), so reusing the dead hearthd's ids would hide its
 * orphans from al_reap_orphans; a random start makes that vanishingly rare.
 */
static uint32_t al_first_id(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)hd_now_ms();
	return AL_MIN_ID + r % (AL_MAX_ID - AL_MIN_ID);
}

static void al_unlist(struct agentlink *l)
{
	if (!l->listed)
		return;
	for (struct agentlink **pp = &al_links; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	l->listed = 0;
}

static int al_live_chans(const struct agentlink *l)
{
	int n = 0;
	for (const struct agentlink_chan *c = l->chans; c; c = c->next)
		n++;
	return n;
}

static void al_uncork_remove(struct agentlink *l)
{
	if (!l->corked)
		return;
	for (struct agentlink **pp = &al_corked_links; *pp; pp = &(*pp)->cork_next)
		if (*pp == l) {
			*pp = l->cork_next;
			break;
		}
	l->corked = 0;
}

static void al_free(struct agentlink *l)
{
	al_unlist(l);
	al_uncork_remove(l);
	lws_sul_cancel(&l->sul);
	buf_free(&l->out);
	free(l->rdr);
	free(l);
}

/* Agent traffic keeps the VM awake, as the relay's did. */
static void al_note_traffic(struct agentlink *l)
{
	lifecycle_note_traffic_every(l->hd->lc, l->vm_id, &l->traffic_ms);
}

/*
 * Write the queue now, as far as the socket takes it; the rest waits for
 * WRITEABLE. Writing at once rather than on the next turn of the event loop
 * takes that turn off every keystroke's way to the agent. lws never writes
 * this socket itself (no lws_write), so it holds nothing we could overtake.
 */
static void al_send_now(struct agentlink *l, int note)
{
	if (note)
		al_note_traffic(l);
	if (al_cork) {
		/* One send for all of the batch's frames (agentlink_cork). */
		if (!l->corked) {
			l->corked = 1;
			l->cork_next = al_corked_links;
			al_corked_links = l;
		}
		return;
	}
	int fd = lws_get_socket_fd(l->wsi);
	while (buf_used(&l->out)) {
		ssize_t n = send(fd, buf_ptr(&l->out), buf_used(&l->out), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break; /* EAGAIN: WRITEABLE; a dead socket: lws reports the close */
		buf_consume(&l->out, (size_t)n);
	}
	if (buf_used(&l->out))
		lws_callback_on_writable(l->wsi);
}

void agentlink_cork(int on)
{
	if (on) {
		al_cork++;
		return;
	}
	if (al_cork <= 0 || --al_cork > 0)
		return;
	while (al_corked_links) {
		struct agentlink *l = al_corked_links;
		al_corked_links = l->cork_next;
		l->corked = 0;
		if (!l->wsi)
			continue;
		if (buf_used(&l->out))
			al_send_now(l, 0);
		/* An owner refused for room while corked hears of the drain
		 * from WRITEABLE (al_drained), as it would have uncorked. */
		if (l->blocked)
			lws_callback_on_writable(l->wsi);
	}
}

static void al_kick(struct agentlink *l)
{
	if (l->wsi && buf_used(&l->out))
		al_send_now(l, 1);
}

/* The same for a quiet channel's frames: not activity (PROTOCOL.md 1.10). */
static void al_kick_chan(struct agentlink_chan *c)
{
	if (c->l->wsi && buf_used(&c->l->out))
		al_send_now(c->l, !c->quiet);
}

/* Free released channels whose ids are done with, and links with nothing left. */
static void al_sweep_link(struct agentlink *l)
{
	for (struct agentlink_chan **pp = &l->chans; *pp;) {
		struct agentlink_chan *c = *pp;
		/* Before the link connects nothing of a released channel was sent. */
		if (c->released && (c->dead || c->agent_closed || l->st == AL_DOWN ||
				    l->st == AL_WAIT_VM)) {
			*pp = c->next;
			free(c);
		} else
			pp = &c->next;
	}
	if (l->chans)
		return;
	/* A direct link stays up while the VM runs: the next shell or exec opens
	 * at once, without a new connection and HELLO. */
	if (l->direct && l->st != AL_DOWN)
		return;
	if (l->st == AL_DOWN) {
		if (!l->wsi)
			al_free(l);
		return;
	}
	/* Idle: close once what is queued (the last CLOSEs) is written. */
	if (!l->closing) {
		l->closing = 1;
		al_unlist(l);
		if (l->wsi)
			lws_callback_on_writable(l->wsi);
		else {
			l->st = AL_DOWN;
			al_free(l);
		}
	}
}

/* Sweep one link that may be off the list (down or closing). */
static void al_leave_link(struct agentlink *l)
{
	int unlisted = !l->listed;
	if (--al_depth > 0)
		return;
	if (unlisted)
		al_sweep_link(l);
	for (struct agentlink *k = al_links, *n; k; k = n) {
		n = k->next;
		al_sweep_link(k);
	}
}

/* The link is dead: every channel owner hears it once. */
static void al_down(struct agentlink *l, const char *reason)
{
	if (l->st == AL_DOWN)
		return;
	l->st = AL_DOWN;
	snprintf(l->reason, sizeof l->reason, "%s", reason);
	al_unlist(l);
	lws_sul_cancel(&l->sul);
	if (l->wsi) {
		/* Closed from its own callback or by a timeout below. */
		lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	al_depth++;
	for (struct agentlink_chan *c = l->chans; c; c = c->next) {
		if (c->released || c->dead)
			continue;
		c->dead = 1;
		c->ops->down(c->owner, l->reason);
	}
	al_leave_link(l);
}

static int al_connect(struct agentlink *l)
{
	char vmdir[PATH_MAX];
	if ((size_t)snprintf(vmdir, sizeof vmdir, "%s/vms/%s", l->hd->cfg.state_dir, l->vm_id) >=
	    sizeof vmdir)
		return -1;
	/* The agent's direct stream when the VM has one (no relay hop: about
	 * two wakeups less per round trip), else the keeper's relay. */
	l->direct = 1;
	int fd = keeper_direct_connect(vmdir);
	if (fd < 0) {
		l->direct = 0;
		fd = keeper_agent_connect(vmdir, 0);
	}
	if (fd < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	lws_sock_file_fd_type sfd;
	sfd.sockfd = fd;
	l->wsi = lws_adopt_descriptor_vhost(al_vhost, LWS_ADOPT_SOCKET, sfd, AL_PROTO, NULL);
	if (!l->wsi)
		return -1; /* lws closed the descriptor */
	lws_set_opaque_user_data(l->wsi, l);
	l->st = AL_HELLO;
	l->deadline_ms = hd_now_ms() + AGENTLINK_HELLO_MS;
	al_kick(l);
	return 0;
}

/* Timer: wait for the VM to run, then for the relay's HELLO. */
static void al_tick(lws_sorted_usec_list_t *sul)
{
	struct agentlink *l = lws_container_of(sul, struct agentlink, sul);
	if (l->st == AL_DOWN)
		return;
	if (l->st == AL_UP) {
		/* Linger over: forget released ids the agent never confirmed. */
		for (struct agentlink_chan *c = l->chans; c; c = c->next)
			if (c->released)
				c->dead = 1;
		al_depth++;
		al_leave_link(l);
		return;
	}
	if (l->st == AL_WAIT_VM) {
		int rc = lifecycle_request_resume(l->hd->lc, l->vm_id);
		if (rc < 0) {
			al_down(l, "microVM is not running and cannot be resumed automatically");
			return;
		}
		/* Just resumed, the keeper may not listen yet: retry a little. */
		if (rc == 1 && al_connect(l) < 0) {
			if (!l->connect_fail_ms)
				l->connect_fail_ms = hd_now_ms();
			if (hd_now_ms() - l->connect_fail_ms > AL_CONNECT_RETRY_MS) {
				al_down(l, "cannot reach the microVM's agent");
				return;
			}
		}
	}
	if (hd_now_ms() > l->deadline_ms) {
		al_down(l, l->st == AL_WAIT_VM ? "microVM did not resume in time"
					       : "the microVM's agent did not answer in time");
		return;
	}
	lws_sul_schedule(l->hd->lws, 0, &l->sul, al_tick, AL_POLL_MS * LWS_US_PER_MS);
}

static struct agentlink *al_get(struct hearthd *hd, const char *vm_id, int *fresh)
{
	*fresh = 0;
	for (struct agentlink *l = al_links; l; l = l->next)
		if (!strcmp(l->vm_id, vm_id) && l->st != AL_DOWN && !l->closing)
			return l;
	if (strlen(vm_id) >= sizeof al_links->vm_id)
		return NULL;
	struct agentlink *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->rdr = malloc(sizeof *l->rdr);
	if (!l->rdr) {
		free(l);
		return NULL;
	}
	mux_reader_init(l->rdr);
	l->hd = hd;
	snprintf(l->vm_id, sizeof l->vm_id, "%s", vm_id);
	buf_init(&l->out, AGENTLINK_OUT_MAX);
	mux_put_hello(&l->out, MUX_HELLO_F_HOST, 0, AL_SOFTWARE);
	l->st = AL_WAIT_VM;
	l->deadline_ms = hd_now_ms() + AGENTLINK_RESUME_MS;
	l->next_id = al_first_id();
	l->next = al_links;
	al_links = l;
	l->listed = 1;
	*fresh = 1;
	return l;
}

static int al_id_used(const struct agentlink *l, uint32_t id)
{
	for (const struct agentlink_chan *c = l->chans; c; c = c->next)
		if (c->id == id)
			return 1;
	return 0;
}

struct agentlink_chan *agentlink_open(struct hearthd *hd, const char *vm_id,
				      const struct mux_open *o, const struct agentlink_ops *ops,
				      void *owner, char *err, size_t errlen)
{
	int fresh;
	struct agentlink *l = al_get(hd, vm_id, &fresh);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct agentlink_chan *c = NULL;
	/* Before the link connects it is not known which stream it gets: a burst
	 * then may pass the relay's limit (only VMs from older snapshots use it). */
	int relay = l->st != AL_WAIT_VM && !l->direct;
	if (al_live_chans(l) >= (relay ? AGENTLINK_MAX_CHANS : AGENTLINK_MAX_CHANS_DIRECT)) {
		snprintf(err, errlen, "too many channels to this microVM");
		goto fail;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	do {
		c->id = l->next_id++;
		if (l->next_id > AL_MAX_ID || l->next_id < AL_MIN_ID)
			l->next_id = AL_MIN_ID;
	} while (al_id_used(l, c->id));
	struct mux_open oo = *o; /* shallow: the strings are encoded below */
	if (oo.window == 0 || oo.window > AGENTLINK_WINDOW_MAX)
		oo.window = AGENTLINK_WINDOW_MAX;
	c->grant = oo.window;
	if (buf_room(&l->out) < AGENTLINK_CTL_RESERVE ||
	    mux_put_open(&l->out, c->id, &oo) != MUX_OK) {
		snprintf(err, errlen, "the microVM's agent is not keeping up");
		goto fail;
	}
	c->l = l;
	c->ops = ops;
	c->owner = owner;
	c->quiet = o->kind == MUX_KIND_DNS;
	c->next = l->chans;
	l->chans = c;
	/* A new link looks at the VM from the event loop, so a failure reaches
	 * the owner through down() after this call has returned. */
	if (fresh)
		lws_sul_schedule(hd->lws, 0, &l->sul, al_tick, 1);
	al_kick_chan(c);
	return c;
fail:
	free(c);
	if (!l->chans) {
		al_unlist(l);
		al_free(l);
	}
	return NULL;
}

void agentlink_close(struct agentlink_chan *c)
{
	if (!c || c->released)
		return;
	struct agentlink *l = c->l;
	c->released = 1;
	if (l->st != AL_DOWN && !c->dead && !c->host_closed) {
		mux_put_close(&l->out, c->id);
		c->host_closed = 1;
		al_kick(l);
	}
	al_depth++;
	if (l->st == AL_UP && !c->dead && !c->agent_closed)
		lws_sul_schedule(l->hd->lws, 0, &l->sul, al_tick,
				 AGENTLINK_LINGER_MS * LWS_US_PER_MS);
	al_leave_link(l);
}

int agentlink_reusable(const struct agentlink_chan *c)
{
	const struct agentlink *l = c->l;
	return l->st == AL_UP && l->wsi && !l->closing && c->open_ok && !c->agent_closed &&
	       !c->host_closed && !c->released && !c->dead;
}

unsigned agentlink_chan_limit(const struct agentlink_chan *c)
{
	return c->l->direct ? AGENTLINK_MAX_CHANS_DIRECT : AGENTLINK_MAX_CHANS;
}

void agentlink_rebind(struct agentlink_chan *c, const struct agentlink_ops *ops, void *owner)
{
	c->ops = ops;
	c->owner = owner;
}

uint32_t agentlink_id(const struct agentlink_chan *c)
{
	return c->id;
}

size_t agentlink_send_room(const struct agentlink_chan *c)
{
	const struct agentlink *l = c->l;
	if (l->st == AL_DOWN || c->dead || c->released || !c->open_ok || c->agent_closed)
		return 0;
	size_t room = buf_room(&l->out);
	if (room <= AGENTLINK_CTL_RESERVE)
		return 0;
	room -= AGENTLINK_CTL_RESERVE;
	/* Frame headers: one per MUX_MAX_DATA bytes. */
	size_t frames = room / (MUX_MAX_DATA + MUX_HDR_LEN + 1) + 1;
	room = room > frames * (MUX_HDR_LEN + 1) ? room - frames * (MUX_HDR_LEN + 1) : 0;
	return room < c->send_window ? room : (size_t)c->send_window;
}

int agentlink_data(struct agentlink_chan *c, const void *p, size_t n)
{
	if (n > agentlink_send_room(c)) {
		if (c->l->st != AL_DOWN)
			c->l->blocked = 1;
		return -1;
	}
	const uint8_t *b = p;
	while (n) {
		size_t k = n > MUX_MAX_DATA ? MUX_MAX_DATA : n;
		if (mux_put_data(&c->l->out, c->id, MUX_STREAM_MAIN, b, k) != MUX_OK)
			return -1; /* cannot happen within the room computed above */
		b += k;
		n -= k;
		c->send_window -= k;
	}
	al_kick_chan(c);
	return 0;
}

size_t agentlink_data_from(struct agentlink_chan *c, struct buf *b)
{
	size_t n = buf_used(b), room = agentlink_send_room(c);
	if (n > room)
		n = room;
	if (!n || agentlink_data(c, buf_ptr(b), n) != 0)
		return 0;
	buf_consume(b, n);
	return n;
}

static int al_ctl_ok(const struct agentlink_chan *c)
{
	return c->l->st != AL_DOWN && !c->dead && !c->released && !c->host_closed;
}

int agentlink_window(struct agentlink_chan *c, uint32_t incr)
{
	if (!al_ctl_ok(c) || c->agent_closed || incr == 0 || incr > c->grant - c->credit)
		return -1;
	/* Batched: the agent stalls only when all of the grant is unreturned,
	 * and then at least three quarters of it wait here to be consumed, so
	 * what is held back below a quarter can never be what it waits for. */
	c->credit += incr;
	if (c->credit < c->grant / 4)
		return 0;
	if (mux_put_window(&c->l->out, c->id, c->credit) != MUX_OK)
		return -1;
	c->credit = 0;
	al_kick_chan(c);
	return 0;
}

int agentlink_resize(struct agentlink_chan *c, uint16_t rows, uint16_t cols)
{
	struct mux_resize rz = { rows, cols, 0, 0 };
	if (!al_ctl_ok(c) || mux_put_resize(&c->l->out, c->id, &rz) != MUX_OK)
		return -1;
	al_kick(c->l);
	return 0;
}

int agentlink_signal(struct agentlink_chan *c, uint8_t signo)
{
	if (!al_ctl_ok(c) || mux_put_signal(&c->l->out, c->id, signo) != MUX_OK)
		return -1;
	al_kick(c->l);
	return 0;
}

int agentlink_eof(struct agentlink_chan *c)
{
	if (!al_ctl_ok(c) || mux_put_eof(&c->l->out, c->id, MUX_STREAM_MAIN) != MUX_OK)
		return -1;
	al_kick(c->l);
	return 0;
}

static struct agentlink_chan *al_find(struct agentlink *l, uint32_t id)
{
	for (struct agentlink_chan *c = l->chans; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/*
 * The LIST answer at link up: close every orphan in hearthd's id range (a
 * shell or proxy channel of a hearthd that died, whose client state died
 * with it), so its process does not live on in the guest. Each is adopted
 * by the CLOSE (PROTOCOL.md 1.8) and held as a released channel until the
 * agent's CLOSE frees the id.
 */
static void al_reap_orphans(struct agentlink *l, const struct mux_frame *f)
{
	struct mux_ctl_resp r;
	struct mux_chan_info ci;
	uint32_t n;
	if (mux_decode_ctl_resp(f, &r) != MUX_OK || r.id != AL_LIST_CTL || r.status != 0 ||
	    mux_decode_list(r.body, r.bodylen, &n) != MUX_OK)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (mux_decode_list_entry(r.body, r.bodylen, i, &ci) != MUX_OK)
			return;
		if (ci.id < AL_MIN_ID || ci.id > AL_MAX_ID || al_find(l, ci.id))
			continue;
		struct agentlink_chan *c = calloc(1, sizeof *c);
		if (!c || mux_put_close(&l->out, ci.id) != MUX_OK) {
			free(c);
			return;
		}
		c->l = l;
		c->id = ci.id;
		c->open_ok = c->released = c->host_closed = 1;
		c->next = l->chans;
		l->chans = c;
		lws_sul_schedule(l->hd->lws, 0, &l->sul, al_tick, AGENTLINK_LINGER_MS * LWS_US_PER_MS);
	}
	al_kick(l);
}

/* One frame from the relay; -1 breaks the link. */
static int al_frame(struct agentlink *l, const struct mux_frame *f)
{
	struct mux_hello h;
	struct mux_open_ok ok;
	uint32_t incr;
	if (f->hdr.channel == 0) {
		if (f->hdr.type == MUX_HELLO) {
			if (mux_decode_hello(f, &h) != MUX_OK)
				return -1;
			if (l->st == AL_HELLO) {
				l->st = AL_UP;
				lws_sul_cancel(&l->sul);
				mux_put_ctl_req(&l->out, AL_LIST_CTL, MUX_CTL_LIST, NULL, 0);
				al_kick(l);
			}
		} else if (f->hdr.type == MUX_CTL_RESP) {
			al_reap_orphans(l, f);
		}
		/* PONG and ERROR on channel 0 ask nothing of us. */
		return 0;
	}
	struct agentlink_chan *c = al_find(l, f->hdr.channel);
	if (!c || c->dead)
		return 0;
	if (!c->quiet)
		al_note_traffic(l);
	switch (f->hdr.type) {
	case MUX_WINDOW:
		if (mux_decode_window(f, &incr) != MUX_OK)
			return -1;
		c->send_window += incr;
		if (c->send_window > MUX_MAX_WINDOW)
			c->send_window = MUX_MAX_WINDOW;
		if (!c->released)
			c->ops->writable(c->owner);
		return 0;
	case MUX_OPEN_OK:
		if (mux_decode_open_ok(f, &ok) != MUX_OK)
			return -1;
		c->open_ok = 1;
		c->pid = ok.pid;
		c->send_window = ok.window;
		break;
	case MUX_OPEN_FAIL:
		c->dead = 1; /* the id was never opened */
		break;
	case MUX_CLOSE:
		c->agent_closed = 1;
		break;
	default:
		break;
	}
	if (!c->released)
		c->ops->frame(c->owner, f);
	return 0;
}

/* Output queue drained below half: owners refused for room may go on. */
static void al_drained(struct agentlink *l)
{
	if (!l->blocked || buf_used(&l->out) > AGENTLINK_OUT_MAX / 2)
		return;
	l->blocked = 0;
	for (struct agentlink_chan *c = l->chans; c; c = c->next)
		if (!c->released && !c->dead)
			c->ops->writable(c->owner);
}

static int al_writeable(struct agentlink *l, struct lws *wsi)
{
	if (l->st == AL_DOWN)
		return -1;
	/* What is queued was counted (or not) when it was queued. */
	if (buf_used(&l->out))
		al_send_now(l, 0);
	al_depth++;
	al_drained(l);
	al_leave_link(l);
	if (buf_used(&l->out))
		return 0; /* al_send_now asked for WRITEABLE */
	if (l->closing && !l->chans)
		return -1;
	return 0;
}

static int al_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	struct agentlink *l = lws_get_opaque_user_data(wsi);
	struct mux_frame f;
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX: {
		size_t off = 0, used;
		if (!l || l->st == AL_DOWN)
			return 0;
		int rc = 0;
		if (al_rx_batch)
			al_rx_batch(1);
		agentlink_cork(1); /* window updates of the read's frames: one send */
		al_depth++;
		while (off < len && l->st != AL_DOWN) {
			int r = mux_reader_feed(l->rdr, (const uint8_t *)in + off, len - off, &used,
						&f);
			off += used;
			if (r == MUX_AGAIN)
				break;
			if (r < 0 || al_frame(l, &f) < 0) {
				al_down(l, "the microVM's agent broke the protocol");
				rc = -1;
				break;
			}
		}
		al_leave_link(l);
		agentlink_cork(0);
		if (al_rx_batch)
			al_rx_batch(0);
		return rc;
	}
	case LWS_CALLBACK_RAW_WRITEABLE:
		return l ? al_writeable(l, wsi) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		if (!l)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		l->wsi = NULL;
		if (l->st != AL_DOWN)
			al_down(l, "lost the connection to the microVM's agent");
		else {
			al_depth++;
			al_leave_link(l);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols al_protocols[] = {
	{ AL_PROTO, al_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int agentlink_init(struct hearthd *hd, void (*rx_batch)(int begin), char *err, size_t errlen)
{
	/* Called by the ingress and by the SSH ingress: one vhost, the ingress's batch hook. */
	if (rx_batch)
		al_rx_batch = rx_batch;
	if (al_vhost)
		return 0;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.vhost_name = "agentlink";
	info.protocols = al_protocols;
	al_vhost = lws_create_vhost(hd->lws, &info);
	if (!al_vhost) {
		snprintf(err, errlen, "cannot create the agent-link vhost");
		return -1;
	}
	return 0;
}
