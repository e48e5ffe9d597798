/*
 * buildvm.c - a builder VM and its blocking agent client (see buildvm.h).
 */
#include "session/buildvm.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "protocol/dnsmsg.h"
#include "session/dns.h"
#include "session/dns_policy.h"
#include "session/dns_resolve.h"
#include "session/egress_int.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/snapcache.h"
#include "session/store.h"
#include "vmm/agentctl.h"
#include "vmm/clock.h"
#include "vmm/engine.h"
#include "vmm/fdio.h"

#define DL_BOOT 180000
#define DL_AGENT 60000
#define DL_SNAPSHOT 300000
#define DL_STOP 10000
#define BVM_WINDOW (1024u * 1024)   /* what we grant the agent per channel */
#define BVM_POLL_MS 200             /* cancel is noticed within this */
#define BVM_DNS_OUT (256u * 1024)

struct buildvm {
	struct hearthd *hd;
	const struct vm_engine *eng;
	struct vm *vm;
	char id[EGRESS_ID_MAX];
	int net_up;
	int fd;
	const atomic_int *cancel;
	struct mux_reader *rd;
	uint8_t in[16384];
	size_t in_off, in_len;
	struct buf out;
	uint32_t next_ch;
	/* DNS channel */
	uint32_t dns_ch;     /* 0: none */
	uint32_t dns_win;    /* the agent's window for our answers */
	enum dns_policy pol;
	int up_ok;
	struct sockaddr_storage up;
	socklen_t uplen;
	struct buf dns_out;
	size_t dns_have;
	uint8_t dns_in[MUX_DNS_HDR + DNSMSG_MAX_LEN];
	struct dns_job job;
};

static int send_out(struct buildvm *bv)
{
	int rc = fdio_send_all(bv->fd, buf_ptr(&bv->out), buf_used(&bv->out), -1,
			       clock_deadline(DL_AGENT));
	buf_reset(&bv->out);
	return rc;
}

/* Next frame within timeout_ms: 1 a frame, 0 none yet, -1 the stream ended. */
static int next_frame(struct buildvm *bv, struct mux_frame *f, int timeout_ms)
{
	int64_t dl = clock_deadline(timeout_ms);
	for (;;) {
		if (bv->in_off < bv->in_len) {
			size_t used = 0;
			int rc = mux_reader_feed(bv->rd, bv->in + bv->in_off, bv->in_len - bv->in_off,
						 &used, f);
			bv->in_off += used;
			if (rc == MUX_OK)
				return 1;
			continue; /* refused frames are skipped in sync */
		}
		struct pollfd pf = { .fd = bv->fd, .events = POLLIN };
		int pr = poll(&pf, 1, clock_left(dl));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -1;
		if (pr == 0)
			return 0;
		ssize_t r = recv(bv->fd, bv->in, sizeof bv->in, MSG_DONTWAIT);
		if (r > 0) {
			bv->in_off = 0;
			bv->in_len = (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
	}
}

/* ---- DNS (PROTOCOL.md 1.10; the rules of session/dns.c) ---- */

static void dns_flush(struct buildvm *bv)
{
	while (bv->dns_ch && buf_used(&bv->dns_out) && bv->dns_win) {
		size_t n = buf_used(&bv->dns_out);
		if (n > MUX_MAX_DATA)
			n = MUX_MAX_DATA;
		if (n > bv->dns_win)
			n = bv->dns_win;
		if (mux_put_data(&bv->out, bv->dns_ch, MUX_STREAM_MAIN, buf_ptr(&bv->dns_out), n) !=
		    MUX_OK)
			return;
		buf_consume(&bv->dns_out, n);
		bv->dns_win -= (uint32_t)n;
		send_out(bv);
	}
}

static void dns_answer(struct buildvm *bv, uint32_t qid, const uint8_t *m, size_t len)
{
	if (buf_room(&bv->dns_out) < MUX_DNS_HDR + len)
		return; /* the agent answers SERVFAIL itself after 7 s */
	buf_put_u32(&bv->dns_out, qid);
	buf_put_u8(&bv->dns_out, 0);
	buf_put_u16(&bv->dns_out, (uint16_t)len);
	buf_put(&bv->dns_out, m, len);
	dns_flush(bv);
}

static void dns_rcode(struct buildvm *bv, uint32_t qid, const uint8_t *q, size_t n, uint8_t rc)
{
	uint8_t out[DNSMSG_HDR_LEN + DNSMSG_NAME_MAX + 8];
	dns_answer(bv, qid, out, dnsmsg_error(q, n, rc, out, sizeof out));
}

/* One query: checked, held to the policy, resolved here (blocking, bounded
 * by DNS_TIMEOUT_MS; the channel being served waits meanwhile). */
static void dns_query(struct buildvm *bv, uint32_t qid, uint8_t flags, const uint8_t *m,
		      size_t n)
{
	struct dns_job *j = &bv->job;
	struct dnsmsg_hdr h;
	if (n < DNSMSG_HDR_LEN) {
		dns_answer(bv, qid, NULL, 0);
		return;
	}
	if (n > DNS_QUERY_MAX || dnsmsg_query(m, n, &h, &j->q) < 0) {
		dns_rcode(bv, qid, m, n, DNSMSG_FORMERR);
		return;
	}
	if (bv->pol == DNS_POLICY_NONE) {
		dns_rcode(bv, qid, m, n, DNSMSG_REFUSED);
		return;
	}
	if (bv->pol == DNS_POLICY_LIST && !dns_policy_name_allowed(bv->hd, bv->id, j->q.name)) {
		dns_rcode(bv, qid, m, n, DNSMSG_NXDOMAIN);
		return;
	}
	if (!bv->up_ok) {
		dns_rcode(bv, qid, m, n, DNSMSG_SERVFAIL);
		return;
	}
	j->tcp = (flags & MUX_DNS_F_TCP) != 0;
	j->deadline_ms = hd_now_ms() + DNS_TIMEOUT_MS;
	j->dns_id = h.id;
	j->qlen = n;
	memcpy(j->query, m, n);
	dns_resolve_now(&bv->up, bv->uplen, j);
	size_t len = j->alen ? (j->tcp ? j->alen : dnsmsg_truncate(j->answer, j->alen, DNSMSG_UDP_LEN))
			     : 0;
	struct dnsmsg_addr a[DNSMSG_MAX_ADDRS];
	unsigned na = 0;
	if (len && bv->pol == DNS_POLICY_LIST &&
	    (dnsmsg_addrs(j->answer, len, a, DNSMSG_MAX_ADDRS, &na) < 0 ||
	     (na && dns_policy_admit(bv->hd, bv->id, a, na) < 0)))
		len = 0;
	if (len)
		dns_answer(bv, qid, j->answer, len);
	else
		dns_rcode(bv, qid, m, n, DNSMSG_SERVFAIL);
}

static void dns_data(struct buildvm *bv, const uint8_t *p, size_t n)
{
	while (n) {
		size_t need = MUX_DNS_HDR;
		if (bv->dns_have >= MUX_DNS_HDR)
			need += ((size_t)bv->dns_in[5] << 8) | bv->dns_in[6];
		size_t k = need - bv->dns_have < n ? need - bv->dns_have : n;
		memcpy(bv->dns_in + bv->dns_have, p, k);
		bv->dns_have += k;
		p += k;
		n -= k;
		size_t full = MUX_DNS_HDR + (((size_t)bv->dns_in[5] << 8) | bv->dns_in[6]);
		if (bv->dns_have >= MUX_DNS_HDR && bv->dns_have == full) {
			uint32_t qid = ((uint32_t)bv->dns_in[0] << 24) | ((uint32_t)bv->dns_in[1] << 16) |
				       ((uint32_t)bv->dns_in[2] << 8) | bv->dns_in[3];
			dns_query(bv, qid, bv->dns_in[4], bv->dns_in + MUX_DNS_HDR,
				  bv->dns_have - MUX_DNS_HDR);
			bv->dns_have = 0;
		}
	}
}

static void dns_frame(struct buildvm *bv, const struct mux_frame *f)
{
	struct mux_data d;
	uint32_t inc;
	switch (f->hdr.type) {
	case MUX_OPEN_OK: {
		struct mux_open_ok ok;
		if (mux_decode_open_ok(f, &ok) == MUX_OK)
			bv->dns_win = ok.window;
		dns_flush(bv);
		break;
	}
	case MUX_WINDOW:
		if (mux_decode_window(f, &inc) == MUX_OK)
			bv->dns_win += inc;
		dns_flush(bv);
		break;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			break;
		if (d.len && mux_put_window(&bv->out, bv->dns_ch, d.len) == MUX_OK)
			send_out(bv);
		dns_data(bv, d.p, d.len);
		break;
	default: /* OPEN_FAIL (no stub), EOF, CLOSE, ERROR: no DNS from now on */
		if (f->hdr.type == MUX_CLOSE && mux_put_close(&bv->out, bv->dns_ch) == MUX_OK)
			send_out(bv);
		bv->dns_ch = 0;
		break;
	}
}

static void dns_open(struct buildvm *bv)
{
	struct mux_open o;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_DNS;
	o.window = BVM_WINDOW;
	bv->dns_ch = bv->next_ch++;
	bv->dns_win = 0;
	bv->dns_have = 0;
	buf_reset(&bv->dns_out);
	if (mux_put_open(&bv->out, bv->dns_ch, &o) != MUX_OK || send_out(bv) < 0)
		bv->dns_ch = 0;
}

/* A frame not for the channel being run. */
static void other_frame(struct buildvm *bv, const struct mux_frame *f)
{
	if (bv->dns_ch && f->hdr.channel == bv->dns_ch)
		dns_frame(bv, f);
	else if (f->hdr.channel && f->hdr.type == MUX_CLOSE &&
		 mux_put_close(&bv->out, f->hdr.channel) == MUX_OK)
		send_out(bv); /* an old session's channel (after a restore): let it go */
}

/* ---- the VM ---- */

static void net_down(struct buildvm *bv)
{
	if (bv->net_up)
		egress_vm_down(bv->hd->egress, bv->id);
	bv->net_up = 0;
}

struct buildvm *buildvm_start(struct hearthd *hd, const struct vm_engine *eng,
			      const struct buildvm_spec *s, const char *snap, char *err,
			      size_t errlen)
{
	struct buildvm *bv = calloc(1, sizeof *bv);
	struct vm_err verr = { { 0 } };
	char why[AGENTCTL_ERR];
	int tap = -1;
	if (!bv || !(bv->rd = malloc(sizeof *bv->rd))) {
		snprintf(err, errlen, "out of memory");
		free(bv);
		return NULL;
	}
	bv->hd = hd;
	bv->eng = eng;
	bv->cancel = s->cancel;
	bv->fd = -1;
	snprintf(bv->id, sizeof bv->id, "%s", s->id);
	mux_reader_init(bv->rd);
	buf_init(&bv->out, 2 * (MUX_HDR_LEN + MUX_MAX_PAYLOAD));
	buf_init(&bv->dns_out, BVM_DNS_OUT);
	bv->next_ch = 0x10000u + (uint32_t)(clock_ms() % 0x10000) * 0x100u;
	const char *eg = s->egress && s->egress[0] ? s->egress : "[]";
	bv->pol = dns_policy_of(eg);
	char uerr[128];
	bv->up_ok = dns_resolve_upstream(hd->cfg.dns_upstream, &bv->up, &bv->uplen, uerr,
					 sizeof uerr) == 0;
	if (hd->egress) {
		struct egress_policy *pol = malloc(sizeof *pol);
		int bad = !pol ||
			  egress_policy_from_connectors(hd->cfg.state_dir, s->egress, pol, why,
							sizeof why) < 0 ||
			  egress_vm_up(hd->egress, bv->id, pol, &tap, why, sizeof why) < 0;
		free(pol);
		if (bad) {
			snprintf(err, errlen, "builder network: %s", pol ? why : "out of memory");
			goto fail;
		}
		bv->net_up = 1;
	}
	struct vm_config cfg = {
		.id = bv->id,
		.run_dir = s->run_dir,
		.kernel = s->kernel,
		.initrd = s->initrd && s->initrd[0] ? s->initrd : NULL,
		.disk = s->disk && s->disk[0] ? s->disk : NULL,
		.cmdline = s->cmdline,
		.mem_mib = s->mem_mib,
		.vcpus = s->vcpus ? s->vcpus : 1,
		.accel = VM_ACCEL_AUTO,
		.net = tap >= 0 ? VM_NET_TAP : VM_NET_NONE,
		.tap_fd = tap,
	};
	/* A step cache snapshot may be restored by other builds at once: its
	 * memory is mapped from a sealed copy, never the file (vmm/engine.h). */
	char sealwhy[STORE_REASON];
	int mem = snap ? snapcache_seal(snap, sealwhy) : 0;
	if (mem < 0) {
		if (tap >= 0)
			close(tap);
		snprintf(err, errlen, "builder VM restore failed: %s", sealwhy);
		goto fail;
	}
	cfg.mem_fd = mem;
	int rc = snap ? eng->restore(&cfg, snap, DL_BOOT, &bv->vm, &verr)
		      : eng->boot(&cfg, DL_BOOT, &bv->vm, &verr);
	if (tap >= 0)
		close(tap);
	if (mem > 0)
		close(mem);
	if (rc < 0) {
		bv->vm = NULL;
		snprintf(err, errlen, "builder VM %s failed: %s", snap ? "restore" : "boot", verr.msg);
		goto fail;
	}
	bv->fd = eng->agent_fd(bv->vm);
	if (snap) {
		if (agentctl_refresh(bv->fd, bv->id, DL_AGENT, NULL, NULL, why, sizeof why) < 0) {
			snprintf(err, errlen, "builder VM agent: %s", why);
			goto fail;
		}
		/* A fresh namespace: forget the old gateway and connections. */
		agentctl_ctl(bv->fd, MUX_CTL_NET_RESET, NULL, 0, DL_AGENT, NULL, 0, NULL, NULL, why,
			     sizeof why);
	} else if (agentctl_hello(bv->fd, DL_AGENT, NULL, NULL, why, sizeof why) < 0) {
		snprintf(err, errlen, "builder VM agent did not answer: %s", why);
		goto fail;
	}
	dns_open(bv);
	return bv;
fail:
	buildvm_stop(bv);
	return NULL;
}

void buildvm_stop(struct buildvm *bv)
{
	struct vm_err verr;
	if (!bv)
		return;
	if (bv->vm)
		bv->eng->stop(bv->vm, DL_STOP, &verr);
	net_down(bv);
	buf_free(&bv->out);
	buf_free(&bv->dns_out);
	free(bv->rd);
	free(bv);
}

int buildvm_snapshot(struct buildvm *bv, const char *dir, char *err, size_t errlen)
{
	struct vm_err verr = { { 0 } };
	if (bv->eng->snapshot(bv->vm, dir, DL_SNAPSHOT, &verr) < 0) {
		snprintf(err, errlen, "%s", verr.msg);
		bv->eng->resume(bv->vm, DL_AGENT, &verr);
		return -1;
	}
	if (bv->eng->resume(bv->vm, DL_AGENT, &verr) < 0) {
		snprintf(err, errlen, "resume after snapshot: %s", verr.msg);
		return -1;
	}
	return 0;
}

/* ---- one channel ---- */

struct chan {
	uint32_t id;
	int opened, refused, in_eof, exited, closed;
	uint32_t send_win;
	uint64_t out_bytes;
	int code;
};

static int chan_send_stdin(struct buildvm *bv, struct chan *c, const struct buildvm_io *io,
			   char *err, size_t errlen)
{
	static __thread uint8_t chunk[MUX_MAX_DATA];
	while (c->opened && !c->in_eof && io->in_fd >= 0 && c->send_win) {
		size_t want = c->send_win < MUX_MAX_DATA ? c->send_win : MUX_MAX_DATA;
		ssize_t n = read(io->in_fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the input: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			c->in_eof = 1;
			if (mux_put_eof(&bv->out, c->id, MUX_STREAM_MAIN) != MUX_OK || send_out(bv) < 0)
				goto gone;
			break;
		}
		if (mux_put_data(&bv->out, c->id, MUX_STREAM_MAIN, chunk, (size_t)n) != MUX_OK ||
		    send_out(bv) < 0)
			goto gone;
		c->send_win -= (uint32_t)n;
	}
	return 0;
gone:
	snprintf(err, errlen, "the builder VM's agent went away");
	return -1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A frame of the channel. 1 the channel is over, 0 go on, -1 err. */
static int chan_frame(struct buildvm *bv, struct chan *c, const struct buildvm_io *io,
		      const struct mux_frame *f, char *err, size_t errlen)
{
	struct mux_data d;
	struct mux_fail fl;
	struct mux_exit ex;
	uint32_t inc;
	switch (f->hdr.type) {
	case MUX_OPEN_OK: {
		struct mux_open_ok ok;
		if (mux_decode_open_ok(f, &ok) == MUX_OK) {
			c->opened = 1;
			c->send_win = ok.window;
		}
		return 0;
	}
	case MUX_OPEN_FAIL:
		if (mux_decode_fail(f, &fl) == MUX_OK)
			snprintf(err, errlen, "could not start: %s (%.*s)", mux_strerror(fl.code),
				 (int)fl.msg.len, fl.msg.p);
		else
			snprintf(err, errlen, "could not start");
		c->refused = 1; /* no channel: nothing to close */
		return -1;
	case MUX_WINDOW:
		if (mux_decode_window(f, &inc) == MUX_OK)
			c->send_win += inc;
		return 0;
	case MUX_DATA:
		if (mux_decode_data(f, &d) != MUX_OK)
			return 0;
		if (d.stream == MUX_STREAM_STDOUT && io->out_fd >= 0) {
			c->out_bytes += d.len;
			if (c->out_bytes > io->out_max) {
				snprintf(err, errlen, "the output is larger than %llu bytes",
					 (unsigned long long)io->out_max);
				return -1;
			}
			if (write_all(io->out_fd, d.p, d.len) < 0) {
				snprintf(err, errlen, "writing the output: %s", strerror(errno));
				return -1;
			}
		} else if (io->out) {
			io->out(io->ctx, d.stream, d.p, d.len);
		}
		if (d.len && (mux_put_window(&bv->out, c->id, d.len) != MUX_OK || send_out(bv) < 0)) {
			snprintf(err, errlen, "the builder VM's agent went away");
			return -1;
		}
		return 0;
	case MUX_EXIT:
		if (mux_decode_exit(f, &ex) == MUX_OK) {
			c->exited = 1;
			c->code = ex.how == MUX_EXIT_CODE ? ex.value : 128 + ex.value;
		}
		return 0;
	case MUX_CLOSE:
		c->closed = 1;
		if (c->exited)
			return 1;
		snprintf(err, errlen, "the channel closed without an exit status");
		return -1;
	case MUX_ERROR:
		if (mux_decode_fail(f, &fl) == MUX_OK && fl.code == MUX_E_STATE)
			return 0; /* e.g. our EOF after the process ended its stdin */
		snprintf(err, errlen, "agent error on the channel");
		return -1;
	default:
		return 0;
	}
}

int buildvm_run(struct buildvm *bv, const struct mux_open *o, const struct buildvm_io *io,
		int *code, int *cancelled, char *err, size_t errlen)
{
	struct chan c = { .id = bv->next_ch++ };
	struct mux_open op = *o;
	struct mux_frame f;
	int64_t dl = clock_deadline(io->timeout_ms);
	int rc = -1;
	*cancelled = 0;
	op.window = BVM_WINDOW;
	if (mux_put_open(&bv->out, c.id, &op) != MUX_OK) {
		buf_reset(&bv->out);
		snprintf(err, errlen, "the command does not fit the agent's limits");
		return -1;
	}
	if (send_out(bv) < 0) {
		snprintf(err, errlen, "the builder VM's agent went away");
		return -1;
	}
	for (;;) {
		if (chan_send_stdin(bv, &c, io, err, errlen) < 0)
			break;
		if (bv->cancel && atomic_load(bv->cancel)) {
			*cancelled = 1;
			snprintf(err, errlen, "cancelled");
			break;
		}
		if (clock_left(dl) == 0) {
			snprintf(err, errlen, "timed out after %d s", io->timeout_ms / 1000);
			break;
		}
		int t = clock_left(dl) < BVM_POLL_MS ? clock_left(dl) : BVM_POLL_MS;
		int k = next_frame(bv, &f, t);
		if (k < 0) {
			snprintf(err, errlen, "the builder VM's agent went away");
			break;
		}
		if (k == 0)
			continue;
		if (f.hdr.channel != c.id) {
			other_frame(bv, &f);
			continue;
		}
		int r = chan_frame(bv, &c, io, &f, err, errlen);
		if (r < 0)
			break;
		if (r > 0) {
			*code = c.code;
			rc = 0;
			break;
		}
	}
	/* Free the channel id (the agent ends a running process on CLOSE). */
	if (!c.refused && mux_put_close(&bv->out, c.id) == MUX_OK && send_out(bv) == 0 &&
	    !c.closed) {
		int64_t cdl = clock_deadline(2000);
		while (clock_left(cdl) > 0 && next_frame(bv, &f, clock_left(cdl)) > 0) {
			if (f.hdr.channel == c.id && f.hdr.type == MUX_CLOSE)
				break;
			if (f.hdr.channel != c.id)
				other_frame(bv, &f);
		}
	}
	buf_reset(&bv->out);
	return rc;
}
