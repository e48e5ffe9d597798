/* relay.c - one agent stream shared by many unix clients (see relay.h, PROTOCOL.md 1.8). */
#include "vmm/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FRAME_MAX (MUX_HDR_LEN + MUX_MAX_PAYLOAD)
#define READ_CHUNK 65536u
#define LIST_ENTRY 10u /* u32 id, u8 kind, u8 state, u32 pid */

/* ---- channel and request maps ---- */

static struct relay_chan *chan_by_aid(struct relay *r, uint32_t aid)
{
	for (int i = 0; i < r->nch; i++)
		if (r->ch[i].aid == aid)
			return &r->ch[i];
	return NULL;
}

static struct relay_chan *chan_by_cid(struct relay *r, int owner, uint32_t cid)
{
	for (int i = 0; i < r->nch; i++)
		if (r->ch[i].owner == owner && r->ch[i].cid == cid)
			return &r->ch[i];
	return NULL;
}

static struct relay_chan *chan_add(struct relay *r, uint32_t aid, int owner, uint32_t cid)
{
	if (r->nch >= RELAY_MAX_CHANS)
		return NULL;
	struct relay_chan *c = &r->ch[r->nch++];
	*c = (struct relay_chan){ .aid = aid, .cid = cid, .owner = owner };
	return c;
}

static void chan_free(struct relay *r, struct relay_chan *c)
{
	*c = r->ch[--r->nch];
}

/* A fresh agent id: never 0, never one the relay knows to be live. */
static uint32_t chan_alloc_aid(struct relay *r)
{
	do
		r->next_aid++;
	while (r->next_aid == 0 || chan_by_aid(r, r->next_aid));
	return r->next_aid;
}

static struct relay_req *req_add(struct relay *r, int owner, uint32_t cid, uint8_t op)
{
	if (r->nreq >= RELAY_MAX_REQS)
		return NULL;
	struct relay_req *q = &r->req[r->nreq++];
	*q = (struct relay_req){ .aid = ++r->next_req, .cid = cid, .owner = owner, .op = op };
	return q;
}

static int req_take(struct relay *r, uint32_t aid, struct relay_req *out)
{
	for (int i = 0; i < r->nreq; i++)
		if (r->req[i].aid == aid) {
			*out = r->req[i];
			r->req[i] = r->req[--r->nreq];
			return 0;
		}
	return -1;
}

/* ---- frame output ---- */

static int put_frame(struct buf *b, uint8_t type, uint32_t ch, const uint8_t *p, size_t n)
{
	uint8_t h[MUX_HDR_LEN] = { MUX_VERSION, type, 0, 0 };
	put_be32(h + 4, ch);
	put_be32(h + 8, (uint32_t)n);
	if (buf_room(b) < MUX_HDR_LEN + n)
		return -1;
	buf_put(b, h, MUX_HDR_LEN);
	if (n)
		buf_put(b, p, n);
	return 0;
}

static void client_drop(struct relay *r, int ci)
{
	struct relay_client *c = &r->cl[ci];
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	free(c->rd);
	c->rd = NULL;
	buf_free(&c->out);
	r->nclients--;
	/* Its channels live on in the agent as orphans; its CTL answers go nowhere. */
	for (int i = 0; i < r->nch; i++)
		if (r->ch[i].owner == ci)
			r->ch[i].owner = -1;
	for (int i = 0; i < r->nreq; i++)
		if (r->req[i].owner == ci)
			r->req[i].owner = -1;
}

/* Queue a frame for a client; one that passes its cap is disconnected. */
static void to_client(struct relay *r, int ci, uint8_t type, uint32_t ch, const uint8_t *p, size_t n)
{
	if (r->cl[ci].fd >= 0 && put_frame(&r->cl[ci].out, type, ch, p, n) < 0)
		client_drop(r, ci);
}

static void client_error(struct relay *r, int ci, uint32_t ch, int code, const char *msg)
{
	if (r->cl[ci].fd >= 0 && mux_put_fail(&r->cl[ci].out, MUX_ERROR, ch, code, msg) != MUX_OK)
		client_drop(r, ci);
}

/* A CTL frame with its leading u32 id replaced (payload holds >= 4 bytes). */
static int put_ctl_id(struct buf *b, uint8_t type, uint32_t id, const uint8_t *p, size_t n)
{
	uint8_t h[MUX_HDR_LEN + 4] = { MUX_VERSION, type, 0, 0 };
	put_be32(h + 8, (uint32_t)n);
	put_be32(h + 12, id);
	if (n < 4 || buf_room(b) < MUX_HDR_LEN + n)
		return -1;
	buf_put(b, h, sizeof h);
	if (n > 4)
		buf_put(b, p + 4, n - 4);
	return 0;
}

/* to_agent has room for every frame one client read can produce (see poll). */
static void to_agent(struct relay *r, uint8_t type, uint32_t ch, const uint8_t *p, size_t n)
{
	put_frame(&r->to_agent, type, ch, p, n);
}

/* ---- frames from a client ---- */

typedef void (*client_fn)(struct relay *r, int ci, const struct mux_frame *f);

static void c_hello(struct relay *r, int ci, const struct mux_frame *f)
{
	struct mux_hello h;
	int rc = mux_decode_hello(f, &h);
	if (rc == MUX_OK && h.version == 0)
		rc = MUX_E_VERSION;
	if (rc == MUX_OK && !(h.flags & MUX_HELLO_F_HOST))
		rc = MUX_E_PROTO;
	if (rc != MUX_OK) {
		client_error(r, ci, 0, rc, "bad HELLO");
		return;
	}
	if (mux_put_hello(&r->cl[ci].out, 0, 0, RELAY_SOFTWARE) != MUX_OK)
		client_drop(r, ci);
}

static void c_ping(struct relay *r, int ci, const struct mux_frame *f)
{
	uint64_t cookie;
	if (mux_decode_ping(f, &cookie) != MUX_OK) {
		client_error(r, ci, 0, MUX_E_PROTO, "bad PING");
		return;
	}
	if (mux_put_ping(&r->cl[ci].out, MUX_PONG, cookie) != MUX_OK)
		client_drop(r, ci);
}

static void c_ignore(struct relay *r, int ci, const struct mux_frame *f)
{
	(void)r, (void)ci, (void)f; /* PONG, ERROR from a host: never answered */
}

static void c_wrong_way(struct relay *r, int ci, const struct mux_frame *f)
{
	client_error(r, ci, f->hdr.channel, MUX_E_PROTO, "agent-to-host message from the host");
}

static void c_ctl_req(struct relay *r, int ci, const struct mux_frame *f)
{
	struct mux_ctl_req q;
	if (mux_decode_ctl_req(f, &q) != MUX_OK) {
		client_error(r, ci, 0, MUX_E_PROTO, "bad CTL_REQ");
		return;
	}
	struct relay_req *rq = req_add(r, ci, q.id, q.op);
	if (!rq) {
		if (mux_put_ctl_resp(&r->cl[ci].out, q.id, MUX_E_LIMIT, NULL, 0) != MUX_OK)
			client_drop(r, ci);
		return;
	}
	put_ctl_id(&r->to_agent, MUX_CTL_REQ, rq->aid, f->payload, f->hdr.length);
}

static void c_open(struct relay *r, int ci, const struct mux_frame *f)
{
	static struct mux_open o; /* large; the relay is single-threaded */
	uint32_t cid = f->hdr.channel;
	int rc = mux_decode_open(f, &o);
	if (rc != MUX_OK) {
		client_error(r, ci, cid, rc, "bad OPEN");
		return;
	}
	if (chan_by_cid(r, ci, cid)) {
		if (mux_put_fail(&r->cl[ci].out, MUX_OPEN_FAIL, cid, MUX_E_EXISTS, "channel id in use") != MUX_OK)
			client_drop(r, ci);
		return;
	}
	/* The client's own id when the agent has no such channel: a lone client
	 * then sees agent ids, which keeps reattach-by-id working across relay
	 * restarts (hearth-vm restore, keeper). Otherwise a fresh id. */
	uint32_t aid = chan_by_aid(r, cid) ? chan_alloc_aid(r) : cid;
	struct relay_chan *c = chan_add(r, aid, ci, cid);
	if (!c) {
		if (mux_put_fail(&r->cl[ci].out, MUX_OPEN_FAIL, cid, MUX_E_LIMIT, "too many channels") != MUX_OK)
			client_drop(r, ci);
		return;
	}
	to_agent(r, MUX_OPEN, c->aid, f->payload, f->hdr.length);
}

/* DATA, WINDOW, RESIZE, SIGNAL, EOF, CLOSE: map (and maybe adopt), forward. */
static void c_chan(struct relay *r, int ci, const struct mux_frame *f)
{
	uint32_t cid = f->hdr.channel;
	struct relay_chan *c = chan_by_cid(r, ci, cid);
	if (!c) {
		c = chan_by_aid(r, cid);
		if (!c || c->owner != -1) {
			client_error(r, ci, cid, MUX_E_NOCHAN, "no such channel");
			return;
		}
		c->owner = ci; /* adopt the orphan under its agent id */
		c->cid = cid;
	}
	to_agent(r, f->hdr.type, c->aid, f->payload, f->hdr.length);
	if (f->hdr.type == MUX_CLOSE) {
		c->host_closed = 1;
		/* The agent will not say CLOSE twice: answer for the frame it lost. */
		if (c->close_owed)
			to_client(r, ci, MUX_CLOSE, cid, NULL, 0);
		if (c->agent_closed)
			chan_free(r, c);
	}
}

static const client_fn client_ops[256] = {
	[MUX_HELLO] = c_hello,       [MUX_PING] = c_ping,         [MUX_PONG] = c_ignore,
	[MUX_CTL_REQ] = c_ctl_req,   [MUX_CTL_RESP] = c_wrong_way, [MUX_OPEN] = c_open,
	[MUX_OPEN_OK] = c_wrong_way, [MUX_OPEN_FAIL] = c_wrong_way, [MUX_DATA] = c_chan,
	[MUX_WINDOW] = c_chan,       [MUX_RESIZE] = c_chan,       [MUX_SIGNAL] = c_chan,
	[MUX_EOF] = c_chan,          [MUX_EXIT] = c_wrong_way,    [MUX_CLOSE] = c_chan,
	[MUX_ERROR] = c_ignore,
};

/* Channel rules first (control types on 0, channel types off 0), then the op. */
static void c_any(struct relay *r, int ci, const struct mux_frame *f)
{
	uint8_t t = f->hdr.type;
	int control = t == MUX_HELLO || t == MUX_PING || t == MUX_PONG || t == MUX_CTL_REQ ||
		      t == MUX_CTL_RESP;
	if (t != MUX_ERROR && control != (f->hdr.channel == 0)) {
		client_error(r, ci, f->hdr.channel, MUX_E_PROTO, "type on the wrong kind of channel");
		return;
	}
	if (client_ops[t])
		client_ops[t](r, ci, f);
	else
		client_error(r, ci, f->hdr.channel, MUX_E_TYPE, "unknown type");
}

static void client_read(struct relay *r, int ci)
{
	uint8_t tmp[READ_CHUNK];
	struct relay_client *c = &r->cl[ci];
	ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_drop(r, ci);
		return;
	}
	size_t off = 0;
	while (n > 0 && off < (size_t)n && r->cl[ci].fd >= 0) {
		struct mux_frame f;
		size_t used = 0;
		int rc = mux_reader_feed(c->rd, tmp + off, (size_t)n - off, &used, &f);
		off += used;
		if (rc == MUX_AGAIN)
			break;
		if (rc < 0)
			client_error(r, ci, f.hdr.channel, rc, "frame refused");
		else
			c_any(r, ci, &f);
	}
}

/* ---- frames from the agent ---- */

/* LIST for a client: its channels under its ids, orphans under agent ids. */
static void list_for(struct relay *r, int ci, const struct relay_req *q, const struct mux_ctl_resp *s)
{
	uint32_t count;
	if (s->status != 0 || mux_decode_list(s->body, s->bodylen, &count) != MUX_OK) {
		mux_put_ctl_resp(&r->cl[ci].out, q->cid, s->status, s->body, s->bodylen);
		return;
	}
	uint8_t body[4 + MUX_MAX_LIST * LIST_ENTRY];
	uint32_t k = 0;
	for (uint32_t i = 0; i < count && i < MUX_MAX_LIST; i++) {
		struct mux_chan_info e;
		if (mux_decode_list_entry(s->body, s->bodylen, i, &e) != MUX_OK)
			break;
		struct relay_chan *c = chan_by_aid(r, e.id);
		if (!c)
			c = chan_add(r, e.id, -1, 0); /* live in the agent, unknown here */
		uint32_t id;
		if (c && c->owner == ci)
			id = c->cid;
		else if ((!c || c->owner == -1) && !chan_by_cid(r, ci, e.id))
			id = e.id;
		else
			continue;
		uint8_t *p = body + 4 + k++ * LIST_ENTRY;
		put_be32(p, id);
		p[4] = e.kind;
		p[5] = e.state;
		put_be32(p + 6, e.pid);
	}
	put_be32(body, k);
	if (mux_put_ctl_resp(&r->cl[ci].out, q->cid, 0, body, 4 + (size_t)k * LIST_ENTRY) != MUX_OK)
		client_drop(r, ci);
}

/* The relay's own LIST at start: every live agent channel is an orphan. */
static void list_self(struct relay *r, const struct mux_ctl_resp *s)
{
	uint32_t count;
	if (s->status != 0 || mux_decode_list(s->body, s->bodylen, &count) != MUX_OK)
		return;
	for (uint32_t i = 0; i < count; i++) {
		struct mux_chan_info e;
		if (mux_decode_list_entry(s->body, s->bodylen, i, &e) != MUX_OK)
			break;
		if (!chan_by_aid(r, e.id))
			chan_add(r, e.id, -1, 0);
	}
}

static void a_ctl_resp(struct relay *r, const struct mux_frame *f)
{
	struct mux_ctl_resp s;
	struct relay_req q;
	if (mux_decode_ctl_resp(f, &s) != MUX_OK || req_take(r, s.id, &q) < 0)
		return;
	if (q.owner == RELAY_SELF) {
		if (q.op == MUX_CTL_LIST) {
			list_self(r, &s);
			r->listing = 0;
		}
		return;
	}
	if (q.owner < 0 || r->cl[q.owner].fd < 0)
		return;
	if (q.op == MUX_CTL_LIST) {
		list_for(r, q.owner, &q, &s);
		return;
	}
	if (put_ctl_id(&r->cl[q.owner].out, MUX_CTL_RESP, q.cid, f->payload, f->hdr.length) < 0)
		client_drop(r, q.owner);
}

static void from_agent(struct relay *r, const struct mux_frame *f)
{
	uint8_t t = f->hdr.type;
	if (f->hdr.channel == 0) {
		uint64_t cookie;
		if (t == MUX_CTL_RESP)
			a_ctl_resp(r, f);
		else if (t == MUX_PING && mux_decode_ping(f, &cookie) == MUX_OK)
			mux_put_ping(&r->to_agent, MUX_PONG, cookie);
		return; /* HELLO, PONG, ERROR on 0: answers to nobody's question */
	}
	struct relay_chan *c = chan_by_aid(r, f->hdr.channel);
	if (!c) {
		if (t == MUX_OPEN_FAIL || t == MUX_ERROR)
			return;
		/* A live channel from before this relay (even a CLOSE: the host side
		 * still owes its CLOSE): an orphan from now on. */
		if (!(c = chan_add(r, f->hdr.channel, -1, 0)))
			return;
	}
	if (c->owner >= 0)
		to_client(r, c->owner, t, c->cid, f->payload, f->hdr.length);
	/* Orphans' frames are dropped (DATA without window: the process blocks). */
	if (t == MUX_OPEN_FAIL) {
		chan_free(r, c);
	} else if (t == MUX_CLOSE) {
		c->agent_closed = 1;
		c->close_owed = c->owner < 0;
		if (c->host_closed)
			chan_free(r, c);
	}
}

static void agent_read(struct relay *r)
{
	uint8_t tmp[READ_CHUNK];
	ssize_t n = recv(r->afd, tmp, sizeof tmp, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		r->agent_eof = 1;
		return;
	}
	size_t off = 0;
	while (n > 0 && off < (size_t)n) {
		struct mux_frame f;
		size_t used = 0;
		int rc = mux_reader_feed(r->ard, tmp + off, (size_t)n - off, &used, &f);
		off += used;
		if (rc == MUX_AGAIN)
			break;
		if (rc == MUX_OK)
			from_agent(r, &f);
	}
}

/* ---- I/O ---- */

static int flush(int fd, struct buf *b)
{
	while (buf_used(b)) {
		ssize_t w = send(fd, buf_ptr(b), buf_used(b), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			buf_consume(b, (size_t)w);
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	buf_reset(b);
	return 0;
}

int relay_open(struct relay *r, const char *path, int agent_fd, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->afd = agent_fd;
	r->lfd = -1;
	for (int i = 0; i < RELAY_MAX_CLIENTS; i++)
		r->cl[i].fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd = -1;
	if (strlen(path) < sizeof(sa.sun_path)) {
		strcpy(sa.sun_path, path);
	} else {
		/* Longer than sun_path (a deep state dir): bind through a directory fd. */
		char dir[sizeof(r->path)];
		const char *slash = strrchr(path, '/');
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
		dfd = slash ? open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
		int n = dfd < 0 ? -1
				: snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
					   dfd, slash + 1);
		if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "socket path too long: %s", path);
			if (dfd >= 0)
				close(dfd);
			return -1;
		}
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->ard = malloc(sizeof(*r->ard));
	r->ch = calloc(RELAY_MAX_CHANS, sizeof(*r->ch));
	if (!r->ard || !r->ch) {
		snprintf(err, errlen, "out of memory");
		free(r->ard), free(r->ch);
		return -1;
	}
	mux_reader_init(r->ard);
	unlink(path);
	r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int bad = r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		  listen(r->lfd, 16) < 0;
	if (dfd >= 0)
		close(dfd);
	if (bad) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		if (r->lfd >= 0)
			close(r->lfd);
		free(r->ard), free(r->ch);
		r->ard = NULL, r->ch = NULL, r->lfd = -1;
		return -1;
	}
	fcntl(agent_fd, F_SETFL, fcntl(agent_fd, F_GETFL) | O_NONBLOCK);
	buf_init(&r->to_agent, RELAY_TO_AGENT_MAX);
	/* Fresh agent ids (when a client's own id is taken) from 2^31 up: orphans
	 * listed under them rarely clash with the small ids clients pick. */
	r->next_aid = RELAY_AID_BASE - 1;
	/* Learn the channels already live in the agent (earlier sessions, a
	 * restored snapshot) so new agent ids never collide with them. */
	struct relay_req *q = req_add(r, RELAY_SELF, 0, MUX_CTL_LIST);
	mux_put_ctl_req(&r->to_agent, q->aid, MUX_CTL_LIST, NULL, 0);
	r->listing = 1;
	return 0;
}

void relay_poll_fds(struct relay *r, struct pollfd *pfd)
{
	pfd[0] = (struct pollfd){ .fd = r->nclients < RELAY_MAX_CLIENTS ? r->lfd : -1,
				  .events = POLLIN };
	/* The agent is always read: client buffers are capped, never waited on. */
	pfd[1] = (struct pollfd){ .fd = r->agent_eof ? -1 : r->afd,
				  .events = POLLIN | (buf_used(&r->to_agent) ? POLLOUT : 0) };
	/* One client read yields at most its bytes plus one buffered frame. */
	int can_read = !r->listing && buf_room(&r->to_agent) >= READ_CHUNK + 2 * FRAME_MAX;
	for (int i = 0; i < RELAY_MAX_CLIENTS; i++) {
		struct relay_client *c = &r->cl[i];
		short ev = 0;
		if (c->fd >= 0) {
			if (can_read)
				ev |= POLLIN;
			if (buf_used(&c->out))
				ev |= POLLOUT;
		}
		pfd[2 + i] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
}

static void accept_clients(struct relay *r)
{
	for (;;) {
		int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		int slot = -1;
		for (int i = 0; i < RELAY_MAX_CLIENTS && slot < 0; i++)
			if (r->cl[i].fd < 0)
				slot = i;
		struct mux_reader *rd = slot >= 0 ? malloc(sizeof(*rd)) : NULL;
		if (!rd) {
			close(fd); /* full: the client sees EOF */
			continue;
		}
		mux_reader_init(rd);
		r->cl[slot].fd = fd;
		r->cl[slot].rd = rd;
		buf_init(&r->cl[slot].out, RELAY_CLIENT_OUT_MAX);
		r->nclients++;
	}
}

int relay_handle(struct relay *r, const struct pollfd *pfd)
{
	if (!r->agent_eof && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
		agent_read(r);
	/* Start at a different client each round so none is always last for room. */
	r->rr = (r->rr + 1) % RELAY_MAX_CLIENTS;
	for (int k = 0; k < RELAY_MAX_CLIENTS; k++) {
		int i = (r->rr + k) % RELAY_MAX_CLIENTS;
		struct relay_client *c = &r->cl[i];
		if (c->fd < 0 || pfd[2 + i].fd != c->fd)
			continue;
		short re = pfd[2 + i].revents;
		if ((re & POLLOUT) && flush(c->fd, &c->out) < 0) {
			client_drop(r, i);
			continue;
		}
		int want = (re & POLLIN) || ((re & (POLLHUP | POLLERR)) && (pfd[2 + i].events & POLLIN));
		/* Room is checked per read: clients read earlier this round used some. */
		if (want && buf_room(&r->to_agent) >= READ_CHUNK + 2 * FRAME_MAX)
			client_read(r, i);
		else if ((re & (POLLHUP | POLLERR)) && !(re & POLLIN) && !(pfd[2 + i].events & POLLIN) &&
			 !buf_used(&c->out))
			client_drop(r, i);
	}
	/* Send what is ready at once rather than after another poll round. */
	for (int i = 0; i < RELAY_MAX_CLIENTS; i++)
		if (r->cl[i].fd >= 0 && buf_used(&r->cl[i].out) && flush(r->cl[i].fd, &r->cl[i].out) < 0)
			client_drop(r, i);
	if (!r->agent_eof && buf_used(&r->to_agent) && flush(r->afd, &r->to_agent) < 0)
		r->agent_eof = 1;
	if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN))
		accept_clients(r);
	return r->agent_eof ? -1 : 0;
}

int relay_busy(const struct relay *r, const struct pollfd *pfd)
{
	if (!r->nclients)
		return 0;
	for (int i = 1; i < RELAY_NFDS; i++)
		if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLOUT)))
			return 1;
	return 0;
}

void relay_close(struct relay *r)
{
	for (int i = 0; i < RELAY_MAX_CLIENTS; i++)
		client_drop(r, i);
	if (r->lfd >= 0) {
		close(r->lfd);
		unlink(r->path);
	}
	r->lfd = -1;
	free(r->ard);
	free(r->ch);
	r->ard = NULL;
	r->ch = NULL;
	buf_free(&r->to_agent);
}
