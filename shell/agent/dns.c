/*
 * dns.c - the guest's DNS stub. It listens on 127.0.0.53 and
 * 169.254.169.253, UDP and TCP port 53, and carries every query to hearthd
 * over the DNS channel (kind 5, PROTOCOL.md 1.10), never to the network.
 * Each query gets a channel-level id (the DNS id is the client's and may
 * repeat); the answer frame names it, and the stub sends it back to the
 * client that asked. Without a channel, or when the table of pending
 * queries is full, the client gets SERVFAIL at once; a query hearthd never
 * answers is answered SERVFAIL after DNS_PENDING_MS.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/dnsmsg.h"

#define DNS_PORT 53
#define DNS_NADDR 2
#define DNS_PENDING_MAX 256
#define DNS_PENDING_MS 7000   /* hearthd answers SERVFAIL after 5 s itself */
#define DNS_TCP_MAX 32
#define DNS_TCP_IDLE_MS 10000 /* RFC 7766: close idle connections */
#define DNS_TCP_OUT_MAX (128u * 1024)
#define DNS_CHAN_OUT_MAX (256u * 1024)
#define DNS_QCOPY 300         /* header and question: enough for SERVFAIL */
#define DNS_BATCH 64          /* datagrams per socket per loop turn */

static const char *const dns_addrs[DNS_NADDR] = { "127.0.0.53", "169.254.169.253" };

enum dns_what { DW_UDP, DW_LISTEN, DW_TCP, DW_CHAN };

struct dns_src {
	struct src src; /* SRC_DNS; first member */
	uint8_t what, idx, ready;
};

struct dns_tcp {
	struct dns_src s;
	int fd;
	uint32_t gen;
	int64_t idle_at;
	size_t have;
	struct buf out;
	uint8_t in[2 + DNSMSG_MAX_LEN];
};

struct dns_pending {
	uint8_t used, tcp, udp_idx;
	uint16_t tcp_idx;
	uint32_t qid, tcp_gen;
	struct sockaddr_in from;
	int64_t deadline;
	uint16_t qlen;
	uint8_t q[DNS_QCOPY];
};

static struct {
	int on;
	int udp[DNS_NADDR], lst[DNS_NADDR], chan;
	struct dns_src udp_s[DNS_NADDR], lst_s[DNS_NADDR], chan_s;
	struct dns_tcp *tcp[DNS_TCP_MAX];
	uint32_t tcp_gen;
	struct dns_pending pend[DNS_PENDING_MAX];
	unsigned npend;
	uint32_t next_qid;
	struct buf to_chan;
	size_t from_have;
	uint8_t from_chan[MUX_DNS_HDR + DNSMSG_MAX_LEN];
} dns = { .chan = -1 };

static uint8_t dns_scratch[DNSMSG_MAX_LEN];

/* 169.254.169.253 on lo as an alias (lo:dns): reachable with no NIC at all. */
static void dns_add_alias(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:dns");
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, dns_addrs[1], &sin->sin_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0 && errno != EEXIST)
		log_msg("dns: add %s to lo: %s", dns_addrs[1], strerror(errno));
	inet_pton(AF_INET, "255.255.255.255", &sin->sin_addr);
	ioctl(s, SIOCSIFNETMASK, &ifr);
	close(s);
}

static int dns_socket(struct agent *a, int type, const char *addr, struct dns_src *s,
		      uint8_t what, uint8_t idx)
{
	struct sockaddr_in sin;
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(DNS_PORT);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* FREEBIND: bind even if the alias is not there (yet). */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		log_msg("dns: bind %s:%d: %s", addr, DNS_PORT, strerror(errno));
		close(fd);
		return -1;
	}
	s->src.type = SRC_DNS;
	s->what = what;
	s->idx = idx;
	s->ready = 1;
	if (agent_watch(a, fd, &s->src, EV_BASE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * /etc/resolv.conf names the stub: the text is written to PID 1's own /run
 * tmpfs and bind-mounted over /etc/resolv.conf, never written into /etc.
 * A bind mount lives in the agent's mount namespace only, so an agent run as
 * PID 1 in a test's namespaces on the host's root (not a guest) can never
 * replace the host's resolver configuration. Best effort: without a mount
 * the guest keeps its own file.
 */
#define DNS_RESOLV_RUN "/run/hearth/resolv.conf"
static void dns_write_resolv(void)
{
	static const char text[] = "# hearth: the agent's DNS stub (queries go to the host)\n"
				   "nameserver 127.0.0.53\n"
				   "options edns0 trust-ad\n";
	if (mkdir("/run/hearth", 0755) < 0 && errno != EEXIST)
		return;
	int fd = open(DNS_RESOLV_RUN, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	ssize_t n = write(fd, text, sizeof(text) - 1);
	close(fd);
	if (n != (ssize_t)(sizeof(text) - 1))
		return;
	/* A bind needs an existing target; an initramfs may have none. */
	fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		close(fd);
	(void)mount(DNS_RESOLV_RUN, "/etc/resolv.conf", NULL, MS_BIND, NULL);
}

int dns_init(struct agent *a)
{
	dns_add_alias();
	for (int i = 0; i < DNS_NADDR; i++) {
		dns.udp[i] = dns_socket(a, SOCK_DGRAM, dns_addrs[i], &dns.udp_s[i], DW_UDP,
					(uint8_t)i);
		dns.lst[i] = dns_socket(a, SOCK_STREAM, dns_addrs[i], &dns.lst_s[i], DW_LISTEN,
					(uint8_t)i);
	}
	buf_init(&dns.to_chan, DNS_CHAN_OUT_MAX);
	dns.on = 1;
	dns_write_resolv();
	return 0;
}

void dns_event(struct src *s)
{
	((struct dns_src *)s)->ready = 1;
}

static void dns_tcp_close(struct dns_tcp *t)
{
	close(t->fd);
	buf_free(&t->out);
	dns.tcp[t->s.idx] = NULL;
	free(t);
}

static void dns_tcp_flush(struct agent *a, struct dns_tcp *t)
{
	while (buf_used(&t->out)) {
		ssize_t n = write(t->fd, buf_ptr(&t->out), buf_used(&t->out));
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				agent_rearm(a, t->fd, &t->s.src, EV_OUT);
			else
				dns_tcp_close(t);
			return;
		}
		buf_consume(&t->out, (size_t)n);
	}
	agent_rearm(a, t->fd, &t->s.src, EV_BASE);
}

/* An answer to the client of pending p. */
static void dns_reply(struct agent *a, struct dns_pending *p, const uint8_t *m, size_t n)
{
	if (!p->tcp) {
		sendto(dns.udp[p->udp_idx], m, n, MSG_DONTWAIT, (struct sockaddr *)&p->from,
		       sizeof(p->from));
		return;
	}
	struct dns_tcp *t = dns.tcp[p->tcp_idx];
	if (t == NULL || t->gen != p->tcp_gen)
		return;
	if (buf_room(&t->out) < 2 + n) {
		dns_tcp_close(t); /* a client that does not read its answers */
		return;
	}
	buf_put_u16(&t->out, (uint16_t)n);
	buf_put(&t->out, m, n);
	t->idle_at = agent_now_ms() + DNS_TCP_IDLE_MS;
	dns_tcp_flush(a, t);
}

static void dns_fail(struct agent *a, struct dns_pending *p, uint8_t rcode)
{
	uint8_t out[DNS_QCOPY];
	size_t n = dnsmsg_error(p->q, p->qlen, rcode, out, sizeof(out));

	if (n)
		dns_reply(a, p, out, n);
}

static void dns_free(struct dns_pending *p)
{
	p->used = 0;
	dns.npend--;
}

/* Queue one query for hearthd; on no room or no channel, SERVFAIL now. */
static void dns_query(struct agent *a, const uint8_t *m, size_t n, struct dns_pending *tmpl)
{
	struct dns_pending *p = NULL;

	if (n < DNSMSG_HDR_LEN)
		return; /* nothing to answer to */
	tmpl->qlen = (uint16_t)(n < DNS_QCOPY ? n : DNS_QCOPY);
	memcpy(tmpl->q, m, tmpl->qlen);
	if (dns.chan < 0 || dns.npend >= DNS_PENDING_MAX ||
	    buf_room(&dns.to_chan) < MUX_DNS_HDR + n) {
		dns_fail(a, tmpl, DNSMSG_SERVFAIL);
		return;
	}
	for (unsigned i = 0; i < DNS_PENDING_MAX; i++)
		if (!dns.pend[i].used) {
			p = &dns.pend[i];
			break;
		}
	*p = *tmpl;
	p->used = 1;
	p->qid = dns.next_qid++;
	p->deadline = agent_now_ms() + DNS_PENDING_MS;
	dns.npend++;
	buf_put_u32(&dns.to_chan, p->qid);
	buf_put_u8(&dns.to_chan, p->tcp ? MUX_DNS_F_TCP : 0);
	buf_put_u16(&dns.to_chan, (uint16_t)n);
	buf_put(&dns.to_chan, m, n);
}

static int dns_udp_read(struct agent *a, int idx)
{
	struct dns_pending tmpl;
	int k;

	for (k = 0; k < DNS_BATCH; k++) {
		socklen_t fl = sizeof(tmpl.from);
		memset(&tmpl, 0, sizeof(tmpl));
		ssize_t n = recvfrom(dns.udp[idx], dns_scratch, sizeof(dns_scratch), 0,
				     (struct sockaddr *)&tmpl.from, &fl);
		if (n < 0) {
			dns.udp_s[idx].ready = 0;
			return k > 0;
		}
		tmpl.udp_idx = (uint8_t)idx;
		dns_query(a, dns_scratch, (size_t)n, &tmpl);
	}
	return 1; /* more may wait: the next turn, after the other sources */
}

static int dns_accept(struct agent *a, int idx)
{
	int fd = accept4(dns.lst[idx], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int slot = -1;

	if (fd < 0) {
		dns.lst_s[idx].ready = 0;
		return 0;
	}
	for (int i = 0; i < DNS_TCP_MAX; i++)
		if (dns.tcp[i] == NULL) {
			slot = i;
			break;
		}
	struct dns_tcp *t = slot < 0 ? NULL : calloc(1, sizeof(*t));
	if (t == NULL) {
		close(fd); /* over the limit: the client retries */
		return 1;
	}
	t->fd = fd;
	t->gen = ++dns.tcp_gen;
	t->s.src.type = SRC_DNS;
	t->s.what = DW_TCP;
	t->s.idx = (uint8_t)slot;
	t->s.ready = 1;
	t->idle_at = agent_now_ms() + DNS_TCP_IDLE_MS;
	buf_init(&t->out, DNS_TCP_OUT_MAX);
	if (agent_watch(a, fd, &t->s.src, EV_BASE) < 0) {
		close(fd);
		buf_free(&t->out);
		free(t);
		return 1;
	}
	dns.tcp[slot] = t;
	return 1;
}

/* Read a TCP client's length-prefixed queries (RFC 1035 4.2.2). */
static int dns_tcp_read(struct agent *a, struct dns_tcp *t)
{
	struct dns_pending tmpl;
	int progress = 0;
	uint8_t idx = t->s.idx;

	if (buf_used(&t->out))
		dns_tcp_flush(a, t);
	if (dns.tcp[idx] != t)
		return 1;
	for (;;) {
		size_t need = t->have < 2 ? 2 : 2 + (((size_t)t->in[0] << 8) | t->in[1]);
		if (t->have >= 2 && need == 2) {
			dns_tcp_close(t);
			return 1;
		}
		if (t->have == need) {
			memset(&tmpl, 0, sizeof(tmpl));
			tmpl.tcp = 1;
			tmpl.tcp_idx = t->s.idx;
			tmpl.tcp_gen = t->gen;
			dns_query(a, t->in + 2, need - 2, &tmpl);
			t->have = 0;
			t->idle_at = agent_now_ms() + DNS_TCP_IDLE_MS;
			if (dns.tcp[tmpl.tcp_idx] != t)
				return 1;
			continue;
		}
		ssize_t n = read(t->fd, t->in + t->have, need - t->have);
		if (n < 0 && errno == EAGAIN) {
			t->s.ready = 0;
			return progress;
		}
		if (n <= 0) {
			dns_tcp_close(t);
			return 1;
		}
		t->have += (size_t)n;
		progress = 1;
	}
}

static void dns_detach(struct agent *a)
{
	if (dns.chan < 0)
		return;
	close(dns.chan);
	dns.chan = -1;
	buf_reset(&dns.to_chan);
	dns.from_have = 0;
	for (unsigned i = 0; i < DNS_PENDING_MAX; i++)
		if (dns.pend[i].used) {
			dns_fail(a, &dns.pend[i], DNSMSG_SERVFAIL);
			dns_free(&dns.pend[i]);
		}
}

int dns_attach(struct agent *a, int fd)
{
	if (!dns.on)
		return -1;
	dns_detach(a); /* a new host session replaces the old channel */
	dns.chan_s.src.type = SRC_DNS;
	dns.chan_s.what = DW_CHAN;
	dns.chan_s.ready = 1;
	if (agent_watch(a, fd, &dns.chan_s.src, EV_BASE) < 0)
		return -1;
	dns.chan = fd;
	return 0;
}

/* One answer frame from hearthd: u32 qid, u8 flags, u16 len, message. */
static void dns_answer(struct agent *a, const uint8_t *f, size_t len)
{
	uint32_t qid = ((uint32_t)f[0] << 24) | ((uint32_t)f[1] << 16) | ((uint32_t)f[2] << 8) | f[3];

	for (unsigned i = 0; i < DNS_PENDING_MAX; i++) {
		struct dns_pending *p = &dns.pend[i];
		if (!p->used || p->qid != qid)
			continue;
		if (len > 0)
			dns_reply(a, p, f + MUX_DNS_HDR, len); /* 0: dropped by hearthd */
		dns_free(p);
		return;
	}
}

static int dns_chan_io(struct agent *a)
{
	int progress = 0;

	while (buf_used(&dns.to_chan)) {
		ssize_t n = write(dns.chan, buf_ptr(&dns.to_chan), buf_used(&dns.to_chan));
		if (n <= 0)
			break;
		buf_consume(&dns.to_chan, (size_t)n);
		progress = 1;
	}
	agent_rearm(a, dns.chan, &dns.chan_s.src, buf_used(&dns.to_chan) ? EV_OUT : EV_BASE);
	for (;;) {
		size_t need = MUX_DNS_HDR;
		if (dns.from_have >= MUX_DNS_HDR)
			need += ((size_t)dns.from_chan[5] << 8) | dns.from_chan[6];
		if (dns.from_have == need) {
			dns_answer(a, dns.from_chan, need - MUX_DNS_HDR);
			dns.from_have = 0;
			progress = 1;
			continue;
		}
		ssize_t n = read(dns.chan, dns.from_chan + dns.from_have, need - dns.from_have);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			dns_detach(a); /* the channel ended */
			return 1;
		}
		dns.from_have += (size_t)n;
	}
	dns.chan_s.ready = 0;
	return progress;
}

int dns_run(struct agent *a, int64_t now)
{
	int progress = 0;

	if (!dns.on)
		return 0;
	for (int i = 0; i < DNS_NADDR; i++) {
		if (dns.udp[i] >= 0 && dns.udp_s[i].ready)
			progress |= dns_udp_read(a, i);
		if (dns.lst[i] >= 0 && dns.lst_s[i].ready)
			progress |= dns_accept(a, i);
	}
	for (int i = 0; i < DNS_TCP_MAX; i++) {
		struct dns_tcp *t = dns.tcp[i];
		if (t && t->s.ready)
			progress |= dns_tcp_read(a, t);
		else if (t && now >= t->idle_at && !buf_used(&t->out))
			dns_tcp_close(t);
	}
	if (dns.chan >= 0 && (dns.chan_s.ready || buf_used(&dns.to_chan)))
		progress |= dns_chan_io(a);
	for (unsigned i = 0; dns.npend && i < DNS_PENDING_MAX; i++)
		if (dns.pend[i].used && now >= dns.pend[i].deadline) {
			dns_fail(a, &dns.pend[i], DNSMSG_SERVFAIL);
			dns_free(&dns.pend[i]);
		}
	return progress;
}

int64_t dns_next_deadline(void)
{
	int64_t best = 0;

	if (!dns.on)
		return 0;
	for (unsigned i = 0; dns.npend && i < DNS_PENDING_MAX; i++)
		if (dns.pend[i].used && (best == 0 || dns.pend[i].deadline < best))
			best = dns.pend[i].deadline;
	for (int i = 0; i < DNS_TCP_MAX; i++)
		if (dns.tcp[i] && (best == 0 || dns.tcp[i]->idle_at < best))
			best = dns.tcp[i]->idle_at;
	return best;
}
