/*
 * hooks.c - hook calls through a tcp channel of the agent protocol.
 */
#include "session/hooks.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/api_hook.h"
#include "protocol/mux.h"
#include "vmm/agentctl.h"
#include "vmm/clock.h"
#include "vmm/fdio.h"

#define HOOK_CHAN_BASE 0xf0000000u /* far from the ids interactive clients use */
#define HOOK_WINDOW (256u * 1024)

static atomic_uint hook_seq;

struct hook_io {
	int fd;
	uint32_t ch;
	struct mux_reader *rd;
	uint8_t in[16384];
	size_t in_off, in_len;
};

/* Next frame (any channel) or -1 on EOF/timeout/stream error. */
static int next_frame(struct hook_io *h, struct mux_frame *f, int64_t dl)
{
	for (;;) {
		if (h->in_off < h->in_len) {
			size_t used = 0;
			int rc = mux_reader_feed(h->rd, h->in + h->in_off, h->in_len - h->in_off,
						 &used, f);
			h->in_off += used;
			if (rc == MUX_OK)
				return 0;
			if (rc < 0)
				continue; /* refused frame skipped; stream stays in sync */
			continue;
		}
		/* Poll first: the fd may be blocking, and the deadline must hold. */
		struct pollfd pf = { .fd = h->fd, .events = POLLIN };
		int pr = poll(&pf, 1, clock_left(dl));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = recv(h->fd, h->in, sizeof h->in, MSG_DONTWAIT);
		if (r > 0) {
			h->in_off = 0;
			h->in_len = (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
	}
}

static int send_buf(struct hook_io *h, struct buf *b, int64_t dl)
{
	int rc = fdio_send_all(h->fd, buf_ptr(b), buf_used(b), -1, dl);
	buf_reset(b);
	return rc;
}

/* Free the channel: send CLOSE and wait briefly for the agent's CLOSE. */
static void chan_close(struct hook_io *h, struct buf *out, int64_t dl)
{
	struct mux_frame f;

	if (mux_put_close(out, h->ch) == MUX_OK && send_buf(h, out, dl + 500) == 0) {
		int64_t cdl = clock_ms() + 500;
		while (next_frame(h, &f, cdl) == 0)
			if (f.hdr.channel == h->ch && f.hdr.type == MUX_CLOSE)
				break;
	}
}

static int exchange(struct hook_io *h, uint16_t port, const char *hook, const void *body,
		    size_t len, int64_t dl, int *status, char *err, size_t errlen)
{
	struct buf out, req, resp;
	struct mux_frame f;
	int rc = -1, opened = 0, done = 0;
	uint32_t window = 0;
	buf_init(&out, 2 * (MUX_HDR_LEN + MUX_MAX_PAYLOAD));
	buf_init(&req, API_HOOK_MAX_RESPONSE);
	buf_init(&resp, API_HOOK_MAX_RESPONSE);
	struct mux_open o = { .kind = MUX_KIND_TCP, .window = HOOK_WINDOW, .has_port = 1,
			      .port = port };
	if (api_hook_request(&req, hook, body, len) < 0) {
		snprintf(err, errlen, "hook request too large");
		goto out;
	}
	if (mux_put_open(&out, h->ch, &o) != MUX_OK || send_buf(h, &out, dl) < 0) {
		snprintf(err, errlen, "agent channel write failed");
		goto out;
	}
	while (!done) {
		/* Send what the agent's window allows. */
		while (opened && buf_used(&req) && window) {
			size_t n = buf_used(&req);
			if (n > MUX_MAX_DATA)
				n = MUX_MAX_DATA;
			if (n > window)
				n = window;
			if (mux_put_data(&out, h->ch, MUX_STREAM_MAIN, buf_ptr(&req), n) != MUX_OK ||
			    send_buf(h, &out, dl) < 0) {
				snprintf(err, errlen, "agent channel write failed");
				goto out;
			}
			buf_consume(&req, n);
			window -= (uint32_t)n;
		}
		if (next_frame(h, &f, dl) < 0) {
			snprintf(err, errlen, opened ? "hook %s timed out" : "hook %s: agent did not open the port", hook);
			goto out;
		}
		if (f.hdr.channel != h->ch)
			continue;
		switch (f.hdr.type) {
		case MUX_OPEN_OK: {
			struct mux_open_ok ok;
			if (mux_decode_open_ok(&f, &ok) == MUX_OK) {
				opened = 1;
				window = ok.window;
			}
			break;
		}
		case MUX_OPEN_FAIL: {
			struct mux_fail fl;
			if (mux_decode_fail(&f, &fl) == MUX_OK)
				snprintf(err, errlen, "hook port %u: %s (%.*s)", port,
					 mux_strerror(fl.code), (int)fl.msg.len, fl.msg.p);
			else
				snprintf(err, errlen, "hook port %u: connection failed", port);
			goto out;
		}
		case MUX_WINDOW: {
			uint32_t inc;
			if (mux_decode_window(&f, &inc) == MUX_OK)
				window += inc;
			break;
		}
		case MUX_DATA: {
			struct mux_data d;
			if (mux_decode_data(&f, &d) == MUX_OK && buf_put(&resp, d.p, d.len) != BUF_OK)
				done = 1; /* enough of an answer to judge it */
			int st = api_hook_status((const char *)buf_ptr(&resp), buf_used(&resp), status);
			if (st < 0) {
				snprintf(err, errlen, "hook %s: the answer is not HTTP", hook);
				goto out;
			}
			break;
		}
		case MUX_EOF:
		case MUX_CLOSE:
		case MUX_ERROR:
			done = 1;
			break;
		default:
			break;
		}
	}
	if (api_hook_status((const char *)buf_ptr(&resp), buf_used(&resp), status) != 1) {
		snprintf(err, errlen, "hook %s: connection closed without an HTTP status", hook);
		goto out;
	}
	rc = 0;
out:
	chan_close(h, &out, dl);
	buf_free(&out);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}

/* Up to cap-1 bytes of output kept, NUL-terminated. */
struct exec_out {
	char *p;
	size_t cap, len;
};

static void out_keep(struct exec_out *o, const struct mux_frame *f)
{
	struct mux_data d;
	if (!o->p || mux_decode_data(f, &d) != MUX_OK || o->len + 1 >= o->cap)
		return;
	size_t n = d.len < o->cap - 1 - o->len ? d.len : o->cap - 1 - o->len;
	memcpy(o->p + o->len, d.p, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static int command(struct hook_io *h, struct mux_open *o, int64_t dl, int *code,
		   struct exec_out *keep, char *err, size_t errlen)
{
	struct buf out;
	struct mux_frame f;
	int rc = -1, opened = 0;
	buf_init(&out, 2 * (MUX_HDR_LEN + MUX_MAX_PAYLOAD));
	o->kind = MUX_KIND_EXEC;
	o->window = HOOK_WINDOW;
	if (mux_put_open(&out, h->ch, o) != MUX_OK) {
		snprintf(err, errlen, "exceeds the agent protocol's limits");
		goto out;
	}
	if (send_buf(h, &out, dl) < 0) {
		snprintf(err, errlen, "agent channel write failed");
		goto out;
	}
	for (;;) {
		if (next_frame(h, &f, dl) < 0) {
			snprintf(err, errlen, "did not finish in time");
			goto out;
		}
		if (f.hdr.channel != h->ch)
			continue;
		if (f.hdr.type == MUX_OPEN_OK) {
			opened = 1;
		} else if (f.hdr.type == MUX_OPEN_FAIL) {
			struct mux_fail fl;
			if (mux_decode_fail(&f, &fl) == MUX_OK && fl.msg.len)
				snprintf(err, errlen, "could not be started: %.*s", (int)fl.msg.len,
					 fl.msg.p);
			else
				snprintf(err, errlen, "could not be started");
			goto out;
		} else if (f.hdr.type == MUX_DATA && opened) {
			out_keep(keep, &f);
		} else if (f.hdr.type == MUX_EXIT && opened) {
			struct mux_exit ex;
			if (mux_decode_exit(&f, &ex) != MUX_OK) {
				snprintf(err, errlen, "bad EXIT");
				goto out;
			}
			*code = ex.how == MUX_EXIT_CODE ? ex.value : 128 + ex.value;
			rc = 0;
			goto out;
		} else if (f.hdr.type == MUX_CLOSE || f.hdr.type == MUX_ERROR) {
			snprintf(err, errlen, "channel closed early");
			goto out;
		}
	}
out:
	chan_close(h, &out, dl);
	buf_free(&out);
	return rc;
}

/* OPEN of a tcp channel: 1 on OPEN_OK, 0 on OPEN_FAIL, -1 otherwise. */
static int port_open(struct hook_io *h, uint16_t port, int64_t dl, char *err, size_t errlen)
{
	struct buf out;
	struct mux_frame f;
	int rc = -1;
	buf_init(&out, 2 * (MUX_HDR_LEN + MUX_MAX_PAYLOAD));
	struct mux_open o = { .kind = MUX_KIND_TCP, .window = HOOK_WINDOW, .has_port = 1,
			      .port = port };
	if (mux_put_open(&out, h->ch, &o) != MUX_OK || send_buf(h, &out, dl) < 0) {
		snprintf(err, errlen, "agent channel write failed");
		goto out;
	}
	for (;;) {
		if (next_frame(h, &f, dl) < 0) {
			snprintf(err, errlen, "port %u: the agent did not answer in time", port);
			goto out;
		}
		if (f.hdr.channel != h->ch)
			continue;
		if (f.hdr.type == MUX_OPEN_OK) {
			rc = 1;
			break;
		}
		if (f.hdr.type == MUX_OPEN_FAIL) {
			rc = 0;
			break;
		}
	}
out:
	if (rc != 0) /* an OPEN_FAIL leaves no channel to close */
		chan_close(h, &out, dl);
	buf_free(&out);
	return rc;
}

static struct hook_io *io_new(int fd)
{
	struct hook_io *h = calloc(1, sizeof *h);
	if (!h || !(h->rd = malloc(sizeof *h->rd))) {
		free(h);
		return NULL;
	}
	mux_reader_init(h->rd);
	h->fd = fd;
	h->ch = HOOK_CHAN_BASE | (atomic_fetch_add(&hook_seq, 1) & 0x0fffffffu);
	return h;
}

int hooks_exec(int agent_fd, struct mux_open *o, int timeout_ms, int *code, char *out,
	       size_t outlen, char *err, size_t errlen)
{
	struct hook_io *h = io_new(agent_fd);
	struct exec_out keep = { out, outlen, 0 };
	if (out && outlen)
		out[0] = '\0';
	else
		keep.p = NULL;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = command(h, o, clock_ms() + timeout_ms, code, &keep, err, errlen);
	free(h->rd);
	free(h);
	return rc;
}

int hooks_command(int agent_fd, const char *cmdline, int timeout_ms, int *code, char *err,
		  size_t errlen)
{
	struct mux_open *o = calloc(1, sizeof *o);
	char why[256];
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->cmdline = mux_cstr(cmdline);
	int rc = hooks_exec(agent_fd, o, timeout_ms, code, NULL, 0, why, sizeof why);
	free(o);
	if (rc < 0)
		snprintf(err, errlen, "start command: %s", why);
	return rc;
}

int hooks_port_open(int agent_fd, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
	struct hook_io *h = io_new(agent_fd);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = port_open(h, port, clock_ms() + timeout_ms, err, errlen);
	free(h->rd);
	free(h);
	return rc;
}

int hooks_call(int agent_fd, uint16_t port, const char *hook, const void *body, size_t len,
	       int timeout_ms, int *status, char *err, size_t errlen)
{
	int64_t dl = clock_ms() + timeout_ms;
	struct hook_io *h = io_new(agent_fd);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = exchange(h, port, hook, body, len, dl, status, err, errlen);
	free(h->rd);
	free(h);
	return rc;
}
