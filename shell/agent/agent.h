/*
 * agent.h - hearth-agent, the guest agent: shared types and the functions
 * each file exports. One file per concern:
 *   agent.c      main, options, the epoll loop, deadlines, shutdown
 *   conn.c       the host streams (main and direct): listen socket or
 *                character device, frame reading, the bounded outgoing
 *                queue, session starts and ends
 *   msg.c        the dispatch table: one handler per message type
 *   chan.c       the channel table, windows, output pumping, EOF/EXIT/CLOSE
 *   chan_shell.c pty shells (forkpty)
 *   chan_exec.c  exec channels (pipes, own process group)
 *   chan_tcp.c   tcp relay channels (non-blocking connect)
 *   chan_dns.c   the DNS channel: a socketpair between the channel and dns.c
 *   dns.c        the DNS stub on 127.0.0.53 and 169.254.169.253 (PID 1)
 *   chan_ident.c the identity channel: a socketpair between the channel and identity.c
 *   identity.c   /run/hearth/identity.sock: token requests on to hearthd (PID 1)
 *   identity_cli.c  hearth-identity (the agent binary run under that name)
 *   spawn.c      what a child needs: user, environment, cwd, credentials
 *   passwd.c     bounded /etc/passwd and /etc/group parsing (no NSS)
 *   ctl.c        CTL_REQ operations
 *   reap.c       SIGCHLD handling and delayed kills
 *   pid1.c       PID 1 duties: mounts, loopback, power off
 *   caps.c       the capability set of the children (HEARTH_CAPS)
 *   log.c        diagnostics to stderr
 */
#ifndef HEARTH_AGENT_H
#define HEARTH_AGENT_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "protocol/buf.h"
#include "protocol/mux.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_SOFTWARE "hearth-agent/" AGENT_VERSION
#define AGENT_MAX_CHANS 1024
#define AGENT_RX_WINDOW MUX_DEFAULT_WINDOW /* what we grant the host per channel */

/*
 * Outgoing queue limits. Channel output is read only while the queue holds
 * less than OUT_DATA_HIGH, so one flooding channel delays another's echo by at
 * most one queue's worth. Host frames are processed while below OUT_CTL_HIGH
 * (their replies are small); OUT_MAX leaves room for the largest reply.
 */
#define OUT_DATA_HIGH (128u * 1024)
#define OUT_CTL_HIGH (512u * 1024)
#define OUT_MAX (OUT_CTL_HIGH + 2u * (MUX_HDR_LEN + MUX_MAX_PAYLOAD))

#define SHELL_DRAIN_MS 250  /* pty idle after the shell exited: treat as drained */
#define KILL_GRACE_MS 1000  /* CLOSE on a running channel: SIGKILL after this */
#define REOPEN_MS 200       /* main device: retry after EOF/EIO/hangup */
#define AGENT_DEVICE_AUTO "auto"          /* --device auto: find the agent port */
#define AGENT_DEVICE_CONSOLE "/dev/hvc0"
#define AGENT_PORT_NAME "hearth.agent"    /* virtio-serial port name given by the VMM */
#define AGENT_DIRECT_PORT_NAME "hearth.direct" /* the direct stream's port (auto) */

/*
 * Objects registered with epoll start with this tag. Registrations are
 * edge-triggered; EPOLLOUT is added only while a write is blocked (else every
 * write would cost a wakeup when the peer drains it).
 */
enum src_type { SRC_LISTEN = 1, SRC_CONN, SRC_SIGNAL, SRC_CHAN, SRC_DNS, SRC_IDENT };
struct src {
	uint8_t type;
	uint32_t events; /* current epoll mask */
};
#define EV_BASE (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define EV_OUT (EV_BASE | EPOLLOUT)

struct chan;
struct conn;

/* One channel file descriptor registered with epoll (edge-triggered). */
struct chan_fd {
	struct src src; /* SRC_CHAN */
	int fd;         /* -1 when closed */
	int8_t stream;  /* output stream read from this fd, -1 for none */
	uint8_t input;  /* host bytes are written to this fd */
	uint8_t readable, writable;
	uint8_t hup;    /* hangup/error seen: read until EOF, not just a short read */
	struct chan *ch;
};

struct chan_out {
	uint8_t active;   /* this stream exists for the channel's kind */
	uint8_t ended;    /* the fd reached EOF (or EIO for a pty) */
	uint8_t eof_sent; /* EOF sent in the current session */
};

/*
 * A channel. fds[i] is read for output stream i (when fds[i].stream == i);
 * the input fd is fds[0] (pty, exec stdin, tcp socket).
 */
struct chan {
	struct conn *conn;   /* the stream that opened it: all its frames go there */
	uint32_t id;         /* unique within its stream only */
	uint8_t kind;
	uint8_t opened;      /* OPEN_OK sent (tcp: only after connect) */
	uint8_t connecting;  /* tcp: connect in progress */
	pid_t pid;           /* child and its process group; 0 for tcp */
	uint8_t exited;      /* child reaped */
	int wstatus;
	struct chan_fd fds[3];
	struct chan_out out[3];
	/* host -> agent */
	struct buf inbuf;    /* bytes received, not yet written to the fd */
	uint32_t rx_avail;   /* bytes the host may still send (our window) */
	uint8_t in_closed;   /* no input fd (closed, never had one) */
	uint8_t host_eof;    /* EOF received: close/shutdown once inbuf drains */
	uint8_t want_stdin;  /* exec: stdin comes from the channel */
	/* agent -> host */
	uint32_t tx_window;  /* bytes we may still send */
	uint32_t tx_initial; /* the window the host gave in OPEN */
	uint8_t exit_sent, close_sent, close_rcvd;
	int64_t drain_deadline; /* shell: end the pty stream at this time (ms), 0 none */
};

/*
 * The host streams. The main stream is the keeper's (PROTOCOL.md 1.4: its
 * channels survive the host); the direct stream is hearthd's own (1.9: its
 * channels end with its session, and it has no whole-VM control). Each has
 * its own session, channel ids, CTL ids, queue and flow control.
 */
enum conn_id { CONN_MAIN, CONN_DIRECT, CONN_COUNT };
enum conn_mode { CONN_OFF, CONN_LISTEN, CONN_DEVICE };

/* One host stream: a unix socket connection or a character device. */
struct conn {
	struct src src; /* SRC_CONN; first member: events map back to the conn */
	uint8_t id;     /* enum conn_id */
	uint8_t direct; /* the direct stream's rules (PROTOCOL.md 1.9) */
	uint8_t mode;   /* enum conn_mode */
	const char *name;   /* "main" or "direct", for logs */
	const char *device; /* device mode: a path, or AGENT_DEVICE_AUTO */
	int fd;
	uint8_t readable, writable;
	uint8_t hup;    /* hangup/error seen */
	uint8_t hello;  /* a host session is established */
	struct mux_reader *rd;
	uint8_t raw[65536];
	size_t raw_off, raw_len;
	struct buf out;
	unsigned rr;       /* round-robin start for output pumping (chan index) */
	int64_t reopen_at; /* main device: reopen at this time (ms), 0 none */
	/* listen mode */
	struct src listen_src; /* SRC_LISTEN */
	int listen_fd;
	uint8_t listen_ready;
	char listen_path[108];
};

struct reap_entry {
	pid_t pid;
	int64_t kill_at; /* 0 once SIGKILL was sent */
};

#define REAP_MAX 4096

struct agent {
	int epfd;
	int pid1;
	int verbose;
	struct src sig_src;      /* SRC_SIGNAL */
	int sig_fd;
	uint8_t sig_ready;
	struct conn conns[CONN_COUNT];
	struct chan *chans[AGENT_MAX_CHANS]; /* both streams': one limit */
	unsigned nchans;
	int quit;                /* leave the loop (not PID 1) */
	int poweroff;            /* power off once the queue is flushed */
	int64_t poweroff_at;
	struct reap_entry reap[REAP_MAX];
	unsigned nreap;
};

/* agent.c */
int64_t agent_now_ms(void);
int agent_watch(struct agent *a, int fd, struct src *s, uint32_t events);
void agent_rearm(struct agent *a, int fd, struct src *s, uint32_t events);
void agent_request_poweroff(struct agent *a);

/* netreset.c: CTL NET_RESET; the number of connections aborted */
unsigned netreset_run(void);

/* log.c */
void log_init(int verbose);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conn.c */
int conn_init(struct agent *a);
struct conn *conn_of_src(struct src *s);
int conn_listen(struct agent *a, struct conn *c, const char *path);
void conn_accept(struct agent *a, struct conn *c);
int conn_open_device(struct agent *a, struct conn *c);
int conn_process_input(struct agent *a, struct conn *c);
int conn_flush(struct agent *a, struct conn *c);
void conn_check_reopen(struct agent *a, int64_t now);
void conn_session_start(struct agent *a, struct conn *c);
int conn_ready(const struct conn *c);
void conn_error(struct conn *c, uint32_t ch, int code, const char *msg);
void conn_shutdown(struct agent *a);

/* msg.c */
void msg_dispatch(struct agent *a, struct conn *c, const struct mux_frame *f);

/* chan.c */
struct chan *chan_find(struct agent *a, const struct conn *conn, uint32_t id);
struct chan *chan_new(struct agent *a, struct conn *conn, uint32_t id, uint8_t kind,
		      uint32_t host_window);
void chan_set_fd(struct agent *a, struct chan *c, int idx, int fd, int stream, int input);
void chan_destroy(struct agent *a, struct chan *c);
int chan_open(struct agent *a, struct conn *conn, uint32_t id, const struct mux_open *o);
void chan_host_data(struct agent *a, struct chan *c, const struct mux_data *d);
void chan_host_window(struct agent *a, struct chan *c, uint32_t incr);
void chan_host_eof(struct agent *a, struct chan *c, uint8_t stream);
void chan_host_close(struct agent *a, struct chan *c);
void chan_child_exited(struct agent *a, pid_t pid, int wstatus);
int chan_resize(struct chan *c, const struct mux_resize *r);
int chan_signal(struct chan *c, int signo);
int chan_write_inputs(struct agent *a);
int chan_pump(struct agent *a);
int chan_advance(struct agent *a, int64_t now);
int64_t chan_next_deadline(struct agent *a);
void chan_session_reset(struct agent *a, const struct conn *conn);
void chan_end_stream(struct agent *a, const struct conn *conn);
unsigned chan_count(const struct agent *a, const struct conn *conn);
void chan_kill_all(struct agent *a);
uint8_t chan_state(const struct chan *c);
void chan_close_fd(struct agent *a, struct chan *c, int idx);
void chan_send_open_ok(struct agent *a, struct chan *c);

/* Per-kind operations, indexed by mux_kind. */
struct chan_kind_ops {
	/* Start the channel; on failure fill err and return a mux_err. */
	int (*open)(struct agent *a, struct chan *c, const struct mux_open *o, char *err,
		    size_t errlen);
	int (*resize)(struct chan *c, const struct mux_resize *r);
	int (*signal)(struct chan *c, int signo);
	void (*host_eof)(struct agent *a, struct chan *c); /* after inbuf drained */
	void (*terminate)(struct agent *a, struct chan *c); /* CLOSE from host, still running */
};
extern const struct chan_kind_ops chan_shell_ops;
extern const struct chan_kind_ops chan_exec_ops;
extern const struct chan_kind_ops chan_tcp_ops;
extern const struct chan_kind_ops chan_dns_ops;
extern const struct chan_kind_ops chan_ident_ops;
/* Kinds without a process: a socket is the channel (tcp, dns). */
int chan_is_socket(const struct chan *c);
/* Open a channel whose input and output are one end of a socketpair, the
 * other end handed to attach (the DNS stub, the identity socket); what
 * names the service in the error when attach refuses. */
int chan_socketpair_open(struct agent *a, struct chan *c, int (*attach)(struct agent *, int),
			 const char *what, char *err, size_t errlen);
/* host_eof of such a channel: the service reads EOF. */
void chan_socketpair_host_eof(struct agent *a, struct chan *c);
void chan_tcp_connected(struct agent *a, struct chan *c);

/* spawn.c */
struct spawn_req {
	char *argv[MUX_MAX_ARGV + 2];
	char *envp[MUX_MAX_ENV + 16];
	unsigned nenv;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	int change_user;
	int cwd_default; /* cwd is the user's home: fall back to / if missing */
	char user[MUX_MAX_USER + 1];
	char home[512];
	char shell[512];
};
int spawn_prepare(struct spawn_req *r, const struct mux_open *o, const char *term, char *err,
		  size_t errlen);
/* --shell: the shell of pty channels that name none, for every user, in
 * place of /etc/passwd's. An absolute path; -1 if not one or too long. */
int spawn_set_default_shell(const char *path);
int spawn_add_arg(struct spawn_req *r, unsigned idx, const char *s, size_t n);
int spawn_set_env(struct spawn_req *r, const char *s, size_t n);
void spawn_free(struct spawn_req *r);
/* In the child: signals, cwd, credentials, environment. Returns 0 or errno. */
int spawn_child_setup(const struct spawn_req *r, const char **stage);
/* Child reports a failed stage to the parent through errfd, then exits. */
void spawn_child_fail(int errfd, const char *stage, int err) __attribute__((noreturn));
/* Parent: wait for exec (EOF) or a failure report; returns 0 or errno. */
int spawn_wait_exec(int errfd, char *err, size_t errlen);

/* passwd.c */
struct passwd_ent {
	char name[MUX_MAX_USER + 1];
	uid_t uid;
	gid_t gid;
	char home[512];
	char shell[512];
};
int passwd_by_name(const char *path, const char *name, struct passwd_ent *out);
int passwd_by_uid(const char *path, uid_t uid, struct passwd_ent *out);
int passwd_groups(const char *path, const char *user, gid_t base, gid_t *list, int max);
int passwd_group_by_name(const char *path, const char *name, gid_t *gid);
/* A decimal id (uid or gid, < 2^31): 0 with *v, -1 when s is not one. */
int passwd_id(const char *s, unsigned long *v);

/* ctl.c */
void ctl_request(struct agent *a, struct conn *c, const struct mux_ctl_req *req);

/* dns.c: the stub (started by PID 1 only) */
int dns_init(struct agent *a);
void dns_event(struct src *s);
/* Take fd (the stub's end of a DNS channel); -1 when there is no stub. */
int dns_attach(struct agent *a, int fd);
int dns_run(struct agent *a, int64_t now);
int64_t dns_next_deadline(void);

/* identity.c: the identity socket (started by PID 1 only) */
#define IDENT_SOCK "/run/hearth/identity.sock"
int ident_init(struct agent *a);
void ident_event(struct src *s);
/* Take fd (the socket side of an identity channel); -1 when there is no socket. */
int ident_attach(struct agent *a, int fd);
int ident_run(struct agent *a, int64_t now);
int64_t ident_next_deadline(void);

/* identity_cli.c: main() of hearth-identity (argv[0]); the exit status */
#define IDENT_CLI_NAME "hearth-identity"
int ident_cli_main(int argc, char **argv);

/* reap.c */
void reap_children(struct agent *a);
void reap_kill_later(struct agent *a, pid_t pgid, int64_t when);
void reap_run_kills(struct agent *a, int64_t now);
int64_t reap_next_deadline(const struct agent *a);

/* caps.c: what HEARTH_CAPS (from the kernel command line) asks for */
#define CAPS_ENV "HEARTH_CAPS"
enum caps_mode { CAPS_UNCHANGED, CAPS_DEFAULT, CAPS_ALL };
/* Read (and unset) HEARTH_CAPS; once, before anything is started. */
enum caps_mode caps_init(void);
/* PID 1, default set: user namespaces off, /proc/sys, /sys, cgroups read-only. */
void caps_boot(void);
/* In a child before exec: reduce to the default set (bounding, ambient, E/P/I);
 * 0 or an errno. */
int caps_child_restrict(void);

/* pid1.c */
void pid1_setup(void);
void pid1_poweroff(void) __attribute__((noreturn));

#endif
