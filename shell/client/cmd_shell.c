/*
 * cmd_shell.c - `hearth shell ID [--session S [--ro]]`: a raw terminal on a
 * shell in a microVM over its shell endpoint (protocol/PROTOCOL.md section
 * 2). With hearth.v1 (2.3): a new shell (`open` with the terminal size) or
 * an existing one (`attach`); Ctrl-] then `d` detaches and prints the
 * session id; a dropped connection is reattached at the output offset seen
 * (with a new token when the old one has expired); the remote exit status
 * becomes ours (128+N for a signal). Against a compatible-core server (no
 * hearth.v1) the shell is the connection's: no reattach, status 0 on exit.
 */
#include "shell/client/client.h"
#include "shell/client/detachkey.h"
#include "shell/client/term.h"
#include "shell/client/vmdial.h"
#include "protocol/wsclient.h"
#include "vmm/clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHELL_START_MS 30000    /* hello .. session_init */
#define SHELL_RECONNECT_S 120   /* how long a lost connection is retried */
#define EOF_QUIET_MS 700        /* output pause before ^D for the end of piped input */

enum { O_SESSION = 1, O_RO };

struct shell {
	struct vmdial d;
	struct wsconn c;
	int started;          /* a session ran: reconnects attach at the offset */
	int v1;               /* the server speaks hearth.v1 */
	int ro;
	char session[128];
	unsigned long long offset; /* output bytes received (hearth.v1 numbering) */
	int exit_status;      /* -1 until the shell ends */
	int ended;            /* the shell is gone */
	int detach;           /* 1 asked, 2 done */
	struct detachkey keys;
	int stdin_done;       /* piped input ended */
	int eof_sends;        /* ^D still to send for it (see eof_due) */
	int quiet_detach;     /* read-only, piped input ended: detach once output pauses */
	long long quiet_since; /* monotonic ms of the last output */
	int lost;             /* the connection dropped: reconnect */
	char err[512];
};

/* A line for the user between raw-mode output: starts on a fresh line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "\r\nhearth: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r\n");
}

static void send_resize(struct shell *s)
{
	uint16_t rows, cols;
	if (s->ro && s->v1)
		return; /* only read-write viewers size the pty */
	term_size(STDIN_FILENO, &rows, &cols);
	json_object *m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("resize"));
	json_object_object_add(m, "cols", json_object_new_int(cols));
	json_object_object_add(m, "rows", json_object_new_int(rows));
	vmdial_send_json(&s->c, m);
}

/*
 * After the upgrade: hello, then open or attach, until the session runs.
 * 0; -1 with s->err; -2 when the session no longer exists.
 */
static int start(struct shell *s)
{
	json_object *doc, *m, *v;
	const char *type;
	char msg[400];
	s->v1 = s->c.v1;
	if (!s->v1) {
		if (s->session[0]) {
			snprintf(s->err, sizeof s->err,
				 "this server does not speak hearth.v1: --session needs it");
			return -1;
		}
		if (vmdial_wait_text(&s->c, SHELL_START_MS, &doc, &type, s->err, sizeof s->err) != 0)
			return -1;
		if (strcmp(type, "session_init") != 0) {
			json_object_put(doc);
			snprintf(s->err, sizeof s->err, "expected session_init");
			return -1;
		}
		snprintf(s->session, sizeof s->session, "%s", api_str(doc, "session_id"));
		json_object_put(doc);
		send_resize(s);
		return 0;
	}
	if (vmdial_hello(&s->c, SHELL_START_MS, s->err, sizeof s->err) != 0)
		return -1;
	m = json_object_new_object();
	if (s->session[0]) {
		json_object_object_add(m, "type", json_object_new_string("attach"));
		json_object_object_add(m, "session_id", json_object_new_string(s->session));
		json_object_object_add(m, "mode", json_object_new_string(s->ro ? "ro" : "rw"));
		if (s->started) /* a reconnect: only what we have not seen */
			json_object_object_add(m, "offset", json_object_new_uint64(s->offset));
	} else {
		uint16_t rows, cols;
		term_size(STDIN_FILENO, &rows, &cols);
		json_object_object_add(m, "type", json_object_new_string("open"));
		json_object_object_add(m, "cols", json_object_new_int(cols));
		json_object_object_add(m, "rows", json_object_new_int(rows));
	}
	vmdial_send_json(&s->c, m);
	if (vmdial_wait_text(&s->c, SHELL_START_MS, &doc, &type, s->err, sizeof s->err) != 0)
		return -1;
	int rc = 0;
	if (strcmp(type, "session_init") == 0) {
		snprintf(s->session, sizeof s->session, "%s", api_str(doc, "session_id"));
		s->offset = 0;
	} else if (strcmp(type, "attached") == 0) {
		if (json_object_object_get_ex(doc, "offset", &v))
			s->offset = (unsigned long long)json_object_get_int64(v);
		if (json_object_object_get_ex(doc, "dropped", &v) && json_object_get_int64(v) > 0) {
			snprintf(msg, sizeof msg, "%lld", (long long)json_object_get_int64(v));
			say("%s bytes of output were lost while disconnected", msg);
		}
		send_resize(s);
	} else if (strcmp(type, "error") == 0) {
		vmdial_error_text(doc, msg, sizeof msg);
		snprintf(s->err, sizeof s->err, "the server refused the shell: %s", msg);
		rc = strcmp(api_str(doc, "code"), "NoSuchSession") == 0 ? -2 : -1;
	} else {
		snprintf(s->err, sizeof s->err, "unexpected '%.40s' from the server", type);
		rc = -1;
	}
	json_object_put(doc);
	return rc;
}

/* Reattach after a lost connection, for up to SHELL_RECONNECT_S. 0 or -1. */
static int reconnect(struct shell *s)
{
	struct timespec t0, now;
	int pause_ms = 250;
	say("connection lost; reconnecting to session %s", s->session);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int rc = vmdial_connect(&s->d, &s->c, 1);
		if (rc == 1)
			return -1; /* refused: printed */
		if (rc == 0) {
			rc = start(s);
			if (rc == 0) {
				say("reconnected");
				return 0;
			}
			wsconn_close(&s->c, 1000);
			if (rc == -2) {
				snprintf(s->err, sizeof s->err, "the shell ended while disconnected");
				return -1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= SHELL_RECONNECT_S) {
			snprintf(s->err, sizeof s->err, "could not reconnect within %d s", SHELL_RECONNECT_S);
			return -1;
		}
		struct timespec ps = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
		nanosleep(&ps, NULL);
		pause_ms = pause_ms * 2 > 2000 ? 2000 : pause_ms * 2;
	}
}

/* Keystrokes (at most 4096): filter the detach sequence, send the rest as BINARY. */
static void keys(struct shell *s, const uint8_t *p, size_t n)
{
	uint8_t out[4096 + 1];
	size_t o = 0;
	if (!s->detach) {
		o = detachkey_filter(&s->keys, p, n, out, sizeof out);
		if (s->keys.detached)
			s->detach = 1;
	}
	if (o > 0 && !s->ro)
		wsconn_send(&s->c, WSC_BINARY, out, o);
	if (s->detach == 1) {
		if (s->v1) {
			json_object *m = json_object_new_object();
			json_object_object_add(m, "type", json_object_new_string("detach"));
			vmdial_send_json(&s->c, m);
		} else {
			s->detach = 2; /* nothing to ask: closing is all there is */
		}
	}
}

static void text(struct shell *s, const uint8_t *p, size_t n)
{
	struct vmdial_msg vm;
	vmdial_msg(p, n, &vm);
	switch (vm.kind) {
	case VMDIAL_MSG_EXIT:
		s->exit_status = vm.exit_status;
		s->ended = 1;
		break;
	case VMDIAL_MSG_DROPPED:
		s->offset += (unsigned long long)vm.dropped;
		break;
	case VMDIAL_MSG_ERROR:
		say("server: %s", vm.error);
		break;
	}
}

/* One message from the server. -1 ends the loop with s->err. */
static int message(struct shell *s, const struct wsconn_msg *m)
{
	char reason[128];
	switch (m->opcode) {
	case WSC_BINARY:
		s->offset += m->len;
		s->quiet_since = clock_ms();
		if (term_write_all(STDOUT_FILENO, m->p, m->len) != 0) {
			snprintf(s->err, sizeof s->err, "write to terminal: %s", strerror(errno));
			return -1;
		}
		return 0;
	case WSC_TEXT:
		text(s, m->p, m->len);
		return 0;
	case WSC_CLOSE:
		snprintf(reason, sizeof reason, "%.*s", (int)(m->len > 120 ? 120 : m->len),
			 (const char *)m->p);
		for (char *q = reason; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = '?';
		if (s->detach && m->close_code == 1000) {
			s->detach = 2;
			return 0;
		}
		if (m->close_code == 1000 || !s->v1 || m->close_code == 1008) {
			s->ended = 1;
			if (m->close_code != 1000)
				snprintf(s->err, sizeof s->err, "the server closed the shell (%u %s)",
					 m->close_code, reason);
			return m->close_code == 1000 ? 0 : -1;
		}
		s->lost = 1; /* going away, keepalive, too slow: the shell may live on */
		return 0;
	}
	return 0;
}

static int loop(struct shell *s)
{
	uint8_t kb[4096];
	struct wsconn_msg m;
	while (!s->ended && s->detach != 2) {
		if (s->lost) {
			wsconn_close(&s->c, 1001);
			s->lost = 0;
			if (!s->v1) {
				snprintf(s->err, sizeof s->err,
					 "connection lost (this server ends the shell with it)");
				return -1;
			}
			if (reconnect(s) != 0)
				return -1;
		}
		struct pollfd p[3] = {
			{ s->stdin_done ? -1 : STDIN_FILENO, s->detach ? 0 : POLLIN, 0 },
			{ s->c.fd, POLLIN | (wsconn_pending(&s->c) ? POLLOUT : 0), 0 },
			{ term_sig_fd(), POLLIN, 0 },
		};
		int wait = s->detach ? 5000 : -1;
		if (s->quiet_detach) {
			/* The replay may still be coming: leave when it has paused. */
			long long due = s->quiet_since + EOF_QUIET_MS - clock_ms();
			if (due <= 0) {
				keys(s, (const uint8_t *)"\x1d" "d", 2);
				s->quiet_detach = 0;
			} else {
				wait = (int)due;
			}
		}
		if (s->eof_sends > 0) {
			long long due = s->quiet_since + EOF_QUIET_MS - clock_ms();
			if (due <= 0 && s->quiet_since > 0) {
				keys(s, (const uint8_t *)"\x04", 1);
				s->eof_sends--;
				s->quiet_since = clock_ms();
				due = EOF_QUIET_MS;
			}
			wait = due > 0 ? (int)due : EOF_QUIET_MS;
		}
		/* Frames that came with session_init (or behind a message we
		 * stopped at) are already read: poll() would not report them. */
		int buffered = !s->lost && wsconn_buffered(&s->c);
		int pr = poll(p, 3, buffered ? 0 : wait);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			snprintf(s->err, sizeof s->err, "poll: %s", strerror(errno));
			return -1;
		}
		if (pr == 0 && s->detach && !buffered) {
			s->detach = 2; /* the server did not confirm the detach: leave anyway */
			break;
		}
		if (p[2].revents & POLLIN) {
			int winch = 0;
			while (term_sig_read(kb, sizeof kb) > 0)
				winch = 1; /* SIGWINCH is all we catch: one resize for them all */
			if (winch)
				send_resize(s);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(STDIN_FILENO, kb, sizeof kb);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				if (isatty(STDIN_FILENO)) {
					keys(s, (const uint8_t *)"\x1d" "d", 2); /* terminal gone: detach */
				} else if (s->ro) {
					s->stdin_done = 1;
					s->quiet_detach = 1;
					s->quiet_since = clock_ms();
				} else {
					/*
					 * Piped input ended: ^D to the shell, then wait for its
					 * exit. Sent once output has paused (a shell flushes
					 * input typed before its first prompt) and again a few
					 * times if the shell is still there.
					 */
					s->stdin_done = 1;
					s->eof_sends = 5;
				}
			} else if (n > 0)
				keys(s, kb, (size_t)n);
		}
		if (p[1].revents || buffered) {
			int rc;
			while (!s->lost && (rc = wsconn_next(&s->c, &m, s->err, sizeof s->err)) !=
						   WSCONN_AGAIN) {
				if (rc == WSCONN_EOF || rc == WSCONN_FAIL) {
					s->lost = 1;
					break;
				}
				if (message(s, &m) != 0)
					return -1;
				if (m.opcode == WSC_CLOSE)
					break;
			}
		}
		if (!s->lost && wsconn_flush(&s->c, s->err, sizeof s->err) != 0)
			s->lost = 1;
		if (s->lost && (s->ended || s->detach)) {
			if (s->detach)
				s->detach = 2; /* leaving anyway: no need to reattach */
			break;
		}
	}
	return 0;
}

static int shell_opt(void *ctx, int opt, const char *arg)
{
	struct shell *s = ctx;
	if (vmdial_option(&s->d, opt, arg) == 0)
		return 0;
	switch (opt) {
	case O_SESSION:
		if (strlen(arg) >= sizeof s->session)
			return api_usage(&s->d.a, "--session: too long");
		snprintf(s->session, sizeof s->session, "%s", arg);
		return 0;
	case O_RO:
		s->ro = 1;
		return 0;
	}
	return api_usage(&s->d.a, "unexpected option");
}

int cmd_shell(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, O_SESSION },
		{ "ro", no_argument, NULL, O_RO },
		VMDIAL_OPTIONS,
		API_COMMON_OPTIONS,
		{ 0 },
	};
	static struct shell s;
	memset(&s, 0, sizeof s);
	s.exit_status = -1;
	s.c.fd = -1;
	api_init(&s.d.a, "shell",
		 "shell ID [--session S [--ro]] [--cacert FILE] [--connect-to HOST:PORT]");
	int first, rc = api_parse(&s.d.a, argc, argv, longopts, shell_opt, &s, &first);
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&s.d.a, "want exactly one microVM ID");
	if (s.ro && !s.session[0])
		return api_usage(&s.d.a, "--ro watches an existing shell: give --session S");
	s.d.id = argv[first];
	signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error, not a death */
	if ((rc = vmdial_init(&s.d)) != 0)
		return rc;
	if ((rc = vmdial_connect(&s.d, &s.c, 0)) != 0)
		return VMDIAL_EXIT_FAIL;
	if (start(&s) != 0) {
		fprintf(stderr, "hearth: %s\n", s.err);
		wsconn_close(&s.c, 1000);
		return VMDIAL_EXIT_FAIL;
	}
	s.started = 1;
	static const int sigs[] = { SIGWINCH };
	if (term_sig_open(sigs, 1) != 0) {
		fprintf(stderr, "hearth: pipe: %s\n", strerror(errno));
		wsconn_close(&s.c, 1000);
		return VMDIAL_EXIT_FAIL;
	}
	term_raw(STDIN_FILENO); /* not a terminal: piped input, nothing to restore */
	rc = loop(&s);
	term_restore();
	wsconn_close(&s.c, 1000);
	term_sig_close();
	explicit_bzero(s.d.token, sizeof s.d.token);
	if (rc != 0) {
		fprintf(stderr, "\r\nhearth: %s\n", s.err);
		if (s.v1 && s.session[0] && !s.ended)
			fprintf(stderr, "hearth: reattach with: hearth shell %s --session %s\n", s.d.id,
				s.session);
		return VMDIAL_EXIT_FAIL;
	}
	if (s.detach == 2 && !s.ended) {
		if (s.v1)
			fprintf(stderr,
				"\r\nhearth: detached; the shell keeps running. Reattach with:\n"
				"  hearth shell %s --session %s\n",
				s.d.id, s.session);
		else
			fprintf(stderr, "\r\nhearth: detached (this server ends the shell with its "
					"connection)\n");
		return 0;
	}
	return s.exit_status >= 0 ? s.exit_status : 0;
}
