/*
 * shellhub.c - live shells and their viewers; see shellhub.h.
 *
 * Output is acknowledged to the agent as soon as it is in the ring, so the
 * agent's window only bounds what is in flight; each viewer's queue is
 * bounded on its own. Keystrokes of all read-write viewers share one
 * bounded queue drained within the agent's window.
 */
#include "session/shellhub.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "protocol/mux.h"
#include "session/agentlink.h"
#include "session/ring.h"

struct shellhub_shell {
	struct hearthd *hd;
	struct shellhub_shell *next;
	char vm_id[128];
	char sid[40];
	struct agentlink_chan *ch;
	struct ring ring;
	struct shellhub_viewer *viewers;
	int nviewers;
	struct buf keys;
	int keys_blocked; /* a viewer was told the keys did not fit */
	unsigned grace;
	lws_sorted_usec_list_t sul; /* grace timer */
	uint16_t rows, cols;        /* the pty's size (0: none sent yet) */
	int have_exit, is_signal, value;
};

static struct shellhub_shell *shells;
static unsigned default_grace = SHELLHUB_GRACE_DEFAULT;

void shellhub_set_default_grace(unsigned seconds)
{
	default_grace = seconds;
}

unsigned shellhub_default_grace(void)
{
	return default_grace;
}

void shellhub_viewer_init(struct shellhub_viewer *v)
{
	v->shell = NULL;
	v->next = NULL;
	buf_init(&v->q, SHELLHUB_VIEWER_MAX);
	v->dropped = 0;
	v->overflow = 0;
	v->has_size = 0;
}

void shellhub_viewer_fini(struct shellhub_viewer *v)
{
	shellhub_detach(v);
	buf_free(&v->q);
}

const char *shellhub_session_id(const struct shellhub_shell *s)
{
	return s->sid;
}

unsigned shellhub_count(const char *vm_id)
{
	unsigned n = 0;
	for (struct shellhub_shell *s = shells; s; s = s->next)
		n += !strcmp(s->vm_id, vm_id);
	return n;
}

struct shellhub_shell *shellhub_find(const char *vm_id, const char *session_id)
{
	for (struct shellhub_shell *s = shells; s; s = s->next)
		if (!strcmp(s->vm_id, vm_id) && !strcmp(s->sid, session_id))
			return s;
	return NULL;
}

/* The shell is over: every viewer hears why, then the channel goes. */
static void shell_end(struct shellhub_shell *s, int exited, const char *reason)
{
	for (struct shellhub_shell **pp = &shells; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	lws_sul_cancel(&s->sul);
	struct shellhub_end e = { exited, s->have_exit, s->is_signal, s->value, reason };
	struct shellhub_viewer *v = s->viewers, *n;
	s->viewers = NULL;
	s->nviewers = 0;
	for (; v; v = n) {
		n = v->next;
		v->shell = NULL;
		v->next = NULL;
		v->ops->ended(v->owner, &e);
	}
	agentlink_close(s->ch);
	ring_free(&s->ring);
	buf_free(&s->keys);
	free(s);
}

static void shell_grace_over(lws_sorted_usec_list_t *sul)
{
	struct shellhub_shell *s = lws_container_of(sul, struct shellhub_shell, sul);
	if (!s->nviewers)
		shell_end(s, 0, "no viewer within the grace period");
}

/* The smallest size over the read-write viewers that sent one (tmux's rule). */
static void shell_apply_size(struct shellhub_shell *s)
{
	uint16_t rows = 0, cols = 0;
	for (struct shellhub_viewer *v = s->viewers; v; v = v->next) {
		if (!v->rw || !v->has_size)
			continue;
		if (!rows || v->rows < rows)
			rows = v->rows;
		if (!cols || v->cols < cols)
			cols = v->cols;
	}
	if (!rows || (rows == s->rows && cols == s->cols))
		return;
	if (agentlink_resize(s->ch, rows, cols) == 0) {
		s->rows = rows;
		s->cols = cols;
	}
}

static void shell_pump_keys(struct shellhub_shell *s)
{
	agentlink_data_from(s->ch, &s->keys);
	if (s->keys_blocked && buf_used(&s->keys) < SHELLHUB_KEYS_MAX / 4) {
		s->keys_blocked = 0;
		for (struct shellhub_viewer *v = s->viewers, *nx; v; v = nx) {
			nx = v->next;
			if (v->rw)
				v->ops->input_ready(v->owner);
		}
	}
}

static void viewer_push(struct shellhub_viewer *v, const uint8_t *p, size_t n)
{
	if (v->overflow)
		return;
	if (buf_put(&v->q, p, n) != BUF_OK) {
		if (!v->marker)
			v->overflow = 1;
		else {
			/* Skip to the live end: what was queued and these bytes are gone. */
			v->dropped += buf_used(&v->q) + n;
			buf_reset(&v->q);
		}
	}
	v->ops->output(v->owner);
}

static void shell_frame(void *owner, const struct mux_frame *f)
{
	struct shellhub_shell *s = owner;
	struct mux_data d;
	struct mux_fail fl;
	struct mux_exit ex;
	char msg[160];
	switch (f->hdr.type) {
	case MUX_OPEN_OK:
		shell_apply_size(s);
		shell_pump_keys(s);
		return;
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			snprintf(msg, sizeof msg, "shell refused: %.*s",
				 fl.msg.len > 80 ? 80 : fl.msg.len, fl.msg.p);
		else
			snprintf(msg, sizeof msg, "shell refused");
		shell_end(s, 0, msg);
		return;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK) {
			shell_end(s, 0, "agent protocol error");
			return;
		}
		ring_put(&s->ring, d.p, d.len);
		if (d.len)
			agentlink_window(s->ch, d.len);
		for (struct shellhub_viewer *v = s->viewers, *nx; v; v = nx) {
			nx = v->next;
			viewer_push(v, d.p, d.len);
		}
		return;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) == MUX_OK) {
			s->have_exit = 1;
			s->is_signal = ex.how == MUX_EXIT_SIGNAL;
			s->value = ex.value;
		}
		return;
	case MUX_CLOSE:
		shell_end(s, 1, "shell exited");
		return;
	case MUX_ERROR:
		shell_end(s, 0, "agent error");
		return;
	default:
		return;
	}
}

static void shell_down(void *owner, const char *reason)
{
	shell_end(owner, 0, reason);
}

static void shell_writable(void *owner)
{
	shell_pump_keys(owner);
}

static const struct agentlink_ops shell_link_ops = { shell_frame, shell_down, shell_writable };

int shellhub_uuid(char out[37])
{
	uint8_t r[16];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	char *p = out;
	for (int i = 0; i < 16; i++) {
		p += sprintf(p, "%02x", r[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	return 0;
}

struct shellhub_shell *shellhub_open(struct hearthd *hd, const char *vm_id, uint16_t rows,
				     uint16_t cols, unsigned grace, char *err, size_t errlen)
{
	static struct mux_open o; /* large (env/argv arrays): not on the stack */
	struct shellhub_shell *s = calloc(1, sizeof *s);
	if (!s || ring_init(&s->ring, SHELLHUB_RING) < 0 || shellhub_uuid(s->sid) < 0 ||
	    strlen(vm_id) >= sizeof s->vm_id) {
		snprintf(err, errlen, "out of memory");
		if (s)
			ring_free(&s->ring);
		free(s);
		return NULL;
	}
	s->hd = hd;
	snprintf(s->vm_id, sizeof s->vm_id, "%s", vm_id);
	s->grace = grace;
	buf_init(&s->keys, SHELLHUB_KEYS_MAX);
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_SHELL;
	o.window = SHELLHUB_WINDOW;
	o.term = mux_cstr("xterm-256color");
	o.login = 1;
	if (rows && cols) {
		o.has_size = 1;
		o.rows = s->rows = rows;
		o.cols = s->cols = cols;
	}
	s->ch = agentlink_open(hd, vm_id, &o, &shell_link_ops, s, err, errlen);
	if (!s->ch) {
		ring_free(&s->ring);
		buf_free(&s->keys);
		free(s);
		return NULL;
	}
	s->next = shells;
	shells = s;
	return s;
}

int shellhub_attach(struct shellhub_shell *s, struct shellhub_viewer *v, int has_want,
		    uint64_t want, uint64_t *from, uint64_t *lost, char *err, size_t errlen)
{
	if (s->nviewers >= SHELLHUB_VIEWERS) {
		snprintf(err, errlen, "the shell has %d viewers already", SHELLHUB_VIEWERS);
		return -1;
	}
	ring_attach(&s->ring, has_want, want, from, lost);
	const uint8_t *p[2];
	size_t len[2];
	int k = ring_span(&s->ring, *from, p, len);
	for (int i = 0; i < k; i++)
		buf_put(&v->q, p[i], len[i]); /* the ring is smaller than the queue */
	v->shell = s;
	v->next = s->viewers;
	s->viewers = v;
	s->nviewers++;
	lws_sul_cancel(&s->sul);
	if (buf_used(&v->q))
		v->ops->output(v->owner);
	return 0;
}

void shellhub_detach(struct shellhub_viewer *v)
{
	struct shellhub_shell *s = v->shell;
	if (!s)
		return;
	for (struct shellhub_viewer **pp = &s->viewers; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	v->shell = NULL;
	v->next = NULL;
	s->nviewers--;
	shell_apply_size(s);
	if (s->nviewers)
		return;
	if (!s->grace)
		shell_end(s, 0, "no viewer");
	else
		lws_sul_schedule(s->hd->lws, 0, &s->sul, shell_grace_over,
				 (lws_usec_t)s->grace * LWS_US_PER_SEC);
}

int shellhub_input(struct shellhub_viewer *v, const void *p, size_t n)
{
	struct shellhub_shell *s = v->shell;
	if (!s || !v->rw)
		return -1;
	if (buf_put(&s->keys, p, n) != BUF_OK) {
		s->keys_blocked = 1;
		return -1;
	}
	shell_pump_keys(s);
	return 0;
}

size_t shellhub_input_room(const struct shellhub_viewer *v)
{
	struct shellhub_shell *s = v->shell;
	if (!s || !v->rw)
		return 0;
	size_t room = buf_room(&s->keys);
	if (room < SHELLHUB_KEYS_MAX / 2)
		s->keys_blocked = 1; /* the caller pauses: tell it when to go on */
	return room;
}

void shellhub_resize(struct shellhub_viewer *v, uint16_t rows, uint16_t cols)
{
	v->has_size = 1;
	v->rows = rows;
	v->cols = cols;
	if (v->shell)
		shell_apply_size(v->shell);
}

int shellhub_signal(struct shellhub_viewer *v, uint8_t signo)
{
	if (!v->shell || !v->rw)
		return -1;
	return agentlink_signal(v->shell->ch, signo);
}
