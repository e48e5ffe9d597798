/*
 * cmd_attach.c - `hearth attach unix:PATH`: a raw terminal on a new shell
 * channel of an agent stream. Resizes follow SIGWINCH; Ctrl-] then `d`
 * detaches (Ctrl-] twice sends one Ctrl-]); the remote exit status becomes
 * ours (128+N for a signal).
 */
#include "shell/client/client.h"
#include "shell/client/detachkey.h"
#include "shell/client/muxconn.h"
#include "shell/client/term.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define ATTACH_WINDOW (1024u * 1024)
#define ATTACH_KEYS_MAX 4096 /* keystrokes read at once */
#define ATTACH_DATA_MAX 1023 /* keystrokes per DATA frame */

struct attach {
	struct muxconn c;
	uint32_t ch;          /* random: channels of earlier sessions may still be live */
	uint32_t send_window; /* bytes the agent still accepts */
	int exit_status;      /* -1 until EXIT */
	int closed;
	struct detachkey keys;
	int detached;
};

/* Keystrokes (at most ATTACH_KEYS_MAX): filter the detach sequence, then queue DATA. */
static void attach_keys(struct attach *a, const uint8_t *p, size_t n)
{
	uint8_t out[ATTACH_KEYS_MAX + 1];
	size_t o = detachkey_filter(&a->keys, p, n, out, sizeof(out));

	if (a->keys.detached)
		a->detached = 1;
	for (size_t off = 0; off < o; off += ATTACH_DATA_MAX) {
		size_t len = o - off < ATTACH_DATA_MAX ? o - off : ATTACH_DATA_MAX;

		mux_put_data(&a->c.out, a->ch, MUX_STREAM_MAIN, out + off, len);
		a->send_window -= (uint32_t)len;
	}
}

static void attach_resize(struct attach *a)
{
	struct mux_resize rz = { 0, 0, 0, 0 };

	term_size(STDIN_FILENO, &rz.rows, &rz.cols);
	mux_put_resize(&a->c.out, a->ch, &rz);
}

/* One frame from the agent. Returns -1 on a fatal protocol problem. */
static int attach_frame(struct attach *a, const struct mux_frame *f, char *err, size_t errlen)
{
	struct mux_data d;
	struct mux_exit ex;
	struct mux_fail fl;
	struct mux_open_ok ok;
	uint32_t incr;

	if (f->hdr.channel != 0 && f->hdr.channel != a->ch)
		return 0; /* another client's channel from an earlier session */
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		if (mux_decode_open_ok(f, &ok) != MUX_OK)
			goto bad;
		a->send_window = ok.window;
		return 0;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			snprintf(err, errlen, "shell refused: %.*s", fl.msg.len, fl.msg.p);
		else
			snprintf(err, errlen, "shell refused");
		return -1;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			goto bad;
		if (term_write_all(STDOUT_FILENO, d.p, d.len) != 0) {
			snprintf(err, errlen, "write to terminal: %s", strerror(errno));
			return -1;
		}
		if (d.len > 0)
			mux_put_window(&a->c.out, a->ch, d.len);
		return 0;
	case MUX_WINDOW:
		if (mux_decode_window(f, &incr) != MUX_OK)
			goto bad;
		a->send_window += incr;
		return 0;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) != MUX_OK)
			goto bad;
		a->exit_status = ex.how == MUX_EXIT_CODE ? (ex.value & 0xff) : 128 + ex.value;
		return 0;
	case MUX_CLOSE:
		mux_put_close(&a->c.out, a->ch);
		a->closed = 1;
		return 0;
	case MUX_ERROR:
		if (mux_decode_fail(f, &fl) == MUX_OK && f->hdr.channel == a->ch) {
			snprintf(err, errlen, "agent error: %.*s", fl.msg.len, fl.msg.p);
			return -1;
		}
		return 0;
	default:
		return 0; /* PING etc. are not ours to answer; the agent never sends them unasked */
	}
bad:
	snprintf(err, errlen, "malformed %s from agent", mux_type_name(f->hdr.type));
	return -1;
}

static int attach_open(struct attach *a)
{
	static struct mux_open o;
	const char *termname = getenv("TERM");

	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_SHELL;
	o.window = ATTACH_WINDOW;
	o.term = mux_cstr(termname && *termname && strlen(termname) <= MUX_MAX_TERM ? termname
										  : "xterm-256color");
	o.has_size = 1;
	term_size(STDIN_FILENO, &o.rows, &o.cols);
	o.login = 1;
	return mux_put_open(&a->c.out, a->ch, &o) == MUX_OK ? 0 : -1;
}

static int attach_loop(struct attach *a, char *err, size_t errlen)
{
	uint8_t kb[ATTACH_KEYS_MAX];
	struct mux_frame f;
	int rc;

	while (!a->closed && !a->detached) {
		struct pollfd p[3] = {
			{ STDIN_FILENO, a->send_window > 0 ? POLLIN : 0, 0 },
			{ a->c.fd, POLLIN | (buf_used(&a->c.out) ? POLLOUT : 0), 0 },
			{ term_sig_fd(), POLLIN, 0 },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (p[2].revents & POLLIN) {
			int winch = 0;

			while (term_sig_read(kb, sizeof(kb)) > 0)
				winch = 1; /* SIGWINCH is all we catch: one resize for them all */
			if (winch)
				attach_resize(a);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			size_t want = a->send_window < sizeof(kb) ? a->send_window : sizeof(kb);
			ssize_t n = read(STDIN_FILENO, kb, want);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				a->detached = 1; /* local input ended: leave the shell running */
				break;
			}
			if (n > 0)
				attach_keys(a, kb, (size_t)n);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			while ((rc = muxconn_next(&a->c, 1, &f)) != MUX_AGAIN) {
				if (rc == MUXCONN_EOF || rc == MUXCONN_IOERR) {
					snprintf(err, errlen, "connection to the agent lost");
					return -1;
				}
				if (rc == MUX_OK && attach_frame(a, &f, err, errlen) != 0)
					return -1;
			}
		}
		if (muxconn_flush(&a->c) != 0) {
			snprintf(err, errlen, "connection to the agent lost");
			return -1;
		}
	}
	muxconn_flush(&a->c);
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	static struct attach a;
	static const int sigs[] = { SIGWINCH };
	char err[256] = "";
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: hearth attach unix:PATH\n");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.exit_status = -1;
	if (getrandom(&a.ch, sizeof(a.ch), 0) != sizeof(a.ch))
		a.ch = (uint32_t)getpid();
	a.ch = (a.ch & 0x7fffffffu) | 1u;
	if ((rc = muxconn_open(&a.c, argv[1])) != 0) {
		fprintf(stderr, "hearth: cannot connect to %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	if (muxconn_hello(&a.c, 10000, err, sizeof(err)) != 0 || attach_open(&a) != 0) {
		fprintf(stderr, "hearth: %s\n", err[0] ? err : "cannot open a shell");
		muxconn_close(&a.c);
		return 1;
	}
	if (term_sig_open(sigs, 1) != 0) {
		fprintf(stderr, "hearth: pipe: %s\n", strerror(errno));
		muxconn_close(&a.c);
		return 1;
	}
	term_raw(STDIN_FILENO); /* not a terminal: piped input, nothing to restore */
	rc = attach_loop(&a, err, sizeof(err));
	term_restore();
	term_sig_close();
	muxconn_close(&a.c);
	if (rc != 0) {
		fprintf(stderr, "\r\nhearth: %s\n", err);
		return 255;
	}
	if (a.detached) {
		fprintf(stderr, "\r\nhearth: detached (the shell keeps running)\n");
		return 0;
	}
	return a.exit_status >= 0 ? a.exit_status : 255;
}
