/*
 * identity_vm.c - per running VM, on hearthd's side of identity.h: the
 * identity channel (MUX_KIND_IDENTITY, PROTOCOL.md 1.11), opened from the
 * lifecycle's tick like the DNS channel, on which the guest's agent passes
 * hearth-identity's requests (protocol/idmsg.h: an audience) and gets a
 * token or a reason back; and when the token file is due again (2/3 of the
 * lifetime after the last delivery; at once for a VM this hearthd has not
 * delivered to, such as one re-adopted after a restart). Memory only,
 * event-loop thread only.
 */
#include "session/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "protocol/buf.h"
#include "protocol/idmsg.h"
#include "protocol/mux.h"
#include "session/agentlink.h"
#include "session/lifecycle.h"

#define IDV_RATE_PER_S 10.0   /* requests per second per VM, sustained */
#define IDV_RATE_BURST 10.0   /* and in a burst */
#define IDV_RETRY_MS 30000    /* the agent refused the channel: not before then */
#define IDV_FORGET_MS 30000   /* a VM no tick saw running for this long is forgotten */
#define IDV_PUT_RETRY_S 30    /* a failed delivery of the token file: again then */
#define IDV_OUT_MAX (1024u * 1024) /* answers waiting for the agent's window */

struct idv {
	struct idv *next;
	struct hearthd *hd;
	char id[STORE_ID];
	struct agentlink_chan *ch;
	int64_t retry_ms;  /* not before then: the agent refused the channel */
	int64_t seen_ms;   /* the last tick that found the VM running */
	int64_t put_at;    /* s: deliver the token file then (0: at the next tick) */
	double tokens;     /* the request rate's bucket */
	int64_t tokens_ms;
	struct buf out;
	struct idmsg_reader rd;
	uint8_t in[IDMSG_HDR + IDMSG_REQ_MAX];
};

static struct idv *idvs;

static struct idv *idv_find(const char *id)
{
	for (struct idv *v = idvs; v; v = v->next)
		if (!strcmp(v->id, id))
			return v;
	return NULL;
}

static struct idv *idv_get(struct hearthd *hd, const char *id)
{
	struct idv *v = idv_find(id);
	if (v || strlen(id) >= sizeof v->id || !(v = calloc(1, sizeof *v)))
		return v;
	v->hd = hd;
	snprintf(v->id, sizeof v->id, "%s", id);
	buf_init(&v->out, IDV_OUT_MAX);
	idmsg_reader_init(&v->rd, v->in, sizeof v->in);
	v->tokens = IDV_RATE_BURST;
	v->tokens_ms = v->seen_ms = hd_now_ms();
	v->next = idvs;
	idvs = v;
	return v;
}

static void idv_chan_end(struct idv *v)
{
	if (!v->ch)
		return;
	agentlink_close(v->ch);
	v->ch = NULL;
	idmsg_reader_init(&v->rd, v->in, sizeof v->in);
	OPENSSL_cleanse(v->out.data, v->out.cap); /* tokens waiting to go */
	buf_reset(&v->out);
}

static void idv_free(struct idv *v)
{
	for (struct idv **pp = &idvs; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	idv_chan_end(v);
	buf_free(&v->out);
	free(v);
}

static void idv_flush(struct idv *v)
{
	if (v->ch)
		agentlink_data_from(v->ch, &v->out);
}

static int idv_rate_ok(struct idv *v)
{
	int64_t now = hd_now_ms();
	v->tokens += (double)(now - v->tokens_ms) * IDV_RATE_PER_S / 1000.0;
	v->tokens_ms = now;
	if (v->tokens > IDV_RATE_BURST)
		v->tokens = IDV_RATE_BURST;
	if (v->tokens < 1.0)
		return 0;
	v->tokens -= 1.0;
	return 1;
}

static void idv_answer(struct idv *v, uint32_t qid, uint8_t status, const char *body)
{
	/* No room: the agent answers its client itself when time runs out. */
	if (idmsg_put(&v->out, qid, status, body, strlen(body)) < 0)
		hd_log("%s: identity: an answer was dropped (the agent is not reading)", v->id);
}

/* One request from the guest: a token for its audience, or why not. */
static void idv_request(struct idv *v, const struct idmsg *m)
{
	char aud[IDMSG_AUD_MAX + 1], err[200];
	if (m->status != 0) {
		idv_answer(v, m->id, IDMSG_E_PROTO, "malformed request (status must be 0)");
		return;
	}
	if (!idv_rate_ok(v)) {
		idv_answer(v, m->id, IDMSG_E_RATE,
			   "too many identity requests (at most 10 per second per microVM)");
		return;
	}
	if (!idmsg_audience_ok(m->body, m->len)) {
		idv_answer(v, m->id, IDMSG_E_AUDIENCE,
			   "invalid audience: it must be 1 to 256 printable ASCII characters "
			   "without spaces");
		return;
	}
	memcpy(aud, m->body, m->len);
	aud[m->len] = '\0';
	const struct store_vm *row = v->hd->lc ? lifecycle_row(v->hd->lc, v->id) : NULL;
	if (!row || strcmp(row->state, "RUNNING") != 0) {
		idv_answer(v, m->id, IDMSG_E_UNAVAIL, "the microVM is not running");
		return;
	}
	char *tok = identity_mint(v->hd, row, aud, err, sizeof err);
	if (!tok) {
		hd_log("%s: identity: %s", v->id, err);
		idv_answer(v, m->id, IDMSG_E_UNAVAIL, err);
		return;
	}
	size_t tl = strlen(tok);
	if (tl > IDMSG_MAX_BODY)
		idv_answer(v, m->id, IDMSG_E_UNAVAIL, "the token is too long (too many tags?)");
	else
		idv_answer(v, m->id, IDMSG_OK, tok);
	OPENSSL_cleanse(tok, tl);
	free(tok);
}

static void idv_data(struct idv *v, const uint8_t *p, size_t n)
{
	struct idmsg m;
	size_t used;
	while (n && v->ch) {
		int rc = idmsg_feed(&v->rd, p, n, &used, &m);
		p += used;
		n -= used;
		if (rc < 0) {
			hd_log("%s: identity: a request past %u bytes: channel closed", v->id,
			       IDMSG_REQ_MAX);
			idv_chan_end(v); /* reopened by a later tick */
			return;
		}
		if (rc == 1)
			idv_request(v, &m);
	}
	idv_flush(v);
}

static void idv_frame(void *owner, const struct mux_frame *f)
{
	struct idv *v = owner;
	struct mux_data d;
	switch (f->hdr.type) {
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			break;
		agentlink_window(v->ch, d.len); /* consumed at once */
		idv_data(v, d.p, d.len);
		break;
	case MUX_OPEN_OK:
		idv_flush(v);
		break;
	case MUX_OPEN_FAIL:
		/* An agent without the socket (not PID 1, or older): ask again later. */
		v->retry_ms = hd_now_ms() + IDV_RETRY_MS;
		idv_chan_end(v);
		break;
	case MUX_EOF:
	case MUX_CLOSE:
	case MUX_ERROR:
		idv_chan_end(v); /* reopened by the next tick if the VM still runs */
		break;
	default:
		break;
	}
}

static void idv_down(void *owner, const char *reason)
{
	(void)reason;
	idv_chan_end(owner);
}

static void idv_writable(void *owner)
{
	idv_flush(owner);
}

static const struct agentlink_ops idv_ops = { idv_frame, idv_down, idv_writable };

/* Every 2/3 of the lifetime, so a token is replaced well before it expires. */
static int64_t idv_refresh_s(const struct hearthd *hd)
{
	int64_t r = hd->cfg.identity_ttl * 2 / 3;
	return r > 0 ? r : 1;
}

void identity_vm_delivered(struct hearthd *hd, const char *vm_id, int ok)
{
	struct idv *v = idv_get(hd, vm_id);
	int64_t wait = ok ? idv_refresh_s(hd) : IDV_PUT_RETRY_S;
	if (!v)
		return;
	if (!ok && wait > idv_refresh_s(hd))
		wait = idv_refresh_s(hd);
	v->put_at = hd_now() + wait;
}

void identity_vm_tick(struct hearthd *hd, const struct store_vm *vm)
{
	int64_t now = hd_now_ms();
	char err[128];
	/* The host engine's "guest" is this machine (see identity_vm_running). */
	if (!strcmp(hd->cfg.engine, "host"))
		return;
	/* Forget VMs no tick has seen running for a while, channel or not. */
	for (struct idv *k = idvs, *n; k; k = n) {
		n = k->next;
		if (strcmp(k->id, vm->id) && now - k->seen_ms > IDV_FORGET_MS)
			idv_free(k);
	}
	struct idv *v = idv_get(hd, vm->id);
	if (!v)
		return;
	v->seen_ms = now;
	if (hd_now() >= v->put_at)
		identity_vm_running(hd, vm); /* sets put_at again */
	if (v->ch || now < v->retry_ms)
		return;
	struct mux_open o;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_IDENTITY;
	o.window = AGENTLINK_WINDOW_MAX;
	v->ch = agentlink_open(hd, vm->id, &o, &idv_ops, v, err, sizeof err);
	if (!v->ch)
		v->retry_ms = now + IDV_RETRY_MS;
}
