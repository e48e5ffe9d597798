/* execchan.c - one command as an agent channel; see execchan.h. */
#include "session/execchan.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/mux.h"
#include "session/agentlink.h"

#define XC_REC 3 /* record header: stream, u16 length */
/* The agent keeps to our window; a frame header per byte is the worst case. */
#define XC_OUT_MAX (EXECCHAN_WINDOW * (1 + XC_REC))

struct execchan {
	struct hearthd *hd;
	struct agentlink_chan *ch;
	const struct execchan_ops *ops;
	void *owner;
	struct buf out; /* records: stream, u16 length, bytes */
	struct buf in;  /* stdin for the agent */
	int started, eof, eof_sent, ended, stdin_blocked;
	struct execchan_end end;
	char reason[200];
	lws_sorted_usec_list_t sul; /* timeout */
};

static void xc_end(struct execchan *x, const char *reason)
{
	if (x->ended)
		return;
	x->ended = 1;
	lws_sul_cancel(&x->sul);
	if (reason) {
		snprintf(x->reason, sizeof x->reason, "%s", reason);
		x->end.reason = x->reason;
	}
	agentlink_close(x->ch);
	x->ch = NULL;
	x->ops->ended(x->owner, &x->end);
}

static void xc_pump_stdin(struct execchan *x)
{
	if (!x->ch)
		return;
	agentlink_data_from(x->ch, &x->in);
	if (!buf_used(&x->in) && x->eof && !x->eof_sent && x->started &&
	    agentlink_eof(x->ch) == 0)
		x->eof_sent = 1;
	if (x->stdin_blocked && buf_used(&x->in) < EXECCHAN_STDIN_MAX / 4) {
		x->stdin_blocked = 0;
		x->ops->stdin_ready(x->owner);
	}
}

static void xc_frame(void *owner, const struct mux_frame *f)
{
	struct execchan *x = owner;
	struct mux_open_ok ok;
	struct mux_data d;
	struct mux_fail fl;
	struct mux_exit ex;
	char m[200];
	uint8_t hdr[XC_REC];
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		if (mux_decode_open_ok(f, &ok) != MUX_OK) {
			xc_end(x, "agent protocol error");
			return;
		}
		x->started = 1;
		x->ops->started(x->owner, ok.pid);
		xc_pump_stdin(x);
		return;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			snprintf(m, sizeof m, "cannot start the command: %.*s",
				 fl.msg.len > 160 ? 160 : fl.msg.len, fl.msg.p);
		else
			snprintf(m, sizeof m, "cannot start the command");
		x->end.failed = 1;
		xc_end(x, m);
		return;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK || d.stream == MUX_STREAM_MAIN ||
		    buf_room(&x->out) < XC_REC + d.len) {
			xc_end(x, "agent protocol error");
			return;
		}
		if (!d.len)
			return;
		hdr[0] = d.stream;
		put_be16(hdr + 1, (uint16_t)d.len); /* DATA holds at most 65535 bytes */
		buf_put(&x->out, hdr, XC_REC);
		buf_put(&x->out, d.p, d.len);
		x->ops->output(x->owner);
		return;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) == MUX_OK) {
			x->end.have_exit = 1;
			x->end.is_signal = ex.how == MUX_EXIT_SIGNAL;
			x->end.value = ex.value;
		}
		return;
	case MUX_CLOSE:
		/* After EXIT and every output stream's EOF (1.4 rule 6). */
		xc_end(x, "the agent ended the command");
		return;
	default:
		return;
	}
}

static void xc_down(void *owner, const char *reason)
{
	xc_end(owner, reason);
}

static void xc_writable(void *owner)
{
	xc_pump_stdin(owner);
}

static const struct agentlink_ops xc_link_ops = { xc_frame, xc_down, xc_writable };

static void xc_timeout(lws_sorted_usec_list_t *sul)
{
	struct execchan *x = lws_container_of(sul, struct execchan, sul);
	if (x->ch && agentlink_signal(x->ch, SIGKILL) == 0)
		x->end.timed_out = 1;
}

struct execchan *execchan_open(struct hearthd *hd, const char *vm_id, const struct shellmsg *m,
			       const struct execchan_ops *ops, void *owner, char *err,
			       size_t errlen)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	struct execchan *x = calloc(1, sizeof *x);
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	o.window = EXECCHAN_WINDOW;
	for (unsigned i = 0; i < m->nargv; i++)
		o.argv[i] = mux_cstr(m->argv[i]);
	o.nargv = m->nargv;
	if (m->command)
		o.cmdline = mux_cstr(m->command);
	if (m->files_op) {
		o.files_op = m->files_op;
		o.files_flags = m->files_recursive ? MUX_FILES_RECURSIVE : 0;
		o.files_path = mux_cstr(m->files_path);
	}
	if (m->cwd)
		o.cwd = mux_cstr(m->cwd);
	for (unsigned i = 0; i < m->nenv; i++)
		o.env[i] = mux_cstr(m->env[i]);
	o.nenv = m->nenv;
	o.want_stdin = m->want_stdin;
	x->hd = hd;
	x->ops = ops;
	x->owner = owner;
	buf_init(&x->out, XC_OUT_MAX);
	buf_init(&x->in, EXECCHAN_STDIN_MAX);
	x->ch = agentlink_open(hd, vm_id, &o, &xc_link_ops, x, err, errlen);
	if (!x->ch) {
		free(x);
		return NULL;
	}
	if (m->timeout)
		lws_sul_schedule(hd->lws, 0, &x->sul, xc_timeout,
				 (lws_usec_t)m->timeout * LWS_US_PER_SEC);
	return x;
}

void execchan_close(struct execchan *x)
{
	if (!x)
		return;
	lws_sul_cancel(&x->sul);
	agentlink_close(x->ch);
	buf_free(&x->out);
	buf_free(&x->in);
	free(x);
}

int execchan_peek(const struct execchan *x, uint8_t *stream, const uint8_t **p, size_t *n)
{
	if (buf_used(&x->out) < XC_REC)
		return 0;
	const uint8_t *r = buf_ptr(&x->out);
	*stream = r[0];
	*n = get_be16(r + 1);
	*p = r + XC_REC;
	return 1;
}

void execchan_consume(struct execchan *x)
{
	uint8_t stream;
	const uint8_t *p;
	size_t n;
	if (!execchan_peek(x, &stream, &p, &n))
		return;
	buf_consume(&x->out, XC_REC + n);
	if (x->ch)
		agentlink_window(x->ch, (uint32_t)n);
}

int execchan_stdin(struct execchan *x, const void *p, size_t n)
{
	if (buf_put(&x->in, p, n) != BUF_OK)
		return -1;
	if (buf_used(&x->in) > EXECCHAN_STDIN_MAX / 2)
		x->stdin_blocked = 1;
	xc_pump_stdin(x);
	return 0;
}

size_t execchan_stdin_queued(const struct execchan *x)
{
	return buf_used(&x->in);
}

void execchan_eof(struct execchan *x)
{
	x->eof = 1;
	xc_pump_stdin(x);
}

int execchan_signal(struct execchan *x, uint8_t signo)
{
	return x->ch ? agentlink_signal(x->ch, signo) : 0;
}
