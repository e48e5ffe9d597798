/*
 * ingress.c - the TLS endpoint vhost and the shell WebSocket (compatible
 * core); see ingress.h. Everything runs on hearthd's event-loop thread.
 * lws terminates TLS and hands us raw bytes (its raw-skt role); the HTTP
 * upgrade and the WebSocket framing are ours (protocol/wsproto.h says why).
 * The client connection and the agent socket (adopted as a raw lws
 * connection on a non-listening vhost) are two wsis sharing one
 * struct ingress_sess, freed when both are gone.
 */
#include "session/ingress.h"

#include <fcntl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "protocol/mux.h"
#include "protocol/shellmsg.h"
#include "protocol/token.h"
#include "protocol/wsproto.h"
#include "session/httpd.h"
#include "session/keeper.h"
#include "session/lifecycle.h"
#include "session/store.h"
#include "session/tlscert.h"

#define INGRESS_PROTO "lambda-microvms"
#define INGRESS_CLIENT_PROTO "hearth-ingress"
#define INGRESS_WOUT_MAX (128u * 1024)        /* framed bytes to the client */
#define INGRESS_HEAD_S 30                     /* seconds to send the request head */
#define INGRESS_AUTH_PREFIX "lambda-microvms.authentication."
#define INGRESS_AGENT_PROTO "hearth-ingress-agent"
#define INGRESS_CHUNK (16u * 1024)            /* bytes per lws_write */
#define INGRESS_AOUT_MAX (INGRESS_KEYS_MAX + 64u * 1024) /* frames to the agent */
#define INGRESS_POLL_MS 200                   /* resume / handshake checks */

enum sess_state { S_HEAD, S_WAIT_VM, S_HELLO, S_OPENING, S_OPEN, S_DONE };

struct ingress_sess {
	struct hearthd *hd;
	struct lws *ws, *agent; /* the client's TLS connection, the agent stream */
	char id[TOKEN_MAX_ID + 1];
	char session_id[40];
	enum sess_state st;
	uint32_t ch;
	int64_t deadline_ms, traffic_ms;
	lws_sorted_usec_list_t sul;
	struct mux_reader *rdr;
	struct buf rin;  /* client bytes: the request head, then frames */
	struct buf wout; /* bytes to the client (response, frames) */
	struct buf aout; /* encoded frames to the agent */
	struct buf keys; /* keystrokes waiting for the agent's window */
	struct buf out;  /* terminal output waiting for the client (bounded by our window) */
	char tin[SHELLMSG_MAX];
	size_t tin_len;
	int tin_over;
	uint8_t cur_op; /* opcode of a fragmented message in progress, 0 none */
	uint64_t send_window;
	int have_size, size_dirty;
	uint16_t rows, cols;
	int closing, close_code, rx_paused, agent_closing, close_sent, hangup;
	char close_reason[100];
};

static struct lws_vhost *agent_vhost;
static uint8_t scratch[LWS_PRE + INGRESS_CHUNK];

/* ---- routing and authorization ---- */

enum auth { AUTH_OK, AUTH_MISSING, AUTH_DENIED };

/* "<id>.localhost[:port]" -> id; -1 when the Host names no VM. */
static int host_vm_id(const char *hosthdr, char *id, size_t idlen)
{
	char host[256];
	snprintf(host, sizeof host, "%s", hosthdr);
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	char *dot = strchr(host, '.');
	if (!dot || dot == host || (size_t)(dot - host) >= idlen || strcasecmp(dot + 1, "localhost"))
		return -1;
	memcpy(id, host, (size_t)(dot - host));
	id[dot - host] = '\0';
	return 0;
}

/*
 * The shell token comes in a subprotocol "lambda-microvms.authentication.<token>"
 * or in X-aws-proxy-auth. Every refusal past "no token" looks the same, so a
 * caller cannot tell whether the VM exists. On AUTH_OK *v holds the VM.
 */
static enum auth authorize(struct hearthd *hd, const struct wsp_request *r, char *id,
			   size_t idlen, struct store_vm *v)
{
	char tok[TOKEN_MAX_LEN + 2];
	struct token_claims cl;
	int found = wsp_find_protocol(r->protocols, INGRESS_AUTH_PREFIX, tok, sizeof tok);
	if (found == 0 && r->auth[0])
		found = snprintf(tok, sizeof tok, "%s", r->auth) < (int)sizeof tok ? 1 : -1;
	if (found == 0)
		return AUTH_MISSING;
	if (found < 0 || host_vm_id(r->host, id, idlen) < 0)
		return AUTH_DENIED;
	if (token_verify(hd->key, sizeof hd->key, tok, strlen(tok), (uint64_t)hd_now(), &cl) !=
		    TOKEN_OK ||
	    cl.kind != TOKEN_KIND_SHELL || strcmp(cl.vm_id, id) != 0)
		return AUTH_DENIED;
	if (store_vm_get(hd->store, id, v) != 1 || (uint32_t)v->generation != cl.generation)
		return AUTH_DENIED;
	return AUTH_OK;
}

/* ---- sessions ---- */

static void sess_tick(lws_sorted_usec_list_t *sul);

static void sess_free(struct ingress_sess *s)
{
	lws_sul_cancel(&s->sul);
	buf_free(&s->aout);
	buf_free(&s->keys);
	buf_free(&s->out);
	buf_free(&s->rin);
	buf_free(&s->wout);
	free(s->rdr);
	free(s);
}

static void note_traffic(struct ingress_sess *s)
{
	int64_t now = hd_now_ms();
	if (now - s->traffic_ms >= 1000) {
		s->traffic_ms = now;
		lifecycle_note_traffic(s->hd->lc, s->id);
	}
}

/* Queue one frame to the client. */
static int sess_frame(struct ingress_sess *s, uint8_t op, const void *p, size_t n)
{
	uint8_t h[WSP_FRAME_HDR_MAX];
	size_t hl = wsp_frame_header(h, op, n);
	if (!s->ws || s->close_sent || buf_room(&s->wout) < hl + n)
		return -1;
	buf_put(&s->wout, h, hl);
	buf_put(&s->wout, p, n);
	lws_callback_on_writable(s->ws);
	return 0;
}

static int sess_text(struct ingress_sess *s, const char *p, size_t n)
{
	return sess_frame(s, WSP_TEXT, p, n);
}

static void sess_error_frame(struct ingress_sess *s, const char *msg)
{
	char f[512];
	int n = shellmsg_error(f, sizeof f, msg);
	if (n > 0 && sess_text(s, f, (size_t)n) < 0 && s->ws && !s->closing) {
		/* A client that never reads its errors: stop talking to it. */
		s->closing = 1;
		s->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		snprintf(s->close_reason, sizeof s->close_reason, "too many errors");
		lws_callback_on_writable(s->ws);
	}
}

/* Close the WebSocket once queued output is written. */
static void sess_finish(struct ingress_sess *s, int code, const char *reason)
{
	if (s->st != S_DONE && code != LWS_CLOSE_STATUS_NORMAL)
		sess_error_frame(s, reason);
	s->st = S_DONE;
	if (!s->ws || s->closing)
		return;
	s->closing = 1;
	s->close_code = code;
	snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
	lws_callback_on_writable(s->ws);
}

static void agent_kick(struct ingress_sess *s)
{
	if (s->agent && buf_used(&s->aout))
		lws_callback_on_writable(s->agent);
}

/* Keystrokes into DATA frames within the agent's window. */
static void sess_pump_keys(struct ingress_sess *s)
{
	while (s->st == S_OPEN && s->send_window > 0 && buf_used(&s->keys) > 0) {
		size_t n = buf_used(&s->keys);
		if (n > s->send_window)
			n = (size_t)s->send_window;
		if (n > INGRESS_CHUNK)
			n = INGRESS_CHUNK;
		if (mux_put_data(&s->aout, s->ch, MUX_STREAM_MAIN, buf_ptr(&s->keys), n) != MUX_OK)
			break; /* aout full: the agent's writable callback pumps again */
		buf_consume(&s->keys, n);
		s->send_window -= n;
	}
	if (s->rx_paused && s->ws && buf_used(&s->keys) < INGRESS_KEYS_MAX / 4) {
		s->rx_paused = 0;
		lws_rx_flow_control(s->ws, 1);
	}
	agent_kick(s);
}

static void sess_send_resize(struct ingress_sess *s)
{
	if (s->st != S_OPEN || !s->size_dirty)
		return;
	struct mux_resize rz = { s->rows, s->cols, 0, 0 };
	if (mux_put_resize(&s->aout, s->ch, &rz) == MUX_OK)
		s->size_dirty = 0;
	agent_kick(s);
}

static int sess_open_shell(struct ingress_sess *s)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_SHELL;
	o.window = INGRESS_WINDOW;
	o.term = mux_cstr("xterm-256color");
	o.login = 1;
	if (s->have_size) {
		o.has_size = 1;
		o.rows = s->rows;
		o.cols = s->cols;
		s->size_dirty = 0;
	}
	if (mux_put_open(&s->aout, s->ch, &o) != MUX_OK)
		return -1;
	s->st = S_OPENING;
	agent_kick(s);
	return 0;
}

/* One frame from the agent; -1 ends the session. */
static int sess_agent_frame(struct ingress_sess *s, const struct mux_frame *f)
{
	struct mux_data d;
	struct mux_open_ok ok;
	struct mux_fail fl;
	struct mux_exit ex;
	struct mux_hello h;
	uint32_t incr;
	char msg[200];

	if (f->hdr.type == MUX_HELLO && s->st == S_HELLO) {
		if (mux_decode_hello(f, &h) != MUX_OK)
			return -1;
		return sess_open_shell(s);
	}
	if (f->hdr.channel != s->ch) {
		if (f->hdr.channel == 0 && f->hdr.type == MUX_ERROR) {
			sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "agent error");
			return -1;
		}
		return 0; /* another client's channel, or control traffic not ours */
	}
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		if (s->st != S_OPENING || mux_decode_open_ok(f, &ok) != MUX_OK)
			return -1;
		s->st = S_OPEN;
		s->send_window = ok.window;
		sess_send_resize(s);
		sess_pump_keys(s);
		return 0;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			snprintf(msg, sizeof msg, "shell refused: %.*s", fl.msg.len > 80 ? 80 : fl.msg.len,
				 fl.msg.p);
		else
			snprintf(msg, sizeof msg, "shell refused");
		sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, msg);
		return 0;
	case MUX_DATA:
		if (s->st != S_OPEN || mux_decode_data(f, &d) != MUX_OK)
			return -1;
		/* The agent sends within our window, so this buffer is bounded by it. */
		if (buf_put(&s->out, d.p, d.len) != BUF_OK)
			return -1;
		if (s->ws && d.len)
			lws_callback_on_writable(s->ws);
		return 0;
	case MUX_WINDOW:
		if (mux_decode_window(f, &incr) != MUX_OK)
			return -1;
		s->send_window += incr;
		if (s->send_window > MUX_MAX_WINDOW)
			s->send_window = MUX_MAX_WINDOW;
		sess_pump_keys(s);
		return 0;
	case MUX_EXIT:
		return mux_decode_exit(f, &ex) == MUX_OK ? 0 : -1;
	case MUX_CLOSE:
		mux_put_close(&s->aout, s->ch);
		s->agent_closing = 1;
		agent_kick(s);
		sess_finish(s, LWS_CLOSE_STATUS_NORMAL, "shell exited");
		return 0;
	case MUX_ERROR:
		sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "agent error");
		return -1;
	default:
		return 0;
	}
}

static int sess_connect_agent(struct ingress_sess *s)
{
	char vmdir[PATH_MAX];
	if ((size_t)snprintf(vmdir, sizeof vmdir, "%s/vms/%s", s->hd->cfg.state_dir, s->id) >=
	    sizeof vmdir)
		return -1;
	int fd = keeper_agent_connect(vmdir, 0);
	if (fd < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	lws_sock_file_fd_type sfd;
	sfd.sockfd = fd;
	s->agent = lws_adopt_descriptor_vhost(agent_vhost, LWS_ADOPT_SOCKET, sfd,
					      INGRESS_AGENT_PROTO, NULL);
	if (!s->agent)
		return -1; /* lws closed the descriptor */
	lws_set_opaque_user_data(s->agent, s);
	if (mux_put_hello(&s->aout, MUX_HELLO_F_HOST, 0, "hearthd-ingress/0.1") != MUX_OK)
		return -1;
	s->st = S_HELLO;
	s->deadline_ms = hd_now_ms() + INGRESS_OPEN_MS;
	agent_kick(s);
	return 0;
}

/* Timer: wait for the VM to run, then for the agent's HELLO and OPEN_OK. */
static void sess_tick(lws_sorted_usec_list_t *sul)
{
	struct ingress_sess *s = lws_container_of(sul, struct ingress_sess, sul);
	if (!s->ws || s->st == S_OPEN || s->st == S_DONE)
		return;
	if (s->st == S_WAIT_VM) {
		int rc = lifecycle_request_resume(s->hd->lc, s->id);
		if (rc < 0) {
			sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				    "microVM is not running and cannot be resumed automatically");
			return;
		}
		if (rc == 1 && sess_connect_agent(s) < 0) {
			sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				    "cannot reach the microVM's agent");
			return;
		}
	}
	if (hd_now_ms() > s->deadline_ms) {
		sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
			    s->st == S_WAIT_VM ? "microVM did not resume in time"
					       : "the microVM's agent did not answer in time");
		return;
	}
	lws_sul_schedule(s->hd->lws, 0, &s->sul, sess_tick, INGRESS_POLL_MS * LWS_US_PER_MS);
}

static struct ingress_sess *sess_new(struct hearthd *hd, struct lws *wsi)
{
	struct ingress_sess *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->rdr = malloc(sizeof *s->rdr);
	if (!s->rdr) {
		free(s);
		return NULL;
	}
	mux_reader_init(s->rdr);
	s->hd = hd;
	s->ws = wsi;
	s->st = S_HEAD;
	buf_init(&s->rin, WSP_HEAD_MAX + WSP_FRAME_HDR_MAX + WSP_FRAME_MAX);
	buf_init(&s->wout, INGRESS_WOUT_MAX);
	buf_init(&s->aout, INGRESS_AOUT_MAX);
	buf_init(&s->keys, INGRESS_KEYS_MAX);
	buf_init(&s->out, INGRESS_WINDOW + MUX_MAX_DATA);
	return s;
}

/* A random v4 UUID for session_init, and a random channel id. */
static int sess_ids(struct ingress_sess *s)
{
	uint8_t r[16];
	uint32_t ch = 0;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	char *p = s->session_id;
	for (int i = 0; i < 16; i++) {
		p += sprintf(p, "%02x", r[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	/* Channels of an earlier client of the agent may still be live. */
	memcpy(&ch, r + 4, sizeof ch);
	s->ch = ch ? ch : 1;
	return 0;
}

/* An HTTP answer with a JSON body, then hang up. */
static void refuse(struct ingress_sess *s, unsigned status, const char *reason, const char *msg)
{
	char body[512], head[256];
	int n = shellmsg_error(body, sizeof body, msg);
	if (n < 0)
		n = 0, body[0] = '\0';
	int hl = snprintf(head, sizeof head,
			  "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
			  "Content-Length: %d\r\nConnection: close\r\n\r\n",
			  status, reason, n);
	buf_put(&s->wout, head, (size_t)hl);
	buf_put(&s->wout, body, (size_t)n);
	s->st = S_DONE;
	s->hangup = 1;
	lws_callback_on_writable(s->ws);
}

/* The request head is in: refuse it or switch to WebSocket. */
static void sess_request(struct ingress_sess *s, const struct wsp_request *r)
{
	char id[TOKEN_MAX_ID + 1], accept[WSP_ACCEPT_LEN + 1], msg[200], resp[512], f[128];
	if (!wsp_is_upgrade(r)) {
		refuse(s, 501, "Not Implemented",
		       "only the shell WebSocket is served here (no app proxy yet)");
		return;
	}
	if (strcmp(r->path, "/") != 0 && strcmp(r->path, "/shell") != 0) {
		refuse(s, 404, "Not Found", "the shell is at / or /shell");
		return;
	}
	struct store_vm *v = malloc(sizeof *v);
	if (!v) {
		refuse(s, 500, "Internal Server Error", "out of memory");
		return;
	}
	enum auth a = authorize(s->hd, r, id, sizeof id, v);
	if (a == AUTH_OK) {
		lifecycle_note_traffic(s->hd->lc, id);
		if (lifecycle_request_resume(s->hd->lc, id) < 0) {
			if (!strcmp(v->state, "SUSPENDED"))
				snprintf(msg, sizeof msg,
					 "microVM is SUSPENDED and autoResume is off: resume it "
					 "with the API first");
			else
				snprintf(msg, sizeof msg, "microVM is %s", v->state);
			free(v);
			refuse(s, 409, "Conflict", msg);
			return;
		}
	}
	free(v);
	if (a == AUTH_MISSING) {
		refuse(s, 401, "Unauthorized", "a shell token is required");
		return;
	}
	if (a == AUTH_DENIED) {
		refuse(s, 403, "Forbidden", "the token is not valid for this endpoint");
		return;
	}
	if (wsp_accept(r->key, accept) < 0 || sess_ids(s) < 0) {
		refuse(s, 500, "Internal Server Error", "cannot accept the WebSocket");
		return;
	}
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
			 accept,
			 wsp_offers_protocol(r->protocols, INGRESS_PROTO)
				 ? "Sec-WebSocket-Protocol: " INGRESS_PROTO "\r\n"
				 : "");
	buf_put(&s->wout, resp, (size_t)n);
	snprintf(s->id, sizeof s->id, "%s", id);
	lws_set_timeout(s->ws, NO_PENDING_TIMEOUT, 0);
	s->st = S_WAIT_VM;
	s->deadline_ms = hd_now_ms() + INGRESS_RESUME_MS;
	n = shellmsg_session_init(f, sizeof f, s->session_id);
	if (n > 0)
		sess_text(s, f, (size_t)n);
	note_traffic(s);
	sess_tick(&s->sul);
}

/* A whole TEXT message: a control frame, never keystrokes. */
static void sess_control(struct ingress_sess *s)
{
	char err[160];
	struct shellmsg m;
	if (s->tin_over) {
		sess_error_frame(s, "control frame is too long");
		return;
	}
	if (shellmsg_parse(s->tin, s->tin_len, &m, err, sizeof err) < 0) {
		sess_error_frame(s, err);
		return;
	}
	/* SHELLMSG_RESIZE is the only message of the compatible core. */
	s->have_size = 1;
	s->size_dirty = 1;
	s->rows = m.rows;
	s->cols = m.cols;
	sess_send_resize(s);
}

static void sess_keys(struct ingress_sess *s, const uint8_t *p, size_t n)
{
	if (s->st == S_DONE)
		return;
	if (buf_put(&s->keys, p, n) != BUF_OK) {
		sess_finish(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "input overflow");
		return;
	}
	if (!s->rx_paused && buf_used(&s->keys) > INGRESS_KEYS_MAX / 2) {
		s->rx_paused = 1;
		lws_rx_flow_control(s->ws, 0);
	}
	sess_pump_keys(s);
}

/* One client frame; -1 ends the connection at once. */
static int sess_client_frame(struct ingress_sess *s, const struct wsp_frame *f)
{
	uint8_t op = f->opcode;
	switch (op) {
	case WSP_PING:
		sess_frame(s, WSP_PONG, f->payload, f->len);
		return 0;
	case WSP_PONG:
		return 0;
	case WSP_CLOSE: {
		/* Echo the client's code; the session ends with the connection. */
		uint8_t code[2] = { 0x03, 0xe8 };
		if (f->len >= 2)
			memcpy(code, f->payload, 2);
		sess_frame(s, WSP_CLOSE, code, 2);
		s->close_sent = 1;
		s->hangup = 1;
		s->st = S_DONE;
		return 0;
	}
	case WSP_CONT:
		if (!s->cur_op)
			return -1;
		op = s->cur_op;
		break;
	default:
		if (s->cur_op)
			return -1; /* a new message inside a fragmented one */
		if (op == WSP_TEXT) {
			s->tin_len = 0;
			s->tin_over = 0;
		}
		break;
	}
	s->cur_op = f->fin ? 0 : op;
	if (op == WSP_BINARY) {
		sess_keys(s, f->payload, f->len);
		return 0;
	}
	if (f->len > sizeof s->tin - s->tin_len)
		s->tin_over = 1;
	else {
		memcpy(s->tin + s->tin_len, f->payload, f->len);
		s->tin_len += f->len;
	}
	if (f->fin)
		sess_control(s);
	return 0;
}

static int sess_client_rx(struct ingress_sess *s, const uint8_t *in, size_t len)
{
	struct wsp_request *r;
	struct wsp_frame f;
	if (s->hangup || s->close_sent)
		return 0;
	if (buf_put(&s->rin, in, len) != BUF_OK)
		return -1;
	if (s->st == S_HEAD) {
		r = malloc(sizeof *r);
		if (!r)
			return -1;
		int n = wsp_parse_request((const char *)buf_ptr(&s->rin), buf_used(&s->rin), r);
		if (n < 0)
			refuse(s, n == -2 ? 431 : 400, n == -2 ? "Request Header Fields Too Large"
							       : "Bad Request",
			       "malformed request");
		else if (n > 0) {
			buf_consume(&s->rin, (size_t)n);
			sess_request(s, r);
		}
		free(r);
		if (s->st == S_HEAD || s->hangup)
			return 0;
	}
	note_traffic(s);
	while (!s->hangup && !s->close_sent) {
		long n = wsp_frame_take((uint8_t *)buf_ptr(&s->rin), buf_used(&s->rin), WSP_FRAME_MAX,
					&f);
		if (n == 0)
			break;
		if (n < 0) {
			buf_reset(&s->rin);
			sess_finish(s, n == -2 ? 1009 : 1002, n == -2 ? "frame too big" : "protocol error");
			return 0;
		}
		int rc = sess_client_frame(s, &f);
		buf_consume(&s->rin, (size_t)n);
		if (rc < 0) {
			sess_finish(s, 1002, "protocol error");
			return 0;
		}
	}
	return 0;
}

/* Move terminal output into frames, acknowledging it to the agent. */
static void sess_refill(struct ingress_sess *s)
{
	while (buf_used(&s->out) && buf_used(&s->wout) < INGRESS_CHUNK && !s->close_sent) {
		size_t n = buf_used(&s->out);
		if (n > INGRESS_CHUNK)
			n = INGRESS_CHUNK;
		if (sess_frame(s, WSP_BINARY, buf_ptr(&s->out), n) < 0)
			break;
		buf_consume(&s->out, n);
		if (s->agent && !s->agent_closing && s->st == S_OPEN) {
			mux_put_window(&s->aout, s->ch, (uint32_t)n);
			agent_kick(s);
		}
	}
	if (s->closing && !s->close_sent && !buf_used(&s->out)) {
		uint8_t c[2 + sizeof s->close_reason];
		size_t rl = strlen(s->close_reason);
		if (rl > 123)
			rl = 123;
		c[0] = (uint8_t)(s->close_code >> 8);
		c[1] = (uint8_t)s->close_code;
		memcpy(c + 2, s->close_reason, rl);
		if (sess_frame(s, WSP_CLOSE, c, 2 + rl) == 0) {
			s->close_sent = 1;
			s->hangup = 1;
		}
	}
}

static int sess_client_writeable(struct ingress_sess *s, struct lws *wsi)
{
	if (s->hangup == 2)
		return -1; /* lws has flushed what we wrote last */
	sess_refill(s);
	if (buf_used(&s->wout)) {
		size_t n = buf_used(&s->wout);
		if (n > INGRESS_CHUNK)
			n = INGRESS_CHUNK;
		memcpy(scratch + LWS_PRE, buf_ptr(&s->wout), n);
		buf_consume(&s->wout, n);
		if (lws_write(wsi, scratch + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			return -1;
		note_traffic(s);
		sess_refill(s);
	}
	if (buf_used(&s->wout))
		lws_callback_on_writable(wsi);
	else if (s->hangup) {
		s->hangup = 2;
		lws_callback_on_writable(wsi);
	}
	return 0;
}

static void sess_client_closed(struct ingress_sess *s)
{
	s->ws = NULL;
	lws_sul_cancel(&s->sul);
	if (!s->agent) {
		sess_free(s);
		return;
	}
	if (s->st == S_OPEN || s->st == S_OPENING)
		mux_put_close(&s->aout, s->ch);
	s->st = S_DONE;
	s->agent_closing = 1;
	lws_set_timeout(s->agent, PENDING_TIMEOUT_USER_OK, 5);
	lws_callback_on_writable(s->agent);
}

static int ingress_client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			     void *in, size_t len)
{
	struct hearthd *hd = lws_context_user(lws_get_context(wsi));
	struct ingress_sess **slot = user;
	struct ingress_sess *s = slot ? *slot : NULL;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (!slot || !(*slot = sess_new(hd, wsi)))
			return -1;
		/* The request head must come in time. */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, INGRESS_HEAD_S);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return s ? sess_client_rx(s, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return s ? sess_client_writeable(s, wsi) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		if (s) {
			*slot = NULL;
			sess_client_closed(s);
		}
		return 0;
	default:
		return 0;
	}
}

static int ingress_agent_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			    void *in, size_t len)
{
	struct ingress_sess *s = lws_get_opaque_user_data(wsi);
	struct mux_frame f;
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX: {
		size_t off = 0, used;
		if (!s || s->agent_closing)
			return 0;
		while (off < len) {
			int rc = mux_reader_feed(s->rdr, (const uint8_t *)in + off, len - off, &used, &f);
			off += used;
			if (rc == MUX_AGAIN)
				break;
			if (rc < 0 || sess_agent_frame(s, &f) < 0) {
				sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
					    "agent protocol error");
				return -1;
			}
		}
		return 0;
	}
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (!s)
			return -1;
		if (buf_used(&s->aout)) {
			size_t n = buf_used(&s->aout);
			if (n > INGRESS_CHUNK)
				n = INGRESS_CHUNK;
			memcpy(scratch + LWS_PRE, buf_ptr(&s->aout), n);
			buf_consume(&s->aout, n);
			if (lws_write(wsi, scratch + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
				return -1;
		}
		if (!s->agent_closing)
			sess_pump_keys(s);
		if (buf_used(&s->aout)) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		return s->agent_closing && !s->ws ? -1 : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (!s)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		s->agent = NULL;
		if (!s->ws) {
			sess_free(s);
			return 0;
		}
		if (s->st != S_DONE)
			sess_finish(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				    "lost the connection to the microVM's agent");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols ingress_protocols[] = {
	{ INGRESS_CLIENT_PROTO, ingress_client_cb, sizeof(struct ingress_sess *), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const struct lws_protocols agent_protocols[] = {
	{ INGRESS_AGENT_PROTO, ingress_agent_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int ingress_start(struct hearthd *hd, char *err, size_t errlen)
{
	static struct tlscert_paths tp;
	static char host[128];
	int port;
	const char *cert = hd->cfg.tls_cert, *key = hd->cfg.tls_key;
	if (httpd_parse_listen(hd->cfg.ingress_listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad --ingress-listen %s", hd->cfg.ingress_listen);
		return -1;
	}
	if (!cert[0] != !key[0]) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -1;
	}
	if (!cert[0]) {
		if (tlscert_ensure(hd->cfg.state_dir, &tp, err, errlen) < 0)
			return -1;
		cert = tp.cert;
		key = tp.key;
	}
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.vhost_name = "ingress-agent";
	info.protocols = agent_protocols;
	agent_vhost = lws_create_vhost(hd->lws, &info);
	if (!agent_vhost) {
		snprintf(err, errlen, "cannot create the agent vhost");
		return -1;
	}
	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = host;
	info.vhost_name = "ingress";
	info.protocols = ingress_protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.alpn = "http/1.1";
	/* TLS by lws, then raw bytes to us: we speak HTTP/WebSocket ourselves
	 * (see protocol/wsproto.h for why). lws reads the TLS switch from each
	 * vhost's own options. */
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = INGRESS_CLIENT_PROTO;
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
		       LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL);
	if (!lws_create_vhost(hd->lws, &info)) {
		snprintf(err, errlen, "cannot listen on %s with certificate %s", hd->cfg.ingress_listen,
			 cert);
		return -1;
	}
	return 0;
}
