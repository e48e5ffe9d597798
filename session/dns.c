/*
 * dns.c - the DNS channels of hearthd (see dns.h). A channel's DATA is a
 * stream of frames (u32 query id, u8 flags, u16 length, message; mux.h
 * MUX_DNS_*): each query gets exactly one answer frame with its id, or an
 * empty one when it is dropped (shorter than a DNS header).
 */
#include "session/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/dnsmsg.h"
#include "protocol/mux.h"
#include "session/agentlink.h"
#include "session/dns_policy.h"
#include "session/dns_resolve.h"

struct dns_vm {
	struct dns_vm *next;
	struct hearthd *hd;
	char id[128];
	struct agentlink_chan *ch;
	enum dns_policy pol;
	unsigned inflight;
	int64_t tokens_ms; /* token bucket: the time its tokens were counted */
	double tokens;
	int64_t retry_ms;  /* the agent refused the channel: not before then */
	int64_t seen_ms;   /* last tick that found the VM running */
	struct buf out;    /* answer frames waiting for room on the channel */
	size_t have;
	uint8_t in[MUX_DNS_HDR + DNSMSG_MAX_LEN];
};

static struct dns_vm *dns_vms;
static int dns_ready;

static struct dns_vm *dns_find(const char *id)
{
	for (struct dns_vm *v = dns_vms; v; v = v->next)
		if (!strcmp(v->id, id))
			return v;
	return NULL;
}

/* A VM without a channel and nothing in flight is forgotten. */
static void dns_maybe_free(struct dns_vm *v)
{
	if (v->ch || v->inflight || v->retry_ms > hd_now_ms())
		return;
	for (struct dns_vm **pp = &dns_vms; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	buf_free(&v->out);
	free(v);
}

static void dns_flush(struct dns_vm *v)
{
	if (v->ch)
		agentlink_data_from(v->ch, &v->out);
}

/* Queue one answer frame (len 0: the query is dropped). */
static void dns_send(struct dns_vm *v, uint32_t qid, const uint8_t *m, size_t len)
{
	if (!v->ch)
		return;
	if (buf_room(&v->out) < MUX_DNS_HDR + len)
		return; /* the agent is not reading: it answers SERVFAIL on its own */
	buf_put_u32(&v->out, qid);
	buf_put_u8(&v->out, 0);
	buf_put_u16(&v->out, (uint16_t)len);
	buf_put(&v->out, m, len);
	dns_flush(v);
}

static void dns_send_rcode(struct dns_vm *v, uint32_t qid, const uint8_t *q, size_t qlen,
			   uint8_t rcode)
{
	uint8_t out[DNSMSG_HDR_LEN + DNSMSG_NAME_MAX + 8];
	size_t n = dnsmsg_error(q, qlen, rcode, out, sizeof out);
	dns_send(v, qid, out, n);
}

static int dns_rate_ok(struct dns_vm *v)
{
	int64_t now = hd_now_ms();
	v->tokens += (double)(now - v->tokens_ms) * DNS_RATE_PER_S / 1000.0;
	v->tokens_ms = now;
	if (v->tokens > DNS_RATE_BURST)
		v->tokens = DNS_RATE_BURST;
	if (v->tokens < 1.0)
		return 0;
	v->tokens -= 1.0;
	return 1;
}

/* One query from the guest. */
static void dns_query(struct dns_vm *v, uint32_t qid, uint8_t flags, const uint8_t *m,
		      size_t n)
{
	struct dnsmsg_hdr h;
	struct dnsmsg_question q;
	if (n < DNSMSG_HDR_LEN) {
		dns_send(v, qid, NULL, 0);
		return;
	}
	if (!dns_rate_ok(v) || v->inflight >= DNS_INFLIGHT_MAX) {
		dns_send_rcode(v, qid, m, n, DNSMSG_REFUSED);
		return;
	}
	if (n > DNS_QUERY_MAX || dnsmsg_query(m, n, &h, &q) < 0) {
		dns_send_rcode(v, qid, m, n, DNSMSG_FORMERR);
		return;
	}
	if (v->pol == DNS_POLICY_NONE) {
		dns_send_rcode(v, qid, m, n, DNSMSG_REFUSED);
		return;
	}
	if (v->pol == DNS_POLICY_LIST && !dns_policy_name_allowed(v->hd, v->id, q.name)) {
		dns_send_rcode(v, qid, m, n, DNSMSG_NXDOMAIN);
		return;
	}
	struct dns_job *j = dns_ready ? malloc(sizeof *j) : NULL;
	if (!j) {
		dns_send_rcode(v, qid, m, n, DNSMSG_SERVFAIL);
		return;
	}
	snprintf(j->vm_id, sizeof j->vm_id, "%s", v->id);
	j->qid = qid;
	j->tcp = (flags & MUX_DNS_F_TCP) != 0;
	j->deadline_ms = hd_now_ms() + DNS_TIMEOUT_MS;
	j->q = q;
	j->dns_id = h.id;
	j->qlen = n;
	memcpy(j->query, m, n);
	if (dns_resolve_submit(j) < 0) {
		free(j);
		dns_send_rcode(v, qid, m, n, DNSMSG_SERVFAIL);
		return;
	}
	v->inflight++;
}

static void dns_done(struct dns_job *j)
{
	struct dns_vm *v = dns_find(j->vm_id);
	if (!v) {
		free(j);
		return;
	}
	v->inflight--;
	if (!j->alen) {
		dns_send_rcode(v, j->qid, j->query, j->qlen, DNSMSG_SERVFAIL);
	} else {
		/* An allowlist admits what the guest is told, before it is told. */
		struct dnsmsg_addr a[DNSMSG_MAX_ADDRS];
		unsigned na = 0;
		size_t len = j->tcp ? j->alen : dnsmsg_truncate(j->answer, j->alen, DNSMSG_UDP_LEN);
		if (v->pol == DNS_POLICY_LIST &&
		    (dnsmsg_addrs(j->answer, len, a, DNSMSG_MAX_ADDRS, &na) < 0 ||
		     (na && dns_policy_admit(v->hd, v->id, a, na) < 0)))
			len = 0;
		if (len)
			dns_send(v, j->qid, j->answer, len);
		else
			dns_send_rcode(v, j->qid, j->query, j->qlen, DNSMSG_SERVFAIL);
	}
	free(j);
	dns_maybe_free(v);
}

/* DATA from the agent: split into query frames. */
static void dns_data(struct dns_vm *v, const uint8_t *p, size_t n)
{
	while (n && v->ch) {
		size_t need = MUX_DNS_HDR;
		if (v->have >= MUX_DNS_HDR)
			need += ((size_t)v->in[5] << 8) | v->in[6];
		size_t k = need - v->have < n ? need - v->have : n;
		memcpy(v->in + v->have, p, k);
		v->have += k;
		p += k;
		n -= k;
		if (v->have >= MUX_DNS_HDR && v->have == MUX_DNS_HDR + (((size_t)v->in[5] << 8) | v->in[6])) {
			uint32_t qid = ((uint32_t)v->in[0] << 24) | ((uint32_t)v->in[1] << 16) |
				       ((uint32_t)v->in[2] << 8) | v->in[3];
			dns_query(v, qid, v->in[4], v->in + MUX_DNS_HDR, v->have - MUX_DNS_HDR);
			v->have = 0;
		}
	}
}

static void dns_chan_end(struct dns_vm *v)
{
	if (!v->ch)
		return;
	agentlink_close(v->ch);
	v->ch = NULL;
	v->have = 0;
	buf_reset(&v->out);
}

static void dns_frame(void *owner, const struct mux_frame *f)
{
	struct dns_vm *v = owner;
	struct mux_data d;
	switch (f->hdr.type) {
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			break;
		/* Consumed at once: the credit goes back now. */
		agentlink_window(v->ch, d.len);
		dns_data(v, d.p, d.len);
		break;
	case MUX_OPEN_OK:
		dns_flush(v);
		break;
	case MUX_OPEN_FAIL:
		/* An agent without a stub (not PID 1, or older): ask again later. */
		v->retry_ms = hd_now_ms() + DNS_RETRY_MS;
		dns_chan_end(v);
		break;
	case MUX_EOF:
	case MUX_CLOSE:
	case MUX_ERROR:
		/* Reopened by the next tick if the VM still runs. */
		dns_chan_end(v);
		dns_maybe_free(v);
		break;
	default:
		break;
	}
}

static void dns_down(void *owner, const char *reason)
{
	struct dns_vm *v = owner;
	(void)reason;
	dns_chan_end(v);
	dns_maybe_free(v);
}

static void dns_writable(void *owner)
{
	dns_flush(owner);
}

static const struct agentlink_ops dns_ops = { dns_frame, dns_down, dns_writable };

void dns_vm_running(struct hearthd *hd, const char *vm_id, const char *egress_json)
{
	struct dns_vm *v = dns_find(vm_id);
	char err[128];
	int64_t now = hd_now_ms();
	/* Forget VMs that stopped running while their channel was refused. */
	for (struct dns_vm *k = dns_vms, *n; k; k = n) {
		n = k->next;
		if (k != v && !k->ch && !k->inflight && now - k->seen_ms > DNS_RETRY_MS) {
			k->retry_ms = 0;
			dns_maybe_free(k);
		}
	}
	if (v)
		v->seen_ms = now;
	if (v && (v->ch || now < v->retry_ms))
		return;
	if (!v) {
		if (strlen(vm_id) >= sizeof v->id || !(v = calloc(1, sizeof *v)))
			return;
		v->hd = hd;
		snprintf(v->id, sizeof v->id, "%s", vm_id);
		buf_init(&v->out, DNS_OUT_MAX);
		v->tokens = DNS_RATE_BURST;
		v->tokens_ms = v->seen_ms = now;
		v->next = dns_vms;
		dns_vms = v;
	}
	v->pol = dns_policy_of(egress_json);
	struct mux_open o;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_DNS;
	o.window = AGENTLINK_WINDOW_MAX;
	v->ch = agentlink_open(hd, vm_id, &o, &dns_ops, v, err, sizeof err);
	if (!v->ch)
		dns_maybe_free(v);
}

int dns_start(struct hearthd *hd, char *err, size_t errlen)
{
	struct sockaddr_storage up;
	socklen_t len;
	if (dns_resolve_upstream(hd->cfg.dns_upstream, &up, &len, err, errlen) < 0 ||
	    dns_resolve_start(hd->loop, &up, len, dns_done, err, errlen) < 0)
		return -1;
	dns_ready = 1;
	return 0;
}

void dns_stop(void)
{
	dns_resolve_stop();
	dns_ready = 0;
}
