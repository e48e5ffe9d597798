/*
 * sshd.c - hearthd's side of the SSH ingress: the listener, one worker
 * process per connection, and the bridge between a worker's channels
 * (protocol/sshw.h) and the VM's agent channels (agentlink.h). See sshd.h
 * and PROTOCOL.md section 6. Everything runs on the event-loop thread and
 * never waits on a worker: its socket is non-blocking, output to it is
 * bounded by the windows it granted, and a worker that breaks the protocol
 * or outlives the login deadline is killed.
 */
#include "session/sshd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/mux.h"
#include "protocol/sshw.h"
#include "protocol/token.h"
#include "session/agentlink.h"
#include "session/httpd.h"
#include "session/lifecycle.h"
#include "session/sshd_hostkey.h"
#include "session/store.h"

#define SD_PROTO_LISTEN "hearth-sshd-listen"
#define SD_PROTO_WORKER "hearth-sshd-worker"
#define SD_TICK_MS 1000
/* A partial frame plus one read of lws (pt_serv_buf_size, 64 KiB in hearthd.c). */
#define SD_RIN_MAX (2 * (SSHW_HDR_LEN + SSHW_MAX_PAYLOAD) + 64 * 1024)
/* What may wait for a worker: every channel's output window plus control frames. */
#define SD_OUT_MAX (SSHD_MAX_CHANS * (SSHD_OUT_WINDOW + 4096) + 64 * 1024)
#define SD_MAX_ZOMBIES 256

struct sd_conn;

struct sd_chan {
	struct sd_conn *c;
	uint16_t id;
	uint8_t kind;            /* SSHW_KIND_* */
	struct agentlink_chan *ac;
	struct buf in;           /* client bytes waiting for the agent's window */
	int opened;              /* the agent said OPEN_OK */
	int eof_pending;         /* the client's EOF, after the bytes in `in` */
	int closed_sent;         /* we sent the worker CLOSE (or OPEN_FAIL) */
};

struct sd_conn {
	struct hearthd *hd;
	struct sd_conn *next;
	struct lws *wsi;
	pid_t pid;
	struct buf rin, out;
	int authed, attempts, dead;
	char vm_id[TOKEN_MAX_ID + 1];
	int64_t start_ms, traffic_ms;
	struct sd_chan *ch[SSHD_MAX_CHANS];
};

static struct hearthd *sd_hd;
static struct lws_vhost *sd_vhost;
static struct sshd_hostkey sd_key;
static struct sd_conn *sd_conns;
static int sd_nconns;
static pid_t sd_zombies[SD_MAX_ZOMBIES];
static int sd_nzombies;
static lws_sorted_usec_list_t sd_sul;

const char *sshd_fingerprint(void)
{
	return sd_vhost ? sd_key.fp : "";
}

const char *sshd_public_key(void)
{
	return sd_vhost ? sd_key.pub : "";
}

static int sd_unauth(void)
{
	int n = 0;
	for (struct sd_conn *c = sd_conns; c; c = c->next)
		n += !c->authed;
	return n;
}

/* ---- output to the worker ---- */

static void sd_flush(struct sd_conn *c)
{
	if (!c->wsi)
		return;
	int fd = lws_get_socket_fd(c->wsi);
	while (buf_used(&c->out)) {
		ssize_t n = send(fd, buf_ptr(&c->out), buf_used(&c->out), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		buf_consume(&c->out, (size_t)n);
	}
	if (buf_used(&c->out))
		lws_callback_on_writable(c->wsi);
}

/* The end of a connection: the worker is killed, its channels closed. */
static void sd_kill(struct sd_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (why)
		hd_log("ssh: worker %d ended: %s", (int)c->pid, why);
	for (int i = 0; i < SSHD_MAX_CHANS; i++) {
		/* The structs stay until sd_conn_free: a callback may still hold one. */
		struct sd_chan *ch = c->ch[i];
		if (ch && ch->ac) {
			agentlink_close(ch->ac);
			ch->ac = NULL;
		}
	}
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		if (waitpid(c->pid, NULL, WNOHANG) != c->pid && sd_nzombies < SD_MAX_ZOMBIES)
			sd_zombies[sd_nzombies++] = c->pid;
		c->pid = 0;
	}
	if (c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

static void sd_put_check(struct sd_conn *c, int rc)
{
	if (rc < 0)
		sd_kill(c, "output to the worker over its bound");
}

/* ---- channels ---- */

static struct sd_chan **sd_slot(struct sd_conn *c, uint16_t id)
{
	for (int i = 0; i < SSHD_MAX_CHANS; i++)
		if (c->ch[i] && c->ch[i]->id == id)
			return &c->ch[i];
	return NULL;
}

static void sd_chan_free(struct sd_chan *ch)
{
	struct sd_conn *c = ch->c;
	struct sd_chan **s = sd_slot(c, ch->id);
	if (s)
		*s = NULL;
	if (ch->ac)
		agentlink_close(ch->ac);
	buf_free(&ch->in);
	free(ch);
}

/* The agent's side is over: tell the worker (it answers CLOSE, then the id is free). */
static void sd_chan_end(struct sd_chan *ch, const char *fail)
{
	struct sd_conn *c = ch->c;
	if (ch->ac) {
		agentlink_close(ch->ac);
		ch->ac = NULL;
	}
	if (ch->closed_sent)
		return;
	ch->closed_sent = 1;
	if (!ch->opened) {
		/* OPEN_FAIL frees the id on both sides at once. */
		sd_put_check(c, sshw_put_fail(&c->out, ch->id, fail ? fail : "channel failed"));
		sd_chan_free(ch);
	} else
		sd_put_check(c, sshw_put_empty(&c->out, SSHW_CLOSE, ch->id));
	sd_flush(c);
}

/* Client bytes to the agent as its window allows; the worker gets the credit back. */
static void sd_chan_pump(struct sd_chan *ch)
{
	struct sd_conn *c = ch->c;
	if (c->dead || !ch->ac || !ch->opened)
		return;
	size_t n = agentlink_data_from(ch->ac, &ch->in);
	if (n) {
		sd_put_check(c, sshw_put_u32(&c->out, SSHW_WINDOW, ch->id, (uint32_t)n));
		lifecycle_note_traffic_every(c->hd->lc, c->vm_id, &c->traffic_ms);
	}
	if (ch->eof_pending && !buf_used(&ch->in) && ch->ac) {
		ch->eof_pending = 0;
		agentlink_eof(ch->ac);
	}
	sd_flush(c);
}

static const char *sd_fail_text(const struct sd_chan *ch, const struct mux_fail *mf, char *buf,
				size_t n)
{
	if (ch->kind == SSHW_KIND_SFTP && mf->code == MUX_E_SPAWN)
		snprintf(buf, n,
			 "sftp is not available: this microVM's image has no " SSHD_SFTP_SERVER
			 " (Debian's openssh-sftp-server package; the debian-12 image has it)");
	else if (ch->kind == SSHW_KIND_TCP && mf->code == MUX_E_CONNECT)
		snprintf(buf, n, "nothing is listening on that port in the microVM (%.*s)",
			 (int)mf->msg.len, mf->msg.p);
	else
		snprintf(buf, n, "%.*s", (int)mf->msg.len, mf->msg.p);
	return buf;
}

static void sd_agent_frame(void *owner, const struct mux_frame *f)
{
	struct sd_chan *ch = owner;
	struct sd_conn *c = ch->c;
	struct mux_data d;
	struct mux_fail mf;
	struct mux_exit ex;
	uint8_t stream;
	char msg[600];
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		ch->opened = 1;
		sd_put_check(c, sshw_put_u32(&c->out, SSHW_OPEN_OK, ch->id, SSHD_IN_WINDOW));
		sd_chan_pump(ch);
		break;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &mf) != MUX_OK)
			mf = (struct mux_fail){ MUX_E_PROTO, mux_cstr("the agent refused") };
		sd_chan_end(ch, sd_fail_text(ch, &mf, msg, sizeof msg));
		return;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			break;
		for (uint32_t off = 0; off < d.len && !c->dead;) {
			uint32_t k = d.len - off > SSHW_MAX_DATA ? SSHW_MAX_DATA : d.len - off;
			sd_put_check(c, sshw_put_data(&c->out, ch->id, d.stream, d.p + off, k));
			off += k;
		}
		lifecycle_note_traffic_every(c->hd->lc, c->vm_id, &c->traffic_ms);
		break;
	case MUX_EOF:
		if (mux_decode_eof(f, &stream) == MUX_OK)
			sd_put_check(c, sshw_put_u8(&c->out, SSHW_EOF, ch->id, stream));
		break;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) == MUX_OK)
			sd_put_check(c, sshw_put_exit(&c->out, ch->id, ex.how, ex.value));
		break;
	case MUX_CLOSE:
		sd_chan_end(ch, "the channel closed");
		return;
	default:
		break;
	}
	sd_flush(c);
}

static void sd_agent_down(void *owner, const char *reason)
{
	sd_chan_end(owner, reason);
}

static void sd_agent_writable(void *owner)
{
	sd_chan_pump(owner);
}

static const struct agentlink_ops sd_agent_ops = { sd_agent_frame, sd_agent_down,
						   sd_agent_writable };

/* Only the guest's own loopback: other hosts would make the agent a proxy. */
static const char *sd_tcp_host(const struct sshw_str *h)
{
	static const struct {
		const char *name, *addr;
	} loop[] = { { "localhost", "127.0.0.1" }, { "127.0.0.1", "127.0.0.1" },
		     { "ip6-localhost", "::1" }, { "::1", "::1" }, { "", "127.0.0.1" } };
	for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++)
		if (h->len == strlen(loop[i].name) && !strncasecmp(h->p, loop[i].name, h->len))
			return loop[i].addr;
	return NULL;
}

/* LANG, LC_* and TERM pass; every other variable is dropped (as sshd's AcceptEnv). */
static int sd_env_allowed(const struct sshw_str *e)
{
	return (e->len > 5 && !strncmp(e->p, "LANG=", 5)) ||
	       (e->len > 3 && !strncmp(e->p, "LC_", 3)) || (e->len > 5 && !strncmp(e->p, "TERM=", 5));
}

/* 1 (with the reason) when the VM is neither running nor resuming automatically. */
static int sd_not_resumable(struct sd_conn *c, char *msg, size_t n)
{
	if (lifecycle_request_resume(c->hd->lc, c->vm_id) >= 0)
		return 0;
	struct store_vm *v = malloc(sizeof *v);
	if (v && store_vm_get(c->hd->store, c->vm_id, v) == 1 && !strcmp(v->state, "SUSPENDED"))
		snprintf(msg, n, "microVM is SUSPENDED and autoResume is off: resume it with the API "
				 "(hearth resume %s) first", c->vm_id);
	else
		snprintf(msg, n, "microVM is %s", v ? v->state : "not running");
	free(v);
	return 1;
}

/* A channel that asked for a pty: a shell on one, sized, TERM as asked. */
static void sd_on_pty(struct mux_open *o, const struct sshw_msg *m, const char *term)
{
	o->kind = MUX_KIND_SHELL;
	o->term = mux_cstr(term[0] ? term : "xterm-256color");
	o->rows = m->rows;
	o->cols = m->cols;
	o->has_size = 1;
}

static void sd_open(struct sd_conn *c, const struct sshw_msg *m)
{
	char err[256], term[SSHW_MAX_TERM + 1], cmd[SSHW_MAX_CMD + 1];
	char env[SSHW_MAX_ENV][SSHW_MAX_ENVLEN + 1];
	struct mux_open o;
	int slot = -1;
	for (int i = 0; i < SSHD_MAX_CHANS; i++)
		if (!c->ch[i] && slot < 0)
			slot = i;
	if (slot < 0) {
		sd_put_check(c, sshw_put_fail(&c->out, m->chan, "too many channels on this connection"));
		return;
	}
	memset(&o, 0, sizeof o);
	o.window = m->window < AGENTLINK_WINDOW_MAX ? m->window : AGENTLINK_WINDOW_MAX;
	if (o.window > SSHD_OUT_WINDOW)
		o.window = SSHD_OUT_WINDOW;
	for (unsigned i = 0; i < m->nenv; i++)
		if (sd_env_allowed(&m->env[i])) {
			snprintf(env[o.nenv], sizeof env[o.nenv], "%.*s", m->env[i].len, m->env[i].p);
			o.env[o.nenv] = mux_cstr(env[o.nenv]);
			o.nenv++;
		}
	snprintf(term, sizeof term, "%.*s", m->term.len, m->term.p);
	snprintf(cmd, sizeof cmd, "%.*s", m->command.len, m->command.p);
	switch (m->kind) {
	case SSHW_KIND_SHELL:
		if (m->rows) {
			sd_on_pty(&o, m, term);
			o.login = 1;
			break;
		}
		/* A shell without a pty (ssh -T, or input not a terminal): a login shell on pipes. */
		o.kind = MUX_KIND_EXEC;
		o.cmdline = mux_cstr("if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi");
		o.want_stdin = 1;
		break;
	case SSHW_KIND_EXEC:
		o.cmdline = mux_cstr(cmd);
		if (m->rows) {
			/* ssh -t host cmd: the user's shell runs it on a pty. */
			sd_on_pty(&o, m, term);
			break;
		}
		o.kind = MUX_KIND_EXEC;
		o.want_stdin = 1;
		break;
	case SSHW_KIND_SFTP:
		o.kind = MUX_KIND_EXEC;
		o.argv[0] = mux_cstr(SSHD_SFTP_SERVER);
		o.nargv = 1;
		o.want_stdin = 1;
		break;
	case SSHW_KIND_TCP: {
		const char *h = sd_tcp_host(&m->host);
		if (!h) {
			sd_put_check(c, sshw_put_fail(&c->out, m->chan,
						      "only ports on the microVM's own loopback "
						      "(localhost) are reachable"));
			return;
		}
		o.kind = MUX_KIND_TCP;
		o.host = mux_cstr(h);
		o.port = m->port;
		o.has_port = 1;
		o.nenv = 0;
		break;
	}
	default:
		sd_kill(c, "bad channel kind");
		return;
	}
	if (sd_not_resumable(c, err, sizeof err)) {
		sd_put_check(c, sshw_put_fail(&c->out, m->chan, err));
		return;
	}
	struct sd_chan *ch = calloc(1, sizeof *ch);
	if (!ch) {
		sd_put_check(c, sshw_put_fail(&c->out, m->chan, "out of memory"));
		return;
	}
	ch->c = c;
	ch->id = m->chan;
	ch->kind = m->kind;
	buf_init(&ch->in, SSHD_IN_WINDOW);
	c->ch[slot] = ch;
	ch->ac = agentlink_open(c->hd, c->vm_id, &o, &sd_agent_ops, ch, err, sizeof err);
	if (!ch->ac) {
		sd_put_check(c, sshw_put_fail(&c->out, m->chan, err));
		c->ch[slot] = NULL;
		buf_free(&ch->in);
		free(ch);
	}
}

/* ---- frames from the worker ---- */

static void sd_auth(struct sd_conn *c, const struct sshw_msg *m)
{
	if (c->authed || ++c->attempts > SSHD_MAX_AUTH) {
		sd_kill(c, c->authed ? "login after login" : "too many login attempts");
		return;
	}
	if (sshd_auth_check(c->hd, m->user.p, m->user.len, m->pass.p, m->pass.len, c->vm_id,
			    sizeof c->vm_id) < 0) {
		sd_put_check(c, sshw_put_empty(&c->out, SSHW_AUTH_FAIL, 0));
		return;
	}
	c->authed = 1;
	hd_log("ssh: worker %d logged in to %s", (int)c->pid, c->vm_id);
	lifecycle_note_traffic(c->hd->lc, c->vm_id);
	/* Start a resume now (auto-resume VMs), so the first channel waits less. */
	lifecycle_request_resume(c->hd->lc, c->vm_id);
	sd_put_check(c, sshw_put_empty(&c->out, SSHW_AUTH_OK, 0));
}

static void sd_frame(struct sd_conn *c, const struct sshw_msg *m)
{
	struct sd_chan **s = m->chan ? sd_slot(c, m->chan) : NULL;
	struct sd_chan *ch = s ? *s : NULL;
	if (m->type == SSHW_AUTH) {
		sd_auth(c, m);
		return;
	}
	if (!c->authed) {
		sd_kill(c, "channel frame before login");
		return;
	}
	if (m->type == SSHW_OPEN) {
		if (ch)
			sd_kill(c, "channel id in use");
		else
			sd_open(c, m);
		return;
	}
	if (!ch)
		return; /* a channel hearthd already ended (OPEN_FAIL crossed the worker's frame) */
	switch (m->type) {
	case SSHW_DATA:
		if (!ch->opened || ch->eof_pending || buf_put(&ch->in, m->data, m->len) != BUF_OK) {
			sd_kill(c, "data beyond the window");
			return;
		}
		sd_chan_pump(ch);
		break;
	case SSHW_WINDOW:
		if (ch->ac)
			agentlink_window(ch->ac, m->window);
		break;
	case SSHW_RESIZE:
		if (ch->ac && ch->kind == SSHW_KIND_SHELL)
			agentlink_resize(ch->ac, m->rows, m->cols);
		break;
	case SSHW_SIGNAL:
		if (ch->ac)
			agentlink_signal(ch->ac, m->signo);
		break;
	case SSHW_EOF:
		ch->eof_pending = 1;
		sd_chan_pump(ch);
		break;
	case SSHW_CLOSE:
		if (!ch->closed_sent) {
			ch->closed_sent = 1;
			sd_put_check(c, sshw_put_empty(&c->out, SSHW_CLOSE, ch->id));
		}
		sd_chan_free(ch);
		break;
	default:
		break;
	}
}

static int sd_rx(struct sd_conn *c, const uint8_t *p, size_t n)
{
	struct sshw_frame f;
	struct sshw_msg m;
	if (buf_put(&c->rin, p, n) != BUF_OK) {
		sd_kill(c, "input over its bound");
		return -1;
	}
	while (!c->dead) {
		long k = sshw_take(buf_ptr(&c->rin), buf_used(&c->rin), &f);
		if (k == 0)
			break;
		int rc = k < 0 ? (int)k : sshw_decode(&f, SSHW_FROM_WORKER, &m);
		if (rc != SSHW_OK) {
			sd_kill(c, sshw_strerror(rc));
			return -1;
		}
		sd_frame(c, &m);
		buf_consume(&c->rin, (size_t)k);
	}
	if (c->dead)
		return -1;
	sd_flush(c);
	return 0;
}

static void sd_conn_free(struct sd_conn *c)
{
	sd_kill(c, NULL);
	for (int i = 0; i < SSHD_MAX_CHANS; i++)
		if (c->ch[i]) {
			buf_free(&c->ch[i]->in);
			free(c->ch[i]);
		}
	for (struct sd_conn **pp = &sd_conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	sd_nconns--;
	buf_free(&c->rin);
	buf_free(&c->out);
	free(c);
}

static int sd_worker_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct sd_conn *c = lws_get_opaque_user_data(wsi);
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX:
		return c && !c->dead ? sd_rx(c, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (!c || c->dead)
			return -1;
		sd_flush(c);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (c) {
			lws_set_opaque_user_data(wsi, NULL);
			c->wsi = NULL;
			sd_conn_free(c);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- workers ---- */

static pid_t sd_spawn(int client, int sock)
{
	char *const argv[] = { sd_hd->exe, "--ssh-worker", NULL };
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Only async-signal-safe calls until exec (hearthd is multi-threaded). */
	setsid();
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	}
	/* fd 2 stays hearthd's stderr: the worker's few log lines go with hearthd's. */
	/* Up out of the way first: client or sock may already be 3 or 4. */
	int c2 = fcntl(client, F_DUPFD, 10), s2 = fcntl(sock, F_DUPFD, 10);
	if (c2 < 0 || s2 < 0 || dup2(c2, 3) < 0 || dup2(s2, 4) < 0)
		_exit(127);
	close_range(5, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	_exit(127);
}

static void sd_accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int sp[2];
	if (fd < 0)
		return;
	/* Bounds on connections (a flood of slow handshakes takes workers, not hearthd). */
	if (sd_nconns >= SSHD_MAX_CONNS || sd_unauth() >= SSHD_MAX_UNAUTH) {
		close(fd);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		close(fd);
		return;
	}
	struct sd_conn *c = calloc(1, sizeof *c);
	pid_t pid = c ? sd_spawn(fd, sp[1]) : -1;
	close(fd);
	close(sp[1]);
	if (pid < 0) {
		free(c);
		close(sp[0]);
		return;
	}
	fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
	c->hd = sd_hd;
	c->pid = pid;
	c->start_ms = hd_now_ms();
	buf_init(&c->rin, SD_RIN_MAX);
	buf_init(&c->out, SD_OUT_MAX);
	c->next = sd_conns;
	sd_conns = c;
	sd_nconns++;
	sd_put_check(c, sshw_put_hostkey(&c->out, sd_key.priv, strlen(sd_key.priv)));
	lws_sock_file_fd_type u;
	u.sockfd = sp[0];
	c->wsi = lws_adopt_descriptor_vhost(sd_vhost, LWS_ADOPT_SOCKET, u, SD_PROTO_WORKER, NULL);
	if (!c->wsi) {
		close(sp[0]);
		sd_conn_free(c);
		return;
	}
	lws_set_opaque_user_data(c->wsi, c);
	sd_flush(c);
}

static int sd_listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		sd_accept_one(lws_get_socket_fd(wsi));
	return 0;
}

static const struct lws_protocols sd_protocols[] = {
	{ SD_PROTO_LISTEN, sd_listen_cb, 0, 0, 0, NULL, 0 },
	{ SD_PROTO_WORKER, sd_worker_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Once a second: login deadlines, zombies. */
static void sd_tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = hd_now_ms();
	for (struct sd_conn *c = sd_conns; c; c = c->next)
		if (!c->authed && !c->dead && now - c->start_ms > (SSHD_PREAUTH_S + 5) * 1000LL)
			sd_kill(c, "no login in time");
	for (int i = 0; i < sd_nzombies;) {
		if (waitpid(sd_zombies[i], NULL, WNOHANG) != 0)
			sd_zombies[i] = sd_zombies[--sd_nzombies];
		else
			i++;
	}
	lws_sul_schedule(sd_hd->lws, 0, sul, sd_tick, SD_TICK_MS * LWS_US_PER_MS);
}

static int sd_listen_socket(const char *host, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sl = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof *a6;
	} else if (!strcmp(host, "localhost")) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *a4;
	} else {
		snprintf(err, errlen, "bad --ssh-listen address %s (a numeric address)", host);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int sshd_start(struct hearthd *hd, char *err, size_t errlen)
{
	char host[128];
	int port;
	if (!strcmp(hd->cfg.ssh_listen, "off"))
		return 0;
	if (httpd_parse_listen(hd->cfg.ssh_listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "bad --ssh-listen %s", hd->cfg.ssh_listen);
		return -1;
	}
	sd_hd = hd;
	if (agentlink_init(hd, NULL, err, errlen) < 0)
		return -1;
	if (sshd_hostkey_load(hd->cfg.state_dir, &sd_key, err, errlen) < 0)
		return -1;
	int lfd = sd_listen_socket(host, port, err, errlen);
	if (lfd < 0)
		return -1;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.vhost_name = "sshd";
	info.protocols = sd_protocols;
	sd_vhost = lws_create_vhost(hd->lws, &info);
	lws_sock_file_fd_type u;
	u.filefd = lfd;
	if (!sd_vhost ||
	    !lws_adopt_descriptor_vhost(sd_vhost, LWS_ADOPT_RAW_FILE_DESC, u, SD_PROTO_LISTEN, NULL)) {
		close(lfd);
		snprintf(err, errlen, "cannot watch the SSH listener");
		return -1;
	}
	lws_sul_schedule(hd->lws, 0, &sd_sul, sd_tick, SD_TICK_MS * LWS_US_PER_MS);
	return 0;
}
