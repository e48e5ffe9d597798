/*
 * shellws.c - the shell WebSocket on an ingress connection; see shellws.h.
 *
 * Output order on the wire: server control frames (ctl, already framed)
 * go first whenever they are pending, then terminal or exec output, so a
 * frame queued before some output (attached, exec_started, dropped) is
 * never overtaken by it. The connection is closed only from the pump, after
 * ctl is written; a shell's exit frame waits until its viewer queue is empty.
 *
 * Closing follows RFC 6455 7.1: after hearthd's CLOSE frame the connection
 * stays until the client's CLOSE comes back (or the client has been silent
 * for SHELLWS_CLOSE_WAIT_MS with everything written), and the client's bytes
 * are read (and dropped) all the while. Hanging up on a socket with unread
 * input makes the kernel reset the connection and throw away what it still
 * had to send: a slow client would lose the CLOSE frame it was owed.
 */
#include "session/shellws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/shellmsg.h"
#include "protocol/token.h"
#include "protocol/utf8.h"
#include "protocol/wsproto.h"
#include "session/execchan.h"
#include "session/lifecycle.h"
#include "session/shellhub.h"
#include "session/store.h"

#define SW_CTL_MAX (64u * 1024)   /* server control frames waiting */
#define SW_CHUNK (16u * 1024)     /* BINARY payload per frame */
#define SW_TICK_MS 1000

enum sw_state { SW_REQUEST, SW_SHELL, SW_EXEC, SW_DONE };

struct shellws {
	struct ingress_conn *c;
	struct hearthd *hd;
	char vm_id[TOKEN_MAX_ID + 1];
	int v1;
	enum sw_state st;
	struct buf rin;
	struct buf ctl;
	char tin[SHELLMSG_MAX];
	size_t tin_len;
	int tin_over;
	uint8_t cur_op;
	struct utf8_check tin_utf8; /* the TEXT message being received */
	int64_t start_ms, rx_ms, ping_ms, traffic_ms;
	lws_sorted_usec_list_t sul;
	int rx_paused;
	int attaching; /* hold the replay back until "attached" is queued */
	/* shell */
	struct shellhub_viewer v;
	int ended;
	struct shellhub_end end;
	char end_reason[128];
	/* exec */
	struct execchan *x;
	char sid[40];
	int x_stdin, x_eof, x_ended;
	struct execchan_end x_end;
	char x_reason[200];
	/* close */
	int closing, close_sent, close_code;
	int peer_closed;  /* the client's CLOSE came: hang up once ours is written */
	int in_lost;      /* a framing error: the client's bytes mean nothing now */
	int64_t flushed_ms; /* when our CLOSE and all before it had been written out */
	char close_reason[WSP_CLOSE_PAYLOAD_MAX];
};

static void sw_pump(struct shellws *w);

/* ---- output ---- */

static void sw_note_traffic(struct shellws *w)
{
	lifecycle_note_traffic_every(w->hd->lc, w->vm_id, &w->traffic_ms);
}

/* Queue one server frame behind the other control frames. */
static void sw_frame(struct shellws *w, uint8_t op, const void *p, size_t n)
{
	uint8_t h[WSP_FRAME_HDR_MAX];
	size_t hl = wsp_frame_header(h, op, n);
	if (w->close_sent)
		return;
	if (buf_room(&w->ctl) < hl + n) {
		/* A client that does not read its control frames: stop. */
		ingress_conn_abort(w->c);
		return;
	}
	buf_put(&w->ctl, h, hl);
	buf_put(&w->ctl, p, n);
}

static void sw_text(struct shellws *w, const char *p, int n)
{
	if (n > 0)
		sw_frame(w, WSP_TEXT, p, (size_t)n);
}

static void sw_error(struct shellws *w, const char *code, const char *msg)
{
	char f[512], m[256];
	/* Reasons can carry the agent's bytes: a TEXT frame holds UTF-8 only. */
	size_t ml = utf8_prefix((const uint8_t *)msg, strlen(msg), sizeof m - 1);
	memcpy(m, msg, ml);
	m[ml] = '\0';
	sw_text(w, f, shellmsg_error_code(f, sizeof f, w->v1 ? code : NULL, m));
}

static void sw_resume_rx(struct shellws *w);

/* Close after the pending control frames (not after pending output). */
static void sw_close(struct shellws *w, int code, const char *reason)
{
	if (w->closing)
		return;
	w->closing = 1;
	w->close_code = code;
	snprintf(w->close_reason, sizeof w->close_reason, "%s", reason);
	w->st = SW_DONE;
	sw_resume_rx(w); /* the client's answering CLOSE must get in */
}

/* The client broke RFC 6455 (1002, 1007, 1009): a CLOSE frame says so, with
 * no error frame before it; framing_lost: its later bytes cannot be parsed. */
static void sw_protocol_fail(struct shellws *w, unsigned code, const char *reason,
			     int framing_lost)
{
	if (framing_lost) {
		w->in_lost = 1;
		buf_reset(&w->rin);
	}
	sw_close(w, (int)code, reason);
}

/* An error frame, then close. */
static void sw_fail(struct shellws *w, int code, const char *ecode, const char *msg)
{
	if (!w->closing)
		sw_error(w, ecode, msg);
	sw_close(w, code, msg);
}

/* One BINARY frame of up to max bytes (with an optional prefix byte) if the
 * connection has room; the number of payload bytes taken, or 0. */
static size_t sw_binary(struct shellws *w, int prefix, const uint8_t *p, size_t n, size_t max)
{
	uint8_t h[WSP_FRAME_HDR_MAX];
	size_t room = ingress_conn_room(w->c), extra = prefix >= 0 ? 1 : 0;
	if (room < WSP_FRAME_HDR_MAX + extra + 1)
		return 0;
	room -= WSP_FRAME_HDR_MAX + extra;
	if (n > room)
		n = room;
	if (n > max)
		n = max;
	size_t hl = wsp_frame_header(h, WSP_BINARY, n + extra);
	uint8_t pre = (uint8_t)prefix;
	ingress_conn_write(w->c, h, hl);
	if (extra)
		ingress_conn_write(w->c, &pre, 1);
	ingress_conn_write(w->c, p, n);
	return n;
}

static void sw_shell_ended_frames(struct shellws *w)
{
	char f[256];
	if (!w->v1) {
		if (w->end.exited)
			sw_close(w, 1000, "shell exited");
		else
			sw_fail(w, 1011, NULL, w->end_reason);
		return;
	}
	if (w->end.exited) {
		if (w->end.have_exit)
			sw_text(w, f, shellmsg_exit(f, sizeof f, w->end.is_signal, w->end.value, 0));
		sw_close(w, 1000, "shell exited");
	} else
		sw_fail(w, 1011, "ShellEnded", w->end_reason);
}

/* Terminal output from the viewer queue; 1 when something changed. */
static int sw_pump_shell(struct shellws *w)
{
	char f[128];
	struct shellhub_viewer *v = &w->v;
	if (v->overflow) {
		sw_fail(w, 1013, NULL, "viewer too slow");
		return 1;
	}
	if (v->dropped) {
		sw_text(w, f, shellmsg_dropped(f, sizeof f, v->dropped));
		v->dropped = 0;
		return 1;
	}
	int moved = 0;
	while (buf_used(&v->q)) {
		size_t n = sw_binary(w, -1, buf_ptr(&v->q), buf_used(&v->q), SW_CHUNK);
		if (!n)
			break;
		buf_consume(&v->q, n);
		moved = 1;
	}
	if (moved)
		sw_note_traffic(w);
	if (!buf_used(&v->q) && w->ended) {
		sw_shell_ended_frames(w);
		return 1;
	}
	return 0;
}

/* Exec output, one record per frame, acknowledged to the agent as written. */
static int sw_pump_exec(struct shellws *w)
{
	char f[256];
	uint8_t stream;
	const uint8_t *p;
	size_t n;
	int moved = 0;
	while (w->x && execchan_peek(w->x, &stream, &p, &n)) {
		if (ingress_conn_room(w->c) < WSP_FRAME_HDR_MAX + 1 + n)
			break;
		sw_binary(w, stream, p, n, n);
		execchan_consume(w->x);
		moved = 1;
	}
	if (moved)
		sw_note_traffic(w);
	if (w->x_ended && !(w->x && execchan_peek(w->x, &stream, &p, &n))) {
		if (w->x_end.failed)
			sw_fail(w, 1008, "ExecFailed", w->x_reason);
		else if (w->x_end.have_exit) {
			sw_text(w, f, shellmsg_exit(f, sizeof f, w->x_end.is_signal, w->x_end.value,
						    w->x_end.timed_out));
			sw_close(w, 1000, "exec finished");
		} else
			sw_fail(w, 1011, "ExecEnded", w->x_reason);
		return 1;
	}
	return 0;
}

static void sw_pump(struct shellws *w)
{
	for (int guard = 0; guard < 64; guard++) {
		size_t n = buf_used(&w->ctl), room = ingress_conn_room(w->c);
		if (n) {
			if (n > room)
				n = room;
			if (n && ingress_conn_write(w->c, buf_ptr(&w->ctl), n) == 0)
				buf_consume(&w->ctl, n);
			if (buf_used(&w->ctl))
				return; /* the connection's writable callback comes back */
		}
		if (w->close_sent) {
			/* The handshake is complete: hang up once ours is
			 * written. Else wait for the client's CLOSE, reading,
			 * from when ours is out (sw_close_wait). */
			if (w->peer_closed)
				ingress_conn_hangup(w->c);
			else if (!w->flushed_ms && ingress_conn_room(w->c) == INGRESS_CONN_OUT_MAX)
				w->flushed_ms = hd_now_ms();
			return;
		}
		if (w->closing) {
			uint8_t c[WSP_CLOSE_PAYLOAD_MAX];
			sw_frame(w, WSP_CLOSE, c,
				 wsp_close_payload(c, (unsigned)w->close_code, w->close_reason));
			w->close_sent = 1;
			continue;
		}
		int again = 0;
		if (w->st == SW_SHELL)
			again = sw_pump_shell(w);
		else if (w->st == SW_EXEC)
			again = sw_pump_exec(w);
		if (!again)
			return;
	}
}

/* ---- the shell ---- */

static void sw_view_output(void *owner)
{
	struct shellws *w = owner;
	if (!w->attaching)
		sw_pump(w);
}

static void sw_view_ended(void *owner, const struct shellhub_end *e)
{
	struct shellws *w = owner;
	w->ended = 1;
	w->end = *e;
	snprintf(w->end_reason, sizeof w->end_reason, "%s", e->reason ? e->reason : "shell ended");
	w->end.reason = w->end_reason;
	sw_pump(w);
}

static void sw_resume_rx(struct shellws *w)
{
	if (w->rx_paused) {
		w->rx_paused = 0;
		ingress_conn_rx_pause(w->c, 0);
	}
}

static void sw_view_input_ready(void *owner)
{
	sw_resume_rx(owner);
}

static const struct shellhub_viewer_ops sw_view_ops = { sw_view_output, sw_view_ended,
							sw_view_input_ready };

/* Become a viewer of s from offset want; 0 or -1 (refused, closing). */
static int sw_view(struct shellws *w, struct shellhub_shell *s, int rw, int has_want,
		   uint64_t want, uint64_t *from, uint64_t *lost)
{
	char err[128];
	w->v.ops = &sw_view_ops;
	w->v.owner = w;
	w->v.rw = rw;
	w->v.marker = w->v1;
	w->st = SW_SHELL;
	if (shellhub_attach(s, &w->v, has_want, want, from, lost, err, sizeof err) < 0) {
		sw_fail(w, 1008, "TooManyViewers", err);
		return -1;
	}
	return 0;
}

static void sw_keys(struct shellws *w, const uint8_t *p, size_t n)
{
	if (!w->v.rw) {
		sw_error(w, "ReadOnly", "this viewer is read-only");
		return;
	}
	if (!w->v.shell)
		return; /* the shell has ended; its exit frame is on the way */
	if (shellhub_input(&w->v, p, n) < 0) {
		sw_fail(w, 1008, NULL, "input overflow");
		return;
	}
	if (!w->rx_paused && shellhub_input_room(&w->v) < SHELLHUB_KEYS_MAX / 2) {
		w->rx_paused = 1;
		ingress_conn_rx_pause(w->c, 1);
	}
}

/* ---- exec ---- */

static void sw_x_started(void *owner, uint32_t pid)
{
	struct shellws *w = owner;
	char m[160];
	sw_text(w, m, shellmsg_exec_started(m, sizeof m, w->sid, pid));
	sw_pump(w);
}

static void sw_x_output(void *owner)
{
	sw_pump(owner);
}

static void sw_x_ended(void *owner, const struct execchan_end *e)
{
	struct shellws *w = owner;
	w->x_ended = 1;
	w->x_end = *e;
	snprintf(w->x_reason, sizeof w->x_reason, "%s", e->reason ? e->reason : "exec ended");
	w->x_end.reason = w->x_reason;
	sw_pump(w);
}

static void sw_x_stdin_ready(void *owner)
{
	sw_resume_rx(owner);
}

static const struct execchan_ops sw_x_ops = { sw_x_started, sw_x_output, sw_x_ended,
					      sw_x_stdin_ready };

static void sw_stdin(struct shellws *w, const uint8_t *p, size_t n)
{
	if (!w->x_stdin || w->x_eof) {
		sw_error(w, "NoStdin", w->x_eof ? "stdin is closed" : "stdin was not requested");
		return;
	}
	if (w->x_ended)
		return; /* the process is gone; its exit frame is on the way */
	if (execchan_stdin(w->x, p, n) < 0) {
		sw_fail(w, 1008, NULL, "input overflow");
		return;
	}
	if (!w->rx_paused && execchan_stdin_queued(w->x) > EXECCHAN_STDIN_MAX / 2) {
		w->rx_paused = 1;
		ingress_conn_rx_pause(w->c, 1);
	}
}

/* ---- control messages ---- */

enum { AT_REQ = 1, AT_SHELL = 2, AT_EXEC = 4 };

static void sw_on_open(struct shellws *w, const struct shellmsg *m)
{
	char err[160], f[128];
	uint64_t from, lost;
	struct shellhub_shell *s = shellhub_open(w->hd, w->vm_id, m->rows, m->cols,
						 m->has_grace ? m->grace : shellhub_default_grace(),
						 err, sizeof err);
	if (!s) {
		sw_fail(w, 1011, "AgentUnavailable", err);
		return;
	}
	sw_text(w, f, shellmsg_session_init(f, sizeof f, shellhub_session_id(s)));
	if (sw_view(w, s, 1, 1, 0, &from, &lost) == 0)
		shellhub_resize(&w->v, m->rows, m->cols);
}

static void sw_on_attach(struct shellws *w, const struct shellmsg *m)
{
	char f[256];
	uint64_t from, lost;
	struct shellhub_shell *s = shellhub_find(w->vm_id, m->session_id);
	if (!s) {
		sw_fail(w, 1008, "NoSuchSession", "no such shell session on this microVM");
		return;
	}
	w->attaching = 1;
	int rc = sw_view(w, s, !m->read_only, m->has_offset, m->offset, &from, &lost);
	w->attaching = 0;
	if (rc == 0)
		sw_text(w, f, shellmsg_attached(f, sizeof f, shellhub_session_id(s), from, lost));
	sw_pump(w);
}

static void sw_on_exec(struct shellws *w, const struct shellmsg *m)
{
	char err[160];
	if (shellhub_uuid(w->sid) < 0) {
		sw_fail(w, 1011, "Internal", "out of randomness");
		return;
	}
	w->st = SW_EXEC;
	w->x_stdin = m->want_stdin;
	w->x = execchan_open(w->hd, w->vm_id, m, &sw_x_ops, w, err, sizeof err);
	if (!w->x)
		sw_fail(w, 1011, "AgentUnavailable", err);
}

static void sw_on_resize(struct shellws *w, const struct shellmsg *m)
{
	shellhub_resize(&w->v, m->rows, m->cols);
}

static void sw_on_signal(struct shellws *w, const struct shellmsg *m)
{
	int rc = -1;
	if (w->st == SW_SHELL) {
		if (!w->v.rw) {
			sw_error(w, "ReadOnly", "this viewer is read-only");
			return;
		}
		rc = w->v.shell ? shellhub_signal(&w->v, m->signo) : 0;
	} else
		rc = execchan_signal(w->x, m->signo);
	if (rc < 0)
		sw_error(w, "SignalFailed", "the signal could not be sent");
}

static void sw_on_detach(struct shellws *w, const struct shellmsg *m)
{
	(void)m;
	shellhub_detach(&w->v);
	sw_close(w, 1000, "detached");
}

static void sw_on_ping(struct shellws *w, const struct shellmsg *m)
{
	char f[600];
	sw_text(w, f, shellmsg_pong(f, sizeof f, m->has_data ? m->data : NULL));
}

static void sw_on_eof(struct shellws *w, const struct shellmsg *m)
{
	(void)m;
	if (!w->x_stdin) {
		sw_error(w, "NoStdin", "stdin was not requested");
		return;
	}
	w->x_eof = 1;
	if (!w->x_ended)
		execchan_eof(w->x);
}

static const struct {
	enum shellmsg_type type;
	int v1_only, states;
	void (*fn)(struct shellws *w, const struct shellmsg *m);
} sw_messages[] = {
	{ SHELLMSG_RESIZE, 0, AT_SHELL, sw_on_resize },
	{ SHELLMSG_OPEN, 1, AT_REQ, sw_on_open },
	{ SHELLMSG_ATTACH, 1, AT_REQ, sw_on_attach },
	{ SHELLMSG_EXEC, 1, AT_REQ, sw_on_exec },
	{ SHELLMSG_SIGNAL, 1, AT_SHELL | AT_EXEC, sw_on_signal },
	{ SHELLMSG_DETACH, 1, AT_SHELL, sw_on_detach },
	{ SHELLMSG_PING, 1, AT_REQ | AT_SHELL | AT_EXEC, sw_on_ping },
	{ SHELLMSG_EOF, 1, AT_EXEC, sw_on_eof },
};

static int sw_state_bit(const struct shellws *w)
{
	static const int bits[] = { [SW_REQUEST] = AT_REQ, [SW_SHELL] = AT_SHELL,
				    [SW_EXEC] = AT_EXEC, [SW_DONE] = 0 };
	return bits[w->st];
}

/* A whole TEXT message: a control frame, never keystrokes. */
static void sw_control(struct shellws *w)
{
	static struct shellmsg m; /* large (exec strings): not on the stack */
	char err[200];
	if (w->tin_over) {
		sw_error(w, "BadRequest", "control frame is too long");
		return;
	}
	memset(&m, 0, sizeof m);
	if (shellmsg_parse(w->tin, w->tin_len, &m, err, sizeof err) < 0) {
		/* A malformed request decides nothing: the connection ends. */
		if (w->v1 && w->st == SW_REQUEST &&
		    (m.type == SHELLMSG_OPEN || m.type == SHELLMSG_ATTACH ||
		     m.type == SHELLMSG_EXEC))
			sw_fail(w, 1008, "BadRequest", err);
		else
			sw_error(w, "BadRequest", err);
		return;
	}
	for (size_t i = 0; i < sizeof sw_messages / sizeof sw_messages[0]; i++) {
		if (sw_messages[i].type != m.type || (sw_messages[i].v1_only && !w->v1))
			continue;
		if (!(sw_messages[i].states & sw_state_bit(w))) {
			sw_error(w, "BadState",
				 w->st == SW_REQUEST ? "send open, attach or exec first"
						     : "not valid on this connection");
			return;
		}
		sw_messages[i].fn(w, &m);
		return;
	}
	sw_error(w, "BadRequest", "unknown control frame type");
}

static void sw_binary_in(struct shellws *w, const uint8_t *p, size_t n)
{
	if (w->st == SW_SHELL)
		sw_keys(w, p, n);
	else if (w->st == SW_EXEC)
		sw_stdin(w, p, n);
	else if (w->st == SW_REQUEST)
		sw_error(w, "BadState", "send open, attach or exec first");
}

/* One client frame; -1 is a protocol error, -2 a TEXT message that is not UTF-8. */
static int sw_client_frame(struct shellws *w, const struct wsp_frame *f)
{
	uint8_t op = f->opcode;
	switch (op) {
	case WSP_PING:
		sw_frame(w, WSP_PONG, f->payload, f->len);
		return 0;
	case WSP_PONG:
		return 0;
	case WSP_CLOSE: {
		unsigned code, bad = wsp_close_check(f->payload, f->len, &code);
		w->peer_closed = 1;
		if (w->closing)
			return 0; /* ours is queued or sent: it is the answer */
		if (bad) {
			sw_protocol_fail(w, bad,
					 bad == WSP_CLOSE_BAD_DATA ? "close reason is not UTF-8"
								   : "invalid close frame",
					 0);
			return 0;
		}
		/* Echo the client's code (none when it sent none); the
		 * connection ends once the echo is written. */
		uint8_t echo[2] = { (uint8_t)(code >> 8), (uint8_t)code };
		sw_frame(w, WSP_CLOSE, echo, code == 1005 ? 0 : 2);
		w->closing = 1;
		w->close_sent = 1;
		w->st = SW_DONE;
		return 0;
	}
	case WSP_CONT:
		if (!w->cur_op)
			return -1;
		op = w->cur_op;
		break;
	default:
		if (w->cur_op)
			return -1; /* a new message inside a fragmented one */
		if (op == WSP_TEXT) {
			w->tin_len = 0;
			w->tin_over = 0;
			utf8_check_init(&w->tin_utf8);
		}
		break;
	}
	w->cur_op = f->fin ? 0 : op;
	if (op == WSP_BINARY) {
		if (!w->closing)
			sw_binary_in(w, f->payload, f->len);
		return 0;
	}
	/* A TEXT message must be UTF-8 (RFC 6455 8.1), checked as it comes. */
	if (utf8_check_feed(&w->tin_utf8, f->payload, f->len) < 0 ||
	    (f->fin && !utf8_check_done(&w->tin_utf8)))
		return -2;
	if (f->len > sizeof w->tin - w->tin_len)
		w->tin_over = 1;
	else {
		memcpy(w->tin + w->tin_len, f->payload, f->len);
		w->tin_len += f->len;
	}
	if (f->fin && !w->closing)
		sw_control(w);
	return 0;
}

/* Frames after our CLOSE: only the client's CLOSE matters now. */
static void sw_after_close(struct shellws *w, const struct wsp_frame *f)
{
	if (f->opcode == WSP_CLOSE)
		w->peer_closed = 1;
}

static int sw_rx(void *h, const uint8_t *in, size_t len)
{
	struct shellws *w = h;
	struct wsp_frame f;
	/* Read everything, even now, so the socket never closes on unread input. */
	if (w->in_lost || w->peer_closed)
		return 0;
	if (buf_put(&w->rin, in, len) != BUF_OK)
		return -1;
	w->rx_ms = hd_now_ms();
	while (!w->in_lost && !w->peer_closed) {
		long n = wsp_frame_take((uint8_t *)buf_ptr(&w->rin), buf_used(&w->rin), WSP_FRAME_MAX,
					&f);
		if (n == 0)
			break;
		if (n < 0) {
			if (n == -2)
				sw_protocol_fail(w, WSP_CLOSE_TOO_BIG, "frame too big", 1);
			else
				sw_protocol_fail(w, WSP_CLOSE_PROTOCOL, "protocol error", 1);
			break;
		}
		if (w->close_sent) {
			sw_after_close(w, &f);
			buf_consume(&w->rin, (size_t)n);
			continue;
		}
		if (f.opcode != WSP_PING && f.opcode != WSP_PONG)
			sw_note_traffic(w);
		int rc = sw_client_frame(w, &f);
		buf_consume(&w->rin, (size_t)n);
		if (rc == -2)
			sw_protocol_fail(w, WSP_CLOSE_BAD_DATA, "text is not UTF-8", 0);
		else if (rc < 0)
			sw_protocol_fail(w, WSP_CLOSE_PROTOCOL, "protocol error", 0);
	}
	sw_pump(w);
	return 0;
}

static void sw_writable(void *h)
{
	sw_pump(h);
}

/* Closing: hang up when the client has not answered our CLOSE, all of it
 * written, and has sent nothing for SHELLWS_CLOSE_WAIT_MS (a client still
 * sending is alive and may be catching up on what the kernel holds for it);
 * after a framing error its CLOSE cannot be seen, so it gets
 * SHELLWS_LOST_WAIT_MS to take ours and go. */
static void sw_close_wait(struct shellws *w, int64_t now)
{
	if (!w->close_sent || w->peer_closed)
		return;
	if (!w->flushed_ms && ingress_conn_room(w->c) == INGRESS_CONN_OUT_MAX)
		w->flushed_ms = now;
	if (!w->flushed_ms)
		return;
	if (w->in_lost ? now - w->flushed_ms > SHELLWS_LOST_WAIT_MS
		       : now - (w->flushed_ms > w->rx_ms ? w->flushed_ms : w->rx_ms) >
				 SHELLWS_CLOSE_WAIT_MS)
		ingress_conn_hangup(w->c);
}

static void sw_free(struct shellws *w)
{
	lws_sul_cancel(&w->sul);
	shellhub_viewer_fini(&w->v);
	execchan_close(w->x);
	buf_free(&w->rin);
	buf_free(&w->ctl);
	free(w);
}

static void sw_closed(void *h)
{
	sw_free(h);
}

static const struct ingress_handler_ops sw_conn_ops = { sw_rx, sw_writable, sw_closed };

/* Once a second: request wait, keepalive. */
static void sw_tick(lws_sorted_usec_list_t *sul)
{
	struct shellws *w = lws_container_of(sul, struct shellws, sul);
	int64_t now = hd_now_ms();
	if (w->v1 && !w->closing) {
		if (w->st == SW_REQUEST && now - w->start_ms > SHELLWS_REQUEST_MS)
			sw_fail(w, 1008, "BadRequest", "no request");
		else if (now - w->rx_ms > SHELLWS_IDLE_MS)
			sw_close(w, 1001, "keepalive timeout");
		else if (now - w->ping_ms >= SHELLWS_PING_MS) {
			w->ping_ms = now;
			sw_frame(w, WSP_PING, "hearth", 6);
		}
	}
	sw_close_wait(w, now);
	sw_pump(w);
	lws_sul_schedule(w->hd->lws, 0, &w->sul, sw_tick, SW_TICK_MS * LWS_US_PER_MS);
}

/* ---- the upgrade ---- */

void shellws_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		    size_t headlen, const char *vm_id)
{
	struct hearthd *hd = ingress_conn_hd(c);
	struct token_claims cl;
	char accept[WSP_ACCEPT_LEN + 1], msg[200], resp[512], f[160];
	(void)head;
	(void)headlen;
	if (strcmp(r->path, "/") && strcmp(r->path, "/shell")) {
		ingress_conn_refuse(c, 404, "the shell is at / or /shell");
		return;
	}
	enum ingress_auth a = ingress_authorize(hd, r, vm_id, &cl);
	if (a == INGRESS_AUTH_MISSING) {
		ingress_conn_refuse(c, 401, "a shell token is required");
		return;
	}
	if (a != INGRESS_AUTH_OK || cl.kind != TOKEN_KIND_SHELL) {
		ingress_conn_refuse(c, 403, "the token is not valid for this endpoint");
		return;
	}
	lifecycle_note_traffic(hd->lc, vm_id);
	if (lifecycle_request_resume(hd->lc, vm_id) < 0) {
		struct store_vm *v = malloc(sizeof *v);
		if (v && store_vm_get(hd->store, vm_id, v) == 1 && !strcmp(v->state, "SUSPENDED"))
			snprintf(msg, sizeof msg,
				 "microVM is SUSPENDED and autoResume is off: resume it with the API "
				 "first");
		else
			snprintf(msg, sizeof msg, "microVM is %s", v ? v->state : "not running");
		free(v);
		ingress_conn_refuse(c, 409, msg);
		return;
	}
	struct shellws *w = calloc(1, sizeof *w);
	if (!w || wsp_accept(r->key, accept) < 0) {
		free(w);
		ingress_conn_refuse(c, 500, "cannot accept the WebSocket");
		return;
	}
	w->c = c;
	w->hd = hd;
	snprintf(w->vm_id, sizeof w->vm_id, "%s", vm_id);
	w->v1 = wsp_offers_protocol(r->protocols, SHELLWS_PROTO_V1);
	/* One partial frame plus whatever arrived behind it. */
	buf_init(&w->rin, 2 * (WSP_FRAME_HDR_MAX + WSP_FRAME_MAX));
	buf_init(&w->ctl, SW_CTL_MAX);
	shellhub_viewer_init(&w->v);
	w->start_ms = w->rx_ms = w->ping_ms = hd_now_ms();
	const char *proto = w->v1 ? SHELLWS_PROTO_V1
				  : wsp_offers_protocol(r->protocols, SHELLWS_PROTO) ? SHELLWS_PROTO
										     : NULL;
	char protoline[64] = "";
	if (proto)
		snprintf(protoline, sizeof protoline, "Sec-WebSocket-Protocol: %s\r\n", proto);
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
			 accept, protoline);
	ingress_conn_bind(c, &sw_conn_ops, w);
	ingress_conn_write(c, resp, (size_t)n);
	sw_note_traffic(w);
	if (w->v1) {
		w->st = SW_REQUEST;
		sw_text(w, f, shellmsg_hello(f, sizeof f, SHELLHUB_RING, shellhub_default_grace()));
	} else {
		/* The compatible core: one shell, ended with its connection. */
		uint64_t from, lost;
		struct shellhub_shell *s = shellhub_open(hd, vm_id, 0, 0, 0, msg, sizeof msg);
		if (!s)
			sw_fail(w, 1011, NULL, msg);
		else {
			sw_text(w, f, shellmsg_session_init(f, sizeof f, shellhub_session_id(s)));
			sw_view(w, s, 1, 1, 0, &from, &lost);
		}
	}
	sw_pump(w);
	lws_sul_schedule(hd->lws, 0, &w->sul, sw_tick, SW_TICK_MS * LWS_US_PER_MS);
}
