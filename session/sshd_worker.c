/*
 * sshd_worker.c - `hearthd --ssh-worker`: one SSH client connection served
 * with libssh, in a process of its own (PROTOCOL.md 6). fd 3 is the
 * client's TCP connection, fd 4 the socketpair to hearthd. It starts
 * confined (an empty root, its own uid when hearthd is root, no new
 * privileges, no children, a seccomp filter), receives the host key from
 * hearthd, and knows no other secret: logins and channels are hearthd's
 * decisions. A login must
 * be done within SSHD_PREAUTH_S (alarm), in at most SSHD_MAX_AUTH tries.
 *
 * libssh runs in its callback mode on an ssh_event that also watches fd 4.
 * Flow control: client bytes go to hearthd only within the window hearthd
 * granted (the rest stays in libssh, which then stops widening the client's
 * window); hearthd's output waits here (bounded by the window granted in
 * OPEN) until the client's window takes it, and only then is credited back.
 */
#include "session/sshd.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "protocol/sshw.h"

#define W_CLIENT 3
#define W_HD 4
#define W_UID_BASE 0x6f000000u /* + pid: a uid of its own per worker (hearthd.8) */
#define W_REPLY_MS 20000       /* longest wait for hearthd's login answer */
#define W_INBUF (2 * (SSHW_HDR_LEN + SSHW_MAX_PAYLOAD))

struct worker;

struct wchan {
	struct worker *w;
	struct wchan *next;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	uint16_t id;
	uint8_t kind;
	int has_pty;
	char term[SSHW_MAX_TERM + 1];
	uint16_t rows, cols;
	char env[SSHW_MAX_ENV][SSHW_MAX_ENVLEN + 1];
	unsigned nenv;
	int open_sent, opened;
	uint32_t credit;        /* bytes hearthd will take */
	int pending;            /* libssh holds client bytes we could not take yet */
	int client_eof, eof_sent;
	struct buf out[2];      /* hearthd's stdout/main and stderr, for the client */
	int exit_seen;
	uint8_t exit_how;
	int32_t exit_value;
	int hd_eof;             /* hearthd sent EOF on the main stream (tcp) */
	int hd_closed;          /* hearthd sent CLOSE or OPEN_FAIL */
	int close_sent;         /* we sent hearthd CLOSE (or need not) */
	int ssh_done;           /* we sent the client EOF (and close) */
	int client_closed;
	int pumping;            /* in w_pump_out (libssh's writes may call back into it) */
	char fail[SSHW_MAX_MSG + 1];
};

struct worker {
	ssh_session s;
	ssh_event ev;
	int authed, quit, attempts;
	uint16_t next_id;
	struct wchan *chans;
	uint8_t in[W_INBUF];
	size_t have;
	struct buf tx;
};

static void w_die(const char *why)
{
	/* Never a user name or token here: only what went wrong. */
	fprintf(stderr, "hearthd ssh-worker[%d]: %s\n", (int)getpid(), why);
	_exit(1);
}

/* ---- hearthd link (blocking writes: hearthd always reads) ---- */

static void w_send(struct worker *w)
{
	while (buf_used(&w->tx)) {
		ssize_t n = write(W_HD, buf_ptr(&w->tx), buf_used(&w->tx));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w_die("lost hearthd");
		buf_consume(&w->tx, (size_t)n);
	}
	buf_reset(&w->tx);
}

static void w_put(struct worker *w, int rc)
{
	if (rc < 0)
		w_die("frame too big");
	w_send(w);
}

/* Read what fd 4 has (waiting up to ms); 0 when hearthd has gone. */
static int w_fill(struct worker *w, int ms)
{
	struct pollfd p = { W_HD, POLLIN, 0 };
	if (w->have == sizeof w->in)
		w_die("frame from hearthd over its bound");
	int r = poll(&p, 1, ms);
	if (r <= 0)
		return r < 0 && errno == EINTR ? 1 : (r == 0 ? -1 : 0);
	ssize_t n = read(W_HD, w->in + w->have, sizeof w->in - w->have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	w->have += (size_t)n;
	return 1;
}

/* The next whole frame, decoded (1), or 0 when none is buffered. */
static int w_next(struct worker *w, struct sshw_msg *m, size_t *used)
{
	struct sshw_frame f;
	long k = sshw_take(w->in, w->have, &f);
	if (k == 0)
		return 0;
	if (k < 0 || sshw_decode(&f, SSHW_FROM_HEARTHD, m) != SSHW_OK)
		w_die("bad frame from hearthd");
	*used = (size_t)k;
	return 1;
}

static void w_consume(struct worker *w, size_t n)
{
	memmove(w->in, w->in + n, w->have - n);
	w->have -= n;
}

/* ---- hardening ---- */

/*
 * An empty root: a mount namespace of its own whose root is an empty,
 * read-only tmpfs, so nothing of the host's filesystem (hearthd's state,
 * the VMs' agent sockets) can be opened or connected to. Not root: inside a
 * user namespace of its own (where that is allowed; else the worker goes on
 * without, and says so).
 */
static void w_empty_root(void)
{
	int root = geteuid() == 0;
	if (unshare(CLONE_NEWNS | (root ? 0 : CLONE_NEWUSER)) < 0) {
		if (root)
			w_die("cannot make a mount namespace");
		fprintf(stderr, "hearthd ssh-worker[%d]: no user namespace (%s): running without "
				"an empty root\n", (int)getpid(), strerror(errno));
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("hearth-ssh-worker", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		  "size=4k,mode=0555") < 0 ||
	    chdir("/tmp") < 0 || chroot(".") < 0 || chdir("/") < 0)
		w_die("cannot enter an empty root");
}

#define W_DENY(nr)                                                                           \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                     \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* No other process may be touched (ptrace, its memory, signals), nothing
 * run, no socket made: the worker's only channels are fds 3 and 4. */
static void w_seccomp(void)
{
#if defined(__x86_64__)
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		W_DENY(__NR_ptrace),
		W_DENY(__NR_process_vm_readv),
		W_DENY(__NR_process_vm_writev),
		W_DENY(__NR_kill),
		W_DENY(__NR_tkill),
		W_DENY(__NR_tgkill),
		W_DENY(__NR_execve),
		W_DENY(__NR_execveat),
		W_DENY(__NR_socket),
		W_DENY(__NR_connect),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { (unsigned short)(sizeof f / sizeof f[0]), f };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		w_die("cannot install the seccomp filter");
#endif
}

static void w_harden(void)
{
	w_empty_root();
	if (geteuid() == 0) {
		uid_t u = (uid_t)(W_UID_BASE + (unsigned)getpid());
		if (setgroups(0, NULL) < 0 || setresgid(u, u, u) < 0 || setresuid(u, u, u) < 0)
			w_die("cannot drop privileges");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		w_die("cannot set no_new_privs");
	/* Few descriptors, no core, no children (under its own uid none exist; under
	 * hearthd's, hearthd's count). No RLIMIT_FSIZE: stderr is hearthd's log,
	 * often a regular file, and the worker's last words go there. */
	struct rlimit zero = { 0, 0 }, fds = { 16, 16 };
	setrlimit(RLIMIT_NOFILE, &fds);
	setrlimit(RLIMIT_CORE, &zero);
	setrlimit(RLIMIT_NPROC, &zero);
	w_seccomp();
}

/* ---- channels: towards the client ---- */

static struct wchan *w_find(struct worker *w, uint16_t id)
{
	for (struct wchan *c = w->chans; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* hearthd's output to the client within the client's window; credit it back. */
static void w_pump_out_once(struct wchan *c);

static void w_pump_out(struct wchan *c)
{
	/* ssh_channel_write can run libssh's packet loop, whose wontblock
	 * callback lands here again: one pump at a time, or bytes repeat. */
	if (c->pumping)
		return;
	c->pumping = 1;
	w_pump_out_once(c);
	c->pumping = 0;
}

static void w_pump_out_once(struct wchan *c)
{
	struct worker *w = c->w;
	if (c->ssh_done || c->client_closed)
		return;
	for (int s = 0; s < 2; s++) {
		while (buf_used(&c->out[s])) {
			uint32_t win = ssh_channel_window_size(c->ch);
			size_t n = buf_used(&c->out[s]);
			if (n > win)
				n = win;
			if (n > SSHW_MAX_DATA)
				n = SSHW_MAX_DATA;
			if (n == 0)
				break;
			int r = s ? ssh_channel_write_stderr(c->ch, buf_ptr(&c->out[s]), (uint32_t)n)
				  : ssh_channel_write(c->ch, buf_ptr(&c->out[s]), (uint32_t)n);
			if (r <= 0)
				break;
			buf_consume(&c->out[s], (size_t)r);
			if (!c->hd_closed)
				w_put(w, sshw_put_u32(&w->tx, SSHW_WINDOW, c->id, (uint32_t)r));
		}
	}
	if (buf_used(&c->out[0]) || buf_used(&c->out[1]))
		return;
	int over = c->exit_seen || c->hd_closed || (c->kind == SSHW_KIND_TCP && c->hd_eof);
	if (!over)
		return;
	if (c->fail[0] && c->kind != SSHW_KIND_TCP) {
		ssh_channel_write_stderr(c->ch, c->fail, (uint32_t)strlen(c->fail));
		ssh_channel_write_stderr(c->ch, "\r\n", 2);
		ssh_channel_request_send_exit_status(c->ch, 255);
	} else if (c->exit_seen && c->exit_how == SSHW_EXIT_SIGNAL) {
		static const char *const names[] = { [1] = "HUP", [2] = "INT", [3] = "QUIT",
						     [4] = "ILL", [6] = "ABRT", [8] = "FPE",
						     [9] = "KILL", [10] = "USR1", [11] = "SEGV",
						     [12] = "USR2", [13] = "PIPE", [14] = "ALRM",
						     [15] = "TERM" };
		int v = c->exit_value;
		const char *nm = v > 0 && v < (int)(sizeof names / sizeof names[0]) && names[v]
					 ? names[v]
					 : "KILL";
		ssh_channel_request_send_exit_signal(c->ch, nm, 0, "", "");
	} else if (c->exit_seen)
		ssh_channel_request_send_exit_status(c->ch, c->exit_value);
	ssh_channel_send_eof(c->ch);
	ssh_channel_close(c->ch);
	c->ssh_done = 1;
	if (!c->close_sent) {
		c->close_sent = 1;
		w_put(w, sshw_put_empty(&w->tx, SSHW_CLOSE, c->id));
	}
}

/* ---- channels: towards hearthd ---- */

static void w_send_data(struct wchan *c, const uint8_t *p, uint32_t n)
{
	struct worker *w = c->w;
	for (uint32_t off = 0; off < n;) {
		uint32_t k = n - off > SSHW_MAX_DATA ? SSHW_MAX_DATA : n - off;
		w_put(w, sshw_put_data(&w->tx, c->id, 0, p + off, k));
		off += k;
	}
	c->credit -= n;
}

static void w_maybe_eof(struct wchan *c)
{
	if (c->client_eof && !c->pending && c->opened && !c->eof_sent && !c->hd_closed) {
		c->eof_sent = 1;
		w_put(c->w, sshw_put_u8(&c->w->tx, SSHW_EOF, c->id, 0));
	}
}

/* Client bytes libssh kept back, now that hearthd has room. */
static void w_pump_in(struct wchan *c)
{
	static uint8_t tmp[SSHW_MAX_DATA];
	while (c->pending && c->opened && c->credit > 0 && !c->hd_closed && !c->client_closed) {
		uint32_t want = c->credit < sizeof tmp ? c->credit : (uint32_t)sizeof tmp;
		int n = ssh_channel_read_nonblocking(c->ch, tmp, want, 0);
		if (n <= 0) {
			c->pending = 0;
			break;
		}
		w_send_data(c, tmp, (uint32_t)n);
		if ((uint32_t)n < want)
			c->pending = 0;
	}
	w_maybe_eof(c);
}

static int w_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr,
		  void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	if (is_stderr || c->hd_closed)
		return (int)len; /* nothing to send it to */
	uint32_t n = c->opened ? (len < c->credit ? len : c->credit) : 0;
	if (n)
		w_send_data(c, data, n);
	if (n < len)
		c->pending = 1;
	return (int)n;
}

static void w_eof(ssh_session s, ssh_channel ch, void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	c->client_eof = 1;
	w_maybe_eof(c);
}

static void w_close(ssh_session s, ssh_channel ch, void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	c->client_closed = 1;
	if (c->open_sent && !c->close_sent) {
		c->close_sent = 1;
		w_put(c->w, sshw_put_empty(&c->w->tx, SSHW_CLOSE, c->id));
	}
	if (!c->open_sent)
		c->close_sent = c->hd_closed = 1;
}

static void w_signal(ssh_session s, ssh_channel ch, const char *sig, void *ud)
{
	static const struct {
		const char *name;
		uint8_t no;
	} sigs[] = { { "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "KILL", 9 },
		     { "USR1", 10 }, { "USR2", 12 }, { "TERM", 15 } };
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (c->opened && !c->hd_closed && !strcmp(sig, sigs[i].name))
			w_put(c->w, sshw_put_u8(&c->w->tx, SSHW_SIGNAL, c->id, sigs[i].no));
}

static int w_pty(ssh_session s, ssh_channel ch, const char *term, int cols, int rows, int px,
		 int py, void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	(void)px;
	(void)py;
	size_t tl = strlen(term);
	if (c->open_sent || c->has_pty || tl > SSHW_MAX_TERM)
		return -1;
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)term[i] < 0x21 || (unsigned char)term[i] > 0x7e)
			return -1;
	memcpy(c->term, term, tl + 1);
	c->has_pty = 1;
	c->rows = rows > 0 && rows < 65536 ? (uint16_t)rows : 24;
	c->cols = cols > 0 && cols < 65536 ? (uint16_t)cols : 80;
	return 0;
}

static int w_winch(ssh_session s, ssh_channel ch, int cols, int rows, int px, int py, void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	(void)px;
	(void)py;
	if (!c->has_pty || rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
		return -1;
	c->rows = (uint16_t)rows;
	c->cols = (uint16_t)cols;
	if (c->open_sent && !c->hd_closed)
		w_put(c->w, sshw_put_resize(&c->w->tx, c->id, c->rows, c->cols));
	return 0;
}

static int w_env(ssh_session s, ssh_channel ch, const char *name, const char *value, void *ud)
{
	struct wchan *c = ud;
	(void)s;
	(void)ch;
	int ok = !strcmp(name, "LANG") || !strcmp(name, "TERM") || !strncmp(name, "LC_", 3);
	if (!ok || c->open_sent || c->nenv >= SSHW_MAX_ENV ||
	    strlen(name) + strlen(value) + 1 > SSHW_MAX_ENVLEN)
		return 1;
	for (const char *p = name + (name[0] == 'L' && name[1] == 'C' ? 3 : 0); *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 1;
	snprintf(c->env[c->nenv++], sizeof c->env[0], "%s=%s", name, value);
	return 0;
}

/* Ask hearthd for the agent channel (the answer comes later, as OPEN_OK or OPEN_FAIL). */
static int w_open(struct wchan *c, uint8_t kind, const char *cmd, const char *host, uint16_t port)
{
	struct worker *w = c->w;
	struct sshw_msg m;
	if (c->open_sent || strlen(cmd) > SSHW_MAX_CMD || strlen(host) > SSHW_MAX_HOST)
		return 1;
	memset(&m, 0, sizeof m);
	m.kind = kind;
	m.window = SSHD_OUT_WINDOW;
	if ((kind == SSHW_KIND_SHELL || kind == SSHW_KIND_EXEC) && c->has_pty) {
		m.rows = c->rows;
		m.cols = c->cols;
		m.term = (struct sshw_str){ c->term, (uint16_t)strlen(c->term) };
	}
	m.command = (struct sshw_str){ cmd, (uint16_t)strlen(cmd) };
	m.host = (struct sshw_str){ host, (uint16_t)strlen(host) };
	m.port = port;
	if (kind != SSHW_KIND_TCP) {
		m.nenv = c->nenv;
		for (unsigned i = 0; i < c->nenv; i++)
			m.env[i] = (struct sshw_str){ c->env[i], (uint16_t)strlen(c->env[i]) };
	}
	c->kind = kind;
	c->open_sent = 1;
	w_put(w, sshw_put_open(&w->tx, c->id, &m));
	return 0;
}

static int w_shell(ssh_session s, ssh_channel ch, void *ud)
{
	(void)s;
	(void)ch;
	return w_open(ud, SSHW_KIND_SHELL, "", "", 0);
}

static int w_exec(ssh_session s, ssh_channel ch, const char *cmd, void *ud)
{
	(void)s;
	(void)ch;
	return cmd[0] ? w_open(ud, SSHW_KIND_EXEC, cmd, "", 0) : 1;
}

static int w_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	(void)s;
	(void)ch;
	return strcmp(name, "sftp") ? 1 : w_open(ud, SSHW_KIND_SFTP, "", "", 0);
}

static int w_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *ud)
{
	(void)s;
	(void)ch;
	(void)bytes;
	w_pump_out(ud);
	return 0;
}

static struct wchan *w_chan_new(struct worker *w, ssh_channel ch)
{
	int n = 0;
	for (struct wchan *c = w->chans; c; c = c->next)
		n++;
	if (n >= SSHD_MAX_CHANS)
		return NULL;
	struct wchan *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->w = w;
	c->ch = ch;
	do
		c->id = ++w->next_id ? w->next_id : ++w->next_id;
	while (w_find(w, c->id));
	buf_init(&c->out[0], SSHD_OUT_WINDOW);
	buf_init(&c->out[1], SSHD_OUT_WINDOW);
	c->cb.userdata = c;
	c->cb.channel_data_function = w_data;
	c->cb.channel_eof_function = w_eof;
	c->cb.channel_close_function = w_close;
	c->cb.channel_signal_function = w_signal;
	c->cb.channel_pty_request_function = w_pty;
	c->cb.channel_shell_request_function = w_shell;
	c->cb.channel_pty_window_change_function = w_winch;
	c->cb.channel_exec_request_function = w_exec;
	c->cb.channel_env_request_function = w_env;
	c->cb.channel_subsystem_request_function = w_subsystem;
	c->cb.channel_write_wontblock_function = w_wontblock;
	ssh_callbacks_init(&c->cb);
	ssh_set_channel_callbacks(ch, &c->cb);
	c->next = w->chans;
	w->chans = c;
	return c;
}

static void w_sweep(struct worker *w)
{
	for (struct wchan **pp = &w->chans; *pp;) {
		struct wchan *c = *pp;
		w_pump_in(c);
		w_pump_out(c);
		if (c->client_closed && !c->ssh_done) {
			ssh_channel_close(c->ch);
			c->ssh_done = 1;
		}
		if (c->ssh_done && c->close_sent && c->hd_closed) {
			*pp = c->next;
			ssh_remove_channel_callbacks(c->ch, &c->cb);
			ssh_channel_free(c->ch);
			buf_free(&c->out[0]);
			buf_free(&c->out[1]);
			free(c);
			continue;
		}
		pp = &c->next;
	}
}

/* ---- frames from hearthd after the login ---- */

static void w_frame(struct worker *w, const struct sshw_msg *m)
{
	struct wchan *c = m->chan ? w_find(w, m->chan) : NULL;
	if (!c)
		w_die("frame for an unknown channel");
	switch (m->type) {
	case SSHW_OPEN_OK:
		c->opened = 1;
		c->credit = m->window;
		if (c->pending || c->client_eof)
			w_pump_in(c);
		break;
	case SSHW_OPEN_FAIL:
		snprintf(c->fail, sizeof c->fail, "hearth: %.*s", m->msg.len, m->msg.p);
		c->hd_closed = c->close_sent = 1;
		break;
	case SSHW_DATA: {
		struct buf *b = &c->out[m->stream == 2];
		if (buf_put(b, m->data, m->len) != BUF_OK)
			w_die("output beyond the window");
		break;
	}
	case SSHW_WINDOW:
		if (c->credit + (uint64_t)m->window > SSHW_MAX_WINDOW)
			w_die("window too big");
		c->credit += m->window;
		w_pump_in(c);
		break;
	case SSHW_EOF:
		if (m->stream == 0)
			c->hd_eof = 1;
		break;
	case SSHW_EXIT:
		c->exit_seen = 1;
		c->exit_how = m->how;
		c->exit_value = m->value;
		break;
	case SSHW_CLOSE:
		c->hd_closed = 1;
		break;
	default:
		w_die("unexpected frame from hearthd");
	}
	w_pump_out(c);
}

static int w_hd_readable(socket_t fd, int revents, void *ud)
{
	struct worker *w = ud;
	struct sshw_msg m;
	size_t used;
	(void)fd;
	(void)revents;
	int r = w_fill(w, 0);
	if (r == 0) {
		w->quit = 1;
		return 0;
	}
	while (w_next(w, &m, &used)) {
		w_frame(w, &m);
		w_consume(w, used);
	}
	return 0;
}

/* ---- login ---- */

static int w_login(struct worker *w, const char *user, const char *pass)
{
	struct sshw_msg m;
	size_t used;
	if (w->authed || w->attempts >= SSHD_MAX_AUTH) {
		w->quit = 1;
		return SSH_AUTH_DENIED;
	}
	w->attempts++;
	size_t ul = strlen(user), pl = strlen(pass);
	if (ul == 0 || ul > SSHW_MAX_USER || pl > SSHW_MAX_PASS)
		return SSH_AUTH_DENIED;
	w_put(w, sshw_put_auth(&w->tx, user, ul, pass, pl));
	for (;;) {
		if (w_next(w, &m, &used)) {
			w_consume(w, used);
			if (m.type == SSHW_AUTH_OK) {
				w->authed = 1;
				alarm(0);
				return SSH_AUTH_SUCCESS;
			}
			if (m.type == SSHW_AUTH_FAIL)
				return SSH_AUTH_DENIED;
			w_die("unexpected frame during login");
		}
		int r = w_fill(w, W_REPLY_MS);
		if (r <= 0)
			w_die(r == 0 ? "lost hearthd" : "no login answer from hearthd");
	}
}

static int w_auth_password(ssh_session s, const char *user, const char *pass, void *ud)
{
	(void)s;
	return w_login(ud, user, pass);
}

/* "none" with "<id>#<token>" as the user: the token is in the name. */
static int w_auth_none(ssh_session s, const char *user, void *ud)
{
	(void)s;
	return strchr(user, '#') ? w_login(ud, user, "") : SSH_AUTH_DENIED;
}

static ssh_channel w_open_session(ssh_session s, void *ud)
{
	struct worker *w = ud;
	if (!w->authed)
		return NULL;
	ssh_channel ch = ssh_channel_new(s);
	if (ch && !w_chan_new(w, ch)) {
		ssh_channel_free(ch);
		return NULL;
	}
	return ch;
}

/*
 * What the callbacks leave: direct-tcpip opens (accepted, then bridged to a
 * guest port by hearthd); everything else (tcpip-forward, x11, agent
 * forwarding, other channel types) gets libssh's default refusal and the
 * session goes on.
 */
static int w_message(ssh_session s, ssh_message msg, void *ud)
{
	struct worker *w = ud;
	(void)s;
	if (!w->authed || ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_DIRECT_TCPIP)
		return 1;
	const char *host = ssh_message_channel_request_open_destination(msg);
	int port = ssh_message_channel_request_open_destination_port(msg);
	if (!host || port < 1 || port > 65535 || strlen(host) > SSHW_MAX_HOST)
		return 1;
	ssh_channel ch = ssh_channel_new(w->s);
	struct wchan *c = ch ? w_chan_new(w, ch) : NULL;
	if (!c) {
		if (ch)
			ssh_channel_free(ch);
		return 1;
	}
	if (ssh_message_channel_request_open_reply_accept_channel(msg, ch) != SSH_OK) {
		c->client_closed = c->close_sent = c->hd_closed = 1;
		return 0;
	}
	w_open(c, SSHW_KIND_TCP, "", host, (uint16_t)port);
	return 0;
}

int sshd_worker_main(int argc, char **argv)
{
	static struct worker w;
	struct sshw_msg m;
	size_t used;
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	alarm(SSHD_PREAUTH_S);
	ssh_init(); /* OpenSSL reads its configuration now, before the empty root */
	w_harden();
	buf_init(&w.tx, 2 * (SSHW_HDR_LEN + SSHW_MAX_PAYLOAD));
	while (!w_next(&w, &m, &used))
		if (w_fill(&w, SSHD_PREAUTH_S * 1000) <= 0)
			w_die("no host key from hearthd");
	if (m.type != SSHW_HOSTKEY)
		w_die("no host key from hearthd");
	char *keytext = strndup(m.key.p, m.key.len);
	w_consume(&w, used);
	ssh_key key = NULL;
	if (!keytext || ssh_pki_import_privkey_base64(keytext, NULL, NULL, NULL, &key) != SSH_OK)
		w_die("bad host key");
	explicit_bzero(keytext, strlen(keytext));
	free(keytext);

	ssh_bind b = ssh_bind_new();
	w.s = ssh_new();
	bool no = false;
	if (!b || !w.s || ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, key) < 0)
		w_die("libssh setup failed");
	if (ssh_bind_accept_fd(b, w.s, W_CLIENT) != SSH_OK)
		w_die("accept failed");
	struct ssh_server_callbacks_struct scb = {
		.userdata = &w,
		.auth_password_function = w_auth_password,
		.auth_none_function = w_auth_none,
		.channel_open_request_session_function = w_open_session,
	};
	ssh_callbacks_init(&scb);
	ssh_set_server_callbacks(w.s, &scb);
	ssh_set_message_callback(w.s, w_message, &w);
	if (ssh_handle_key_exchange(w.s) != SSH_OK)
		_exit(0); /* a client that went away or spoke no SSH: nothing to report */
	ssh_set_auth_methods(w.s, SSH_AUTH_METHOD_PASSWORD);
	w.ev = ssh_event_new();
	if (!w.ev || ssh_event_add_session(w.ev, w.s) != SSH_OK ||
	    ssh_event_add_fd(w.ev, W_HD, POLLIN, w_hd_readable, &w) != SSH_OK)
		w_die("event setup failed");
	while (!w.quit) {
		int r = ssh_event_dopoll(w.ev, 1000);
		w_sweep(&w);
		if (r == SSH_ERROR || (ssh_get_status(w.s) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
			break;
		if (!w.authed && w.attempts >= SSHD_MAX_AUTH)
			break;
	}
	ssh_disconnect(w.s);
	_exit(0);
}
