/*
 * chan.c - the channel table and everything kinds share: windows in both
 * directions, writing host bytes to the input fd, reading output fds
 * round-robin into the bounded queue, and the end-of-channel sequence
 * (EOF per stream, then EXIT once the process is gone, then CLOSE).
 * One table holds the channels of both host streams; each channel belongs
 * to the stream that opened it and talks only to that stream's queue.
 */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct chan_kind_ops *const chan_ops[] = {
	[MUX_KIND_SHELL] = &chan_shell_ops,
	[MUX_KIND_EXEC] = &chan_exec_ops,
	[MUX_KIND_TCP] = &chan_tcp_ops,
	[MUX_KIND_DNS] = &chan_dns_ops,
	[MUX_KIND_IDENTITY] = &chan_ident_ops,
};

int chan_is_socket(const struct chan *c)
{
	return c->kind == MUX_KIND_TCP || c->kind == MUX_KIND_DNS || c->kind == MUX_KIND_IDENTITY;
}

static const struct chan_kind_ops *chan_kind(const struct chan *c)
{
	return chan_ops[c->kind];
}

struct chan *chan_find(struct agent *a, const struct conn *conn, uint32_t id)
{
	for (unsigned i = 0; i < a->nchans; i++)
		if (a->chans[i]->id == id && a->chans[i]->conn == conn)
			return a->chans[i];
	return NULL;
}

unsigned chan_count(const struct agent *a, const struct conn *conn)
{
	unsigned n = 0;

	for (unsigned i = 0; i < a->nchans; i++)
		n += a->chans[i]->conn == conn;
	return n;
}

struct chan *chan_new(struct agent *a, struct conn *conn, uint32_t id, uint8_t kind,
		      uint32_t host_window)
{
	struct chan *c;

	if (a->nchans >= AGENT_MAX_CHANS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->conn = conn;
	c->id = id;
	c->kind = kind;
	for (int i = 0; i < 3; i++) {
		c->fds[i].src.type = SRC_CHAN;
		c->fds[i].fd = -1;
		c->fds[i].stream = -1;
		c->fds[i].ch = c;
	}
	/* After a session reset the host may send a full window on top of
	 * up to one window still buffered (see chan_session_reset). */
	buf_init(&c->inbuf, 2u * AGENT_RX_WINDOW);
	c->rx_avail = AGENT_RX_WINDOW;
	c->in_closed = 1;
	c->tx_window = c->tx_initial = host_window;
	a->chans[a->nchans++] = c;
	return c;
}

int chan_socketpair_open(struct agent *a, struct chan *c, int (*attach)(struct agent *, int),
			 const char *what, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return MUX_E_LIMIT;
	}
	if (attach(a, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "no %s in this agent", what);
		return MUX_E_UNSUPPORTED;
	}
	chan_set_fd(a, c, 0, sv[0], MUX_STREAM_MAIN, 1);
	return MUX_OK;
}

void chan_socketpair_host_eof(struct agent *a, struct chan *c)
{
	(void)a;
	shutdown(c->fds[0].fd, SHUT_WR);
}

void chan_set_fd(struct agent *a, struct chan *c, int idx, int fd, int stream, int input)
{
	struct chan_fd *f = &c->fds[idx];

	f->fd = fd;
	f->stream = (int8_t)stream;
	f->input = (uint8_t)input;
	f->readable = f->writable = 1; /* edge-triggered: try until EAGAIN */
	f->hup = 0;
	if (stream >= 0)
		c->out[stream].active = 1;
	if (input)
		c->in_closed = 0;
	if (agent_watch(a, fd, &f->src, EV_BASE) < 0)
		log_msg("epoll add fd %d: %s", fd, strerror(errno));
}

void chan_close_fd(struct agent *a, struct chan *c, int idx)
{
	struct chan_fd *f = &c->fds[idx];

	if (f->fd < 0)
		return;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, f->fd, NULL);
	close(f->fd);
	f->fd = -1;
	f->readable = f->writable = 0;
	if (f->stream >= 0)
		c->out[f->stream].ended = 1;
	if (f->input) {
		c->in_closed = 1;
		buf_reset(&c->inbuf);
	}
}

static void chan_close_all(struct agent *a, struct chan *c)
{
	for (int i = 0; i < 3; i++)
		chan_close_fd(a, c, i);
}

void chan_destroy(struct agent *a, struct chan *c)
{
	chan_close_all(a, c);
	buf_free(&c->inbuf);
	for (unsigned i = 0; i < a->nchans; i++) {
		if (a->chans[i] == c) {
			a->chans[i] = a->chans[--a->nchans];
			break;
		}
	}
	for (int k = 0; k < CONN_COUNT; k++)
		if (a->conns[k].rr >= a->nchans)
			a->conns[k].rr = 0;
	free(c);
}

static void chan_open_fail(struct conn *conn, uint32_t id, int code, const char *msg)
{
	if (mux_put_fail(&conn->out, MUX_OPEN_FAIL, id, code, msg[0] ? msg : mux_strerror(code)))
		log_msg("%s: queue full: OPEN_FAIL for channel %u dropped", conn->name, id);
}

/* The reply to OPEN once the channel runs (tcp: once connected). */
void chan_send_open_ok(struct agent *a, struct chan *c)
{
	if (mux_put_open_ok(&c->conn->out, c->id, AGENT_RX_WINDOW, (uint32_t)c->pid))
		log_msg("%s: queue full: OPEN_OK for channel %u dropped", c->conn->name, c->id);
	c->opened = 1;
}

int chan_open(struct agent *a, struct conn *conn, uint32_t id, const struct mux_open *o)
{
	char err[MUX_MAX_MSG / 4] = "";
	struct chan *c;
	int rc;

	if (chan_find(a, conn, id) != NULL) {
		chan_open_fail(conn, id, MUX_E_EXISTS, "");
		return MUX_E_EXISTS;
	}
	c = chan_new(a, conn, id, o->kind, o->window);
	if (c == NULL) {
		chan_open_fail(conn, id, MUX_E_LIMIT, "too many channels");
		return MUX_E_LIMIT;
	}
	rc = chan_kind(c)->open(a, c, o, err, sizeof(err));
	if (rc != MUX_OK) {
		chan_destroy(a, c);
		chan_open_fail(conn, id, rc, err);
		return rc;
	}
	log_debug("%s: channel %u kind %u open, pid %d", conn->name, id, o->kind, (int)c->pid);
	if (!c->connecting)
		chan_send_open_ok(a, c);
	return MUX_OK;
}

void chan_host_data(struct agent *a, struct chan *c, const struct mux_data *d)
{
	if (d->stream != MUX_STREAM_MAIN) {
		conn_error(c->conn, c->id, MUX_E_PROTO, "host data only on stream 0");
		return;
	}
	if (!c->opened) {
		conn_error(c->conn, c->id, MUX_E_STATE, "channel not open yet");
		return;
	}
	if (c->kind == MUX_KIND_EXEC && !c->want_stdin) {
		conn_error(c->conn, c->id, MUX_E_STATE, "exec channel has no stdin");
		return;
	}
	if (d->len > c->rx_avail) {
		conn_error(c->conn, c->id, MUX_E_WINDOW, "data beyond window");
		return;
	}
	if (c->host_eof) {
		conn_error(c->conn, c->id, MUX_E_STATE, "data after EOF");
		return;
	}
	c->rx_avail -= d->len;
	/* Input already gone (process exited, pipe closed): drop; the window
	 * comes back through chan_grant like written bytes. */
	if (c->in_closed || d->len == 0)
		return;
	if (buf_put(&c->inbuf, d->p, d->len) != BUF_OK)
		conn_error(c->conn, c->id, MUX_E_WINDOW, "input buffer full");
}

void chan_host_window(struct agent *a, struct chan *c, uint32_t incr)
{
	uint64_t w = (uint64_t)c->tx_window + incr;

	if (w > MUX_MAX_WINDOW) {
		conn_error(c->conn, c->id, MUX_E_WINDOW, "window above maximum");
		w = MUX_MAX_WINDOW;
	}
	c->tx_window = (uint32_t)w;
}

void chan_host_eof(struct agent *a, struct chan *c, uint8_t stream)
{
	if (stream != MUX_STREAM_MAIN) {
		conn_error(c->conn, c->id, MUX_E_PROTO, "host EOF only on stream 0");
		return;
	}
	if (c->kind == MUX_KIND_SHELL)
		return; /* a pty has no end of input; ^D is data */
	c->host_eof = 1;
}

/* End a running process (1.4 rule 7: SIGHUP or SIGTERM, SIGKILL after the grace). */
static void chan_terminate(struct agent *a, struct chan *c)
{
	if (c->pid > 0 && !c->exited && chan_kind(c)->terminate)
		chan_kind(c)->terminate(a, c);
	chan_close_all(a, c);
}

void chan_host_close(struct agent *a, struct chan *c)
{
	c->close_rcvd = 1;
	if (!c->close_sent) {
		chan_terminate(a, c);
		if (mux_put_close(&c->conn->out, c->id))
			log_msg("%s: queue full: CLOSE for channel %u dropped", c->conn->name, c->id);
		c->close_sent = 1;
	}
	log_debug("%s: channel %u closed", c->conn->name, c->id);
	chan_destroy(a, c);
}

/*
 * The direct stream's session is over: each of its channels ends as if the
 * host had sent CLOSE, and is freed at once (there is no host to answer).
 */
void chan_end_stream(struct agent *a, const struct conn *conn)
{
	/* Backwards: chan_destroy moves the last entry into the freed slot. */
	for (unsigned i = a->nchans; i-- > 0;) {
		struct chan *c = a->chans[i];

		if (c->conn != conn)
			continue;
		chan_terminate(a, c);
		log_debug("%s: channel %u ended with its session", conn->name, c->id);
		chan_destroy(a, c);
	}
}

/* RESIZE and SIGNAL: only kinds that have them (else MUX_E_STATE). */
int chan_resize(struct chan *c, const struct mux_resize *r)
{
	if (!c->opened || chan_kind(c)->resize == NULL)
		return MUX_E_STATE;
	return chan_kind(c)->resize(c, r);
}

int chan_signal(struct chan *c, int signo)
{
	if (!c->opened || chan_kind(c)->signal == NULL)
		return MUX_E_STATE;
	return chan_kind(c)->signal(c, signo);
}

void chan_child_exited(struct agent *a, pid_t pid, int wstatus)
{
	for (unsigned i = 0; i < a->nchans; i++) {
		struct chan *c = a->chans[i];

		if (c->pid != pid || c->exited)
			continue;
		c->exited = 1;
		c->wstatus = wstatus;
		/* Look at the pty once more: either its tail or EIO is waiting. */
		if (c->kind == MUX_KIND_SHELL && c->fds[0].fd >= 0)
			c->fds[0].readable = 1;
		log_debug("channel %u: pid %d exited, status 0x%x", c->id, (int)pid, wstatus);
		return;
	}
}

/* The input side failed (EPIPE, EIO): drop what is buffered. */
static void chan_input_failed(struct agent *a, struct chan *c)
{
	struct chan_fd *f = &c->fds[0];

	if (f->stream < 0) {
		chan_close_fd(a, c, 0);
		return;
	}
	/* Shared with an output stream (pty, tcp): keep reading it. */
	c->in_closed = 1;
	buf_reset(&c->inbuf);
}

/*
 * Give the host back window for bytes that left the input buffer, but never
 * so much that the host's window plus what is still buffered exceeds our
 * grant: that keeps the buffer bounded even across session resets.
 */
static int chan_grant(struct agent *a, struct chan *c)
{
	int64_t g = (int64_t)AGENT_RX_WINDOW - c->rx_avail - (int64_t)buf_used(&c->inbuf);

	if (g <= 0 || c->rx_avail > AGENT_RX_WINDOW / 2 || !c->opened || c->close_sent)
		return 0;
	if (mux_put_window(&c->conn->out, c->id, (uint32_t)g) != MUX_OK)
		return 0;
	c->rx_avail += (uint32_t)g;
	return 1;
}

static int chan_write_input(struct agent *a, struct chan *c)
{
	struct chan_fd *f = &c->fds[0];
	int progress = 0;
	ssize_t n;

	while (!c->in_closed && f->fd >= 0 && f->writable && buf_used(&c->inbuf) > 0) {
		n = write(f->fd, buf_ptr(&c->inbuf), buf_used(&c->inbuf));
		if (n > 0) {
			buf_consume(&c->inbuf, (size_t)n);
			progress = 1;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			f->writable = 0;
			agent_rearm(a, f->fd, &f->src, EV_OUT);
		} else {
			log_debug("channel %u: input write: %s", c->id, strerror(errno));
			chan_input_failed(a, c);
			progress = 1;
		}
	}
	if (f->fd >= 0 && !c->connecting && (c->in_closed || buf_used(&c->inbuf) == 0))
		agent_rearm(a, f->fd, &f->src, EV_BASE);
	if (c->host_eof && !c->in_closed && buf_used(&c->inbuf) == 0) {
		if (chan_kind(c)->host_eof)
			chan_kind(c)->host_eof(a, c);
		c->in_closed = 1;
		progress = 1;
	}
	return progress;
}

int chan_write_inputs(struct agent *a)
{
	int progress = 0;

	for (unsigned i = 0; i < a->nchans; i++) {
		struct chan *c = a->chans[i];

		progress |= chan_write_input(a, c);
		if (conn_ready(c->conn))
			progress |= chan_grant(a, c);
	}
	return progress;
}

/* An output stream reached its end: release fds nobody needs any more. */
static void chan_stream_ended(struct agent *a, struct chan *c, int idx)
{
	struct chan_fd *f = &c->fds[idx];

	c->out[f->stream].ended = 1;
	f->readable = 0;
	if (!f->input || c->kind == MUX_KIND_SHELL)
		chan_close_fd(a, c, idx); /* pipe, or the pty (input is moot) */
}

/* Nothing more to read for now; a shell that exited gets a drain deadline. */
static void chan_read_drained(struct chan *c, struct chan_fd *f)
{
	f->readable = 0;
	if (c->kind == MUX_KIND_SHELL && c->exited && c->drain_deadline == 0)
		c->drain_deadline = agent_now_ms() + SHELL_DRAIN_MS;
}

/* One read from one stream into the queue. Returns 1 if bytes moved. */
static int chan_read_stream(struct agent *a, struct chan *c, int idx)
{
	static uint8_t scratch[MUX_MAX_DATA];
	struct chan_fd *f = &c->fds[idx];
	size_t want = c->tx_window < sizeof(scratch) ? c->tx_window : sizeof(scratch);
	ssize_t n;

	if (f->fd < 0 || f->stream != idx || !f->readable || c->out[idx].ended || want == 0 ||
	    !c->opened || c->close_sent)
		return 0;
	do
		n = read(f->fd, scratch, want);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		if (mux_put_data(&c->conn->out, c->id, (uint8_t)idx, scratch, (size_t)n) != MUX_OK) {
			/* Cannot happen below OUT_DATA_HIGH; never lose bytes silently. */
			log_msg("channel %u: queue refused %zd bytes", c->id, n);
			return 0;
		}
		c->tx_window -= (uint32_t)n;
		c->drain_deadline = 0;
		/* A short read drained the fd (new bytes raise a new edge); after a
		 * hangup keep reading until EOF/EIO instead. */
		if ((size_t)n < want && !f->hup)
			chan_read_drained(c, f);
		return 1;
	}
	if (n < 0 && errno == EAGAIN) {
		chan_read_drained(c, f);
		return 0;
	}
	/* 0: EOF; EIO: pty slave gone; anything else: the stream is over. */
	if (n < 0 && errno != EIO)
		log_debug("channel %u: read: %s", c->id, strerror(errno));
	if (n < 0 && chan_is_socket(c))
		chan_input_failed(a, c); /* reset: writing is over too */
	chan_stream_ended(a, c, idx);
	return 1;
}

/*
 * Fill one stream's queue from its channels, round-robin, up to
 * OUT_DATA_HIGH. Each stream has its own queue and cursor, so a stream whose
 * host does not read never holds back the other's channels.
 */
static int chan_pump_conn(struct agent *a, struct conn *conn)
{
	struct buf *out = &conn->out;
	int progress = 0, any;

	if (!conn_ready(conn))
		return 0;
	do {
		any = 0;
		for (unsigned k = 0; k < a->nchans; k++) {
			unsigned i = (conn->rr + k) % a->nchans;
			struct chan *c = a->chans[i];

			if (c->conn != conn)
				continue;
			for (int s = 0; s < 3; s++) {
				if (buf_used(out) >= OUT_DATA_HIGH) {
					conn->rr = i; /* resume with this channel */
					return progress;
				}
				any |= chan_read_stream(a, c, s);
			}
		}
		if (a->nchans)
			conn->rr = (conn->rr + 1) % a->nchans;
		progress |= any;
	} while (any);
	return progress;
}

int chan_pump(struct agent *a)
{
	int progress = 0;

	for (int k = 0; k < CONN_COUNT; k++)
		progress |= chan_pump_conn(a, &a->conns[k]);
	return progress;
}

static int chan_all_eof(const struct chan *c)
{
	for (int s = 0; s < 3; s++)
		if (c->out[s].active && !c->out[s].eof_sent)
			return 0;
	return 1;
}

static void chan_exit_info(const struct chan *c, struct mux_exit *e)
{
	memset(e, 0, sizeof(*e));
	if (WIFSIGNALED(c->wstatus)) {
		e->how = MUX_EXIT_SIGNAL;
		e->value = WTERMSIG(c->wstatus);
		e->core = WCOREDUMP(c->wstatus) ? 1 : 0;
	} else {
		e->how = MUX_EXIT_CODE;
		e->value = WEXITSTATUS(c->wstatus);
	}
}

/* Emit whatever end-of-channel messages are due. Returns 1 on progress. */
static int chan_advance_one(struct agent *a, struct chan *c, int64_t now)
{
	struct buf *out = &c->conn->out;
	struct mux_exit e;
	int progress = 0;

	if (c->kind == MUX_KIND_SHELL && c->exited && c->drain_deadline && now >= c->drain_deadline &&
	    c->fds[0].fd >= 0) {
		c->drain_deadline = 0;
		/* Output arrived that we could not read yet (no window): not idle,
		 * the next EAGAIN re-arms the deadline. Else something else holds
		 * the pty open and the shell's output is done. */
		if (!c->fds[0].readable) {
			log_debug("%s: channel %u: pty still open after exit, ending", c->conn->name,
				  c->id);
			chan_stream_ended(a, c, 0);
			progress = 1;
		}
	}
	for (int s = 0; s < 3; s++) {
		if (!c->out[s].active || !c->out[s].ended || c->out[s].eof_sent)
			continue;
		if (mux_put_eof(out, c->id, (uint8_t)s) != MUX_OK)
			return progress;
		c->out[s].eof_sent = 1;
		progress = 1;
	}
	if (!chan_all_eof(c) || c->close_sent)
		return progress;
	if (chan_is_socket(c)) {
		if (!c->in_closed)
			return progress; /* half-closed: the host may still send */
	} else {
		if (!c->exited)
			return progress;
		if (!c->exit_sent) {
			chan_exit_info(c, &e);
			if (mux_put_exit(out, c->id, &e) != MUX_OK)
				return progress;
			c->exit_sent = 1;
		}
	}
	if (mux_put_close(out, c->id) != MUX_OK)
		return 1;
	c->close_sent = 1;
	chan_close_all(a, c);
	return 1;
}

int chan_advance(struct agent *a, int64_t now)
{
	int progress = 0;

	/* Backwards: chan_tcp_connected may destroy the channel. */
	for (unsigned i = a->nchans; i-- > 0;) {
		struct chan *c = a->chans[i];

		if (!conn_ready(c->conn))
			continue;
		if (c->connecting) {
			if (c->fds[0].writable) {
				chan_tcp_connected(a, c);
				progress = 1;
			}
			continue;
		}
		progress |= chan_advance_one(a, c, now);
	}
	return progress;
}

int64_t chan_next_deadline(struct agent *a)
{
	int64_t best = 0;

	for (unsigned i = 0; i < a->nchans; i++) {
		int64_t d = a->chans[i]->drain_deadline;

		/* Deadlines are acted on only within their stream's session. */
		if (!conn_ready(a->chans[i]->conn))
			continue;
		if (d && a->chans[i]->fds[0].fd >= 0 && (best == 0 || d < best))
			best = d;
	}
	return best;
}

/*
 * A new host session: both windows go back to their initial values and the
 * end-of-channel messages sent on the old stream are sent again (they may
 * have been lost with it). Input still buffered is kept, trimmed to one
 * window so the buffer stays bounded however often the host reconnects.
 */
void chan_session_reset(struct agent *a, const struct conn *conn)
{
	for (unsigned i = 0; i < a->nchans; i++) {
		struct chan *c = a->chans[i];

		if (c->conn != conn)
			continue;
		c->tx_window = c->tx_initial;
		c->rx_avail = AGENT_RX_WINDOW;
		if (buf_used(&c->inbuf) > AGENT_RX_WINDOW)
			buf_consume(&c->inbuf, buf_used(&c->inbuf) - AGENT_RX_WINDOW);
		for (int s = 0; s < 3; s++)
			c->out[s].eof_sent = 0;
		c->exit_sent = 0;
		c->close_sent = 0;
		c->host_eof = c->host_eof && !c->in_closed;
	}
}

void chan_kill_all(struct agent *a)
{
	for (unsigned i = 0; i < a->nchans; i++) {
		struct chan *c = a->chans[i];

		if (c->pid > 0 && !c->exited)
			kill(-c->pid, c->kind == MUX_KIND_SHELL ? SIGHUP : SIGKILL);
	}
}

uint8_t chan_state(const struct chan *c)
{
	if (c->close_sent || c->close_rcvd)
		return 2;
	if (c->exited || (chan_is_socket(c) && c->out[0].ended))
		return 1;
	return 0;
}
