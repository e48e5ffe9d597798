/*
 * identity.c - the guest's identity socket (PID 1): /run/hearth/identity.sock
 * (0666: the token names the VM, not a user; /run/hearth/identity.jwt is
 * world-readable too). A client (hearth-identity, identity_cli.c) sends one
 * request (idmsg.h: an audience); the agent gives it a channel-level id and
 * passes it to hearthd over the identity channel (kind 6, PROTOCOL.md 1.11,
 * one socketpair end from chan_ident.c), then writes hearthd's answer back
 * under the client's own id and closes. Without a channel, over
 * IDENT_CLIENTS clients, or when hearthd does not answer within
 * IDENT_PENDING_MS, the client gets an error answer from the agent.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocol/idmsg.h"

#define IDENT_CLIENTS 16
#define IDENT_PENDING_MS 10000
#define IDENT_CHAN_OUT_MAX (IDENT_CLIENTS * (IDMSG_HDR + IDMSG_REQ_MAX))

enum ident_what { IW_LISTEN, IW_CLIENT, IW_CHAN };
enum ident_cstate { IC_READ, IC_WAIT, IC_WRITE };

struct ident_src {
	struct src src; /* SRC_IDENT; first member */
	uint8_t what, idx, ready;
};

struct ident_client {
	struct ident_src s;
	int fd;
	uint8_t state;       /* enum ident_cstate */
	uint32_t req_id;     /* the client's id, echoed in its answer */
	uint32_t qid;        /* the id hearthd sees */
	int64_t deadline;    /* accept, then waiting: answer by then */
	struct idmsg_reader rd;
	uint8_t in[IDMSG_HDR + IDMSG_REQ_MAX];
	struct buf out;
};

static struct {
	int on, lst, chan;
	struct ident_src lst_s, chan_s;
	struct ident_client *cl[IDENT_CLIENTS];
	uint32_t next_qid;
	struct buf to_chan;
	struct idmsg_reader from;
	uint8_t from_buf[IDMSG_HDR + IDMSG_MAX_BODY];
} ident = { .lst = -1, .chan = -1 };

int ident_init(struct agent *a)
{
	struct sockaddr_un sun;
	int fd;

	if (mkdir("/run/hearth", 0755) < 0 && errno != EEXIST)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", IDENT_SOCK);
	unlink(IDENT_SOCK);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(IDENT_SOCK, 0666) < 0 ||
	    listen(fd, IDENT_CLIENTS) < 0) {
		log_msg("identity: %s: %s", IDENT_SOCK, strerror(errno));
		close(fd);
		return -1;
	}
	ident.lst_s.src.type = SRC_IDENT;
	ident.lst_s.what = IW_LISTEN;
	ident.lst_s.ready = 1;
	if (agent_watch(a, fd, &ident.lst_s.src, EV_BASE) < 0) {
		close(fd);
		return -1;
	}
	ident.lst = fd;
	buf_init(&ident.to_chan, IDENT_CHAN_OUT_MAX);
	idmsg_reader_init(&ident.from, ident.from_buf, sizeof(ident.from_buf));
	ident.on = 1;
	return 0;
}

void ident_event(struct src *s)
{
	((struct ident_src *)s)->ready = 1;
}

static void ident_close(struct ident_client *c)
{
	close(c->fd);
	buf_free(&c->out);
	ident.cl[c->s.idx] = NULL;
	free(c);
}

static void ident_flush(struct agent *a, struct ident_client *c)
{
	while (buf_used(&c->out)) {
		ssize_t n = write(c->fd, buf_ptr(&c->out), buf_used(&c->out));
		if (n < 0 && errno == EAGAIN) {
			agent_rearm(a, c->fd, &c->s.src, EV_OUT);
			return;
		}
		if (n <= 0)
			break;
		buf_consume(&c->out, (size_t)n);
	}
	ident_close(c); /* one answer per connection */
}

/* Answer the client (status, body) and close once written. */
static void ident_answer(struct agent *a, struct ident_client *c, uint8_t status,
			 const void *p, size_t n)
{
	c->state = IC_WRITE;
	buf_reset(&c->out);
	if (idmsg_put(&c->out, c->req_id, status, p, n) < 0) {
		static const char oom[] = "out of memory";
		buf_reset(&c->out);
		idmsg_put(&c->out, c->req_id, IDMSG_E_UNAVAIL, oom, sizeof(oom) - 1);
	}
	ident_flush(a, c);
}

static void ident_fail(struct agent *a, struct ident_client *c, uint8_t status, const char *msg)
{
	ident_answer(a, c, status, msg, strlen(msg));
}

/* A whole request from client c: on to hearthd. */
static void ident_request(struct agent *a, struct ident_client *c, const struct idmsg *m)
{
	c->req_id = m->id;
	if (m->status != 0) {
		ident_fail(a, c, IDMSG_E_PROTO, "a request carries status 0");
		return;
	}
	if (ident.chan < 0) {
		ident_fail(a, c, IDMSG_E_UNAVAIL, "hearthd is not connected (no identity channel)");
		return;
	}
	c->qid = ident.next_qid++;
	if (idmsg_put(&ident.to_chan, c->qid, 0, m->body, m->len) < 0) {
		ident_fail(a, c, IDMSG_E_UNAVAIL, "too many requests in flight");
		return;
	}
	c->state = IC_WAIT;
	c->deadline = agent_now_ms() + IDENT_PENDING_MS;
}

static int ident_read(struct agent *a, struct ident_client *c)
{
	uint8_t tmp[IDMSG_HDR + IDMSG_REQ_MAX];
	struct idmsg m;
	size_t used;

	if (c->state == IC_WRITE) {
		ident_flush(a, c);
		return 1;
	}
	ssize_t n = read(c->fd, tmp, sizeof(tmp));
	if (n < 0 && errno == EAGAIN) {
		c->s.ready = 0;
		return 0;
	}
	if (n == 0 && c->state == IC_WAIT) {
		c->s.ready = 0; /* half-closed after its request: the answer still goes */
		return 0;
	}
	if (n <= 0) {
		ident_close(c); /* gone before its answer: the answer is dropped */
		return 1;
	}
	if (c->state != IC_READ)
		return 1; /* one request per connection: more bytes are ignored */
	int rc = idmsg_feed(&c->rd, tmp, (size_t)n, &used, &m);
	if (rc < 0)
		ident_fail(a, c, IDMSG_E_PROTO, "request too long");
	else if (rc == 1)
		ident_request(a, c, &m);
	return 1;
}

static int ident_accept(struct agent *a)
{
	int fd = accept4(ident.lst, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int slot = -1;

	if (fd < 0) {
		ident.lst_s.ready = 0;
		return 0;
	}
	for (int i = 0; i < IDENT_CLIENTS; i++)
		if (ident.cl[i] == NULL) {
			slot = i;
			break;
		}
	struct ident_client *c = slot < 0 ? NULL : calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd); /* over the limit: the client sees the connection end */
		return 1;
	}
	c->fd = fd;
	c->s.src.type = SRC_IDENT;
	c->s.what = IW_CLIENT;
	c->s.idx = (uint8_t)slot;
	c->s.ready = 1;
	c->deadline = agent_now_ms() + IDENT_PENDING_MS;
	idmsg_reader_init(&c->rd, c->in, sizeof(c->in));
	buf_init(&c->out, IDMSG_HDR + IDMSG_MAX_BODY);
	if (agent_watch(a, fd, &c->s.src, EV_BASE) < 0) {
		close(fd);
		buf_free(&c->out);
		free(c);
		return 1;
	}
	ident.cl[slot] = c;
	return 1;
}

static void ident_detach(struct agent *a)
{
	if (ident.chan < 0)
		return;
	close(ident.chan);
	ident.chan = -1;
	buf_reset(&ident.to_chan);
	idmsg_reader_init(&ident.from, ident.from_buf, sizeof(ident.from_buf));
	for (int i = 0; i < IDENT_CLIENTS; i++)
		if (ident.cl[i] && ident.cl[i]->state == IC_WAIT)
			ident_fail(a, ident.cl[i], IDMSG_E_UNAVAIL,
				   "the identity channel to hearthd ended");
}

int ident_attach(struct agent *a, int fd)
{
	if (!ident.on)
		return -1;
	ident_detach(a); /* a new host session replaces the old channel */
	ident.chan_s.src.type = SRC_IDENT;
	ident.chan_s.what = IW_CHAN;
	ident.chan_s.ready = 1;
	if (agent_watch(a, fd, &ident.chan_s.src, EV_BASE) < 0)
		return -1;
	ident.chan = fd;
	return 0;
}

/* hearthd's answer to qid. */
static void ident_route(struct agent *a, const struct idmsg *m)
{
	for (int i = 0; i < IDENT_CLIENTS; i++) {
		struct ident_client *c = ident.cl[i];
		if (c && c->state == IC_WAIT && c->qid == m->id) {
			ident_answer(a, c, m->status, m->body, m->len);
			return;
		}
	}
}

static int ident_chan_io(struct agent *a)
{
	uint8_t tmp[16384];
	struct idmsg m;
	int progress = 0;

	while (buf_used(&ident.to_chan)) {
		ssize_t n = write(ident.chan, buf_ptr(&ident.to_chan), buf_used(&ident.to_chan));
		if (n <= 0)
			break;
		buf_consume(&ident.to_chan, (size_t)n);
		progress = 1;
	}
	agent_rearm(a, ident.chan, &ident.chan_s.src,
		    buf_used(&ident.to_chan) ? EV_OUT : EV_BASE);
	for (;;) {
		ssize_t n = read(ident.chan, tmp, sizeof(tmp));
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			ident_detach(a); /* the channel ended */
			return 1;
		}
		progress = 1;
		size_t off = 0, used;
		while (off < (size_t)n) {
			int rc = idmsg_feed(&ident.from, tmp + off, (size_t)n - off, &used, &m);
			off += used;
			if (rc < 0) {
				log_msg("identity: hearthd sent a frame past the limit");
				ident_detach(a);
				return 1;
			}
			if (rc == 1)
				ident_route(a, &m);
		}
	}
	ident.chan_s.ready = 0;
	return progress;
}

int ident_run(struct agent *a, int64_t now)
{
	int progress = 0;

	if (!ident.on)
		return 0;
	if (ident.lst_s.ready)
		progress |= ident_accept(a);
	for (int i = 0; i < IDENT_CLIENTS; i++) {
		struct ident_client *c = ident.cl[i];
		if (c && c->s.ready)
			progress |= ident_read(a, c);
		else if (c && c->state != IC_WRITE && now >= c->deadline)
			ident_fail(a, c, IDMSG_E_UNAVAIL, c->state == IC_WAIT ?
				   "hearthd did not answer in time" : "no request in time");
	}
	if (ident.chan >= 0 && (ident.chan_s.ready || buf_used(&ident.to_chan)))
		progress |= ident_chan_io(a);
	return progress;
}

int64_t ident_next_deadline(void)
{
	int64_t best = 0;

	for (int i = 0; ident.on && i < IDENT_CLIENTS; i++)
		if (ident.cl[i] && ident.cl[i]->state != IC_WRITE &&
		    (best == 0 || ident.cl[i]->deadline < best))
			best = ident.cl[i]->deadline;
	return best;
}
