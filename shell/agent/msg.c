/*
 * msg.c - the dispatch table: one handler per message type the host may
 * send. A handler decodes its frame (protocol/mux.c checks every length),
 * finds the channel and hands over; anything refused gets an ERROR on the
 * frame's channel and disturbs nothing else.
 */
#include "agent.h"

#include <stdio.h>
#include <string.h>

typedef void (*msg_handler)(struct agent *a, struct conn *c, const struct mux_frame *f);

static void msg_refuse(struct conn *c, const struct mux_frame *f, int code)
{
	const char *t = mux_type_name(f->hdr.type);
	char m[80];

	snprintf(m, sizeof(m), "%s refused: %s", t ? t : "frame", mux_strerror(code));
	conn_error(c, f->hdr.channel, code, m);
}

/* The frame's channel on this stream, or NULL after answering ERROR NOCHAN. */
static struct chan *msg_chan(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct chan *ch = chan_find(a, c, f->hdr.channel);

	if (ch == NULL)
		msg_refuse(c, f, MUX_E_NOCHAN);
	return ch;
}

static void msg_hello(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct mux_hello h;
	int rc = mux_decode_hello(f, &h);

	if (rc == MUX_OK && h.version != MUX_VERSION)
		rc = MUX_E_VERSION;
	if (rc == MUX_OK && !(h.flags & MUX_HELLO_F_HOST))
		rc = MUX_E_PROTO; /* only a host starts a session */
	if (rc != MUX_OK) {
		msg_refuse(c, f, rc);
		return;
	}
	conn_session_start(a, c);
}

static void msg_ping(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	uint64_t cookie;
	int rc = mux_decode_ping(f, &cookie);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else if (mux_put_ping(&c->out, MUX_PONG, cookie))
		log_msg("queue full: PONG dropped");
}

static void msg_ignore(struct agent *a, struct conn *c, const struct mux_frame *f)
{
}

static void msg_host_error(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct mux_fail e;

	/* Never answered: two peers must not bounce errors forever. */
	if (mux_decode_fail(f, &e) == MUX_OK)
		log_debug("host reports error %d on channel %u: %.*s", e.code, f->hdr.channel,
			  (int)e.msg.len, e.msg.p);
}

static void msg_wrong_way(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	msg_refuse(c, f, MUX_E_PROTO); /* an agent-to-host message */
}

static void msg_ctl(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct mux_ctl_req req;
	int rc = mux_decode_ctl_req(f, &req);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else
		ctl_request(a, c, &req);
}

static void msg_open(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	static struct mux_open o; /* large: keep it off the stack */
	int rc = mux_decode_open(f, &o);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else
		chan_open(a, c, f->hdr.channel, &o);
}

static void msg_data(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct mux_data d;
	struct chan *ch;
	int rc = mux_decode_data(f, &d);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else if ((ch = msg_chan(a, c, f)) != NULL)
		chan_host_data(a, ch, &d);
}

static void msg_window(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	uint32_t incr;
	struct chan *ch;
	int rc = mux_decode_window(f, &incr);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else if ((ch = msg_chan(a, c, f)) != NULL)
		chan_host_window(a, ch, incr);
}

static void msg_resize(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct mux_resize r;
	struct chan *ch;
	int rc = mux_decode_resize(f, &r);

	if (rc != MUX_OK) {
		msg_refuse(c, f, rc);
		return;
	}
	if ((ch = msg_chan(a, c, f)) != NULL && (rc = chan_resize(ch, &r)) != MUX_OK)
		msg_refuse(c, f, rc);
}

static void msg_signal(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	uint8_t signo;
	struct chan *ch;
	int rc = mux_decode_signal(f, &signo);

	if (rc != MUX_OK) {
		msg_refuse(c, f, rc);
		return;
	}
	if ((ch = msg_chan(a, c, f)) != NULL && (rc = chan_signal(ch, signo)) != MUX_OK)
		msg_refuse(c, f, rc);
}

static void msg_eof(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	uint8_t stream;
	struct chan *ch;
	int rc = mux_decode_eof(f, &stream);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else if ((ch = msg_chan(a, c, f)) != NULL)
		chan_host_eof(a, ch, stream);
}

static void msg_close(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	struct chan *ch;
	int rc = mux_decode_close(f);

	if (rc != MUX_OK)
		msg_refuse(c, f, rc);
	else if ((ch = msg_chan(a, c, f)) != NULL)
		chan_host_close(a, ch);
}

static const struct {
	msg_handler fn;
	uint8_t before_hello; /* allowed before the session starts */
} msg_table[256] = {
	[MUX_HELLO] = { msg_hello, 1 },
	[MUX_PING] = { msg_ping, 1 },
	[MUX_PONG] = { msg_ignore, 1 },
	[MUX_ERROR] = { msg_host_error, 1 },
	[MUX_CTL_REQ] = { msg_ctl, 0 },
	[MUX_CTL_RESP] = { msg_wrong_way, 0 },
	[MUX_OPEN] = { msg_open, 0 },
	[MUX_OPEN_OK] = { msg_wrong_way, 0 },
	[MUX_OPEN_FAIL] = { msg_wrong_way, 0 },
	[MUX_DATA] = { msg_data, 0 },
	[MUX_WINDOW] = { msg_window, 0 },
	[MUX_RESIZE] = { msg_resize, 0 },
	[MUX_SIGNAL] = { msg_signal, 0 },
	[MUX_EOF] = { msg_eof, 0 },
	[MUX_EXIT] = { msg_wrong_way, 0 },
	[MUX_CLOSE] = { msg_close, 0 },
};

/* A frame from the host on stream c: everything it touches belongs to c. */
void msg_dispatch(struct agent *a, struct conn *c, const struct mux_frame *f)
{
	if (msg_table[f->hdr.type].fn == NULL) {
		conn_error(c, 0, MUX_E_TYPE, "unknown message type");
		return;
	}
	if (!c->hello && !msg_table[f->hdr.type].before_hello) {
		conn_error(c, 0, MUX_E_STATE, "HELLO first");
		return;
	}
	msg_table[f->hdr.type].fn(a, c, f);
}
