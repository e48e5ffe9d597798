/* agentctl.c - blocking HELLO/CTL client for the agent channel. */
#include "vmm/agentctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "protocol/mux.h"
#include "vmm/clock.h"
#include "vmm/fdio.h"

/*
 * Our HELLO may reach a freshly booted guest's console while it is still a
 * cooked tty (before the agent makes it raw): the line discipline would drop
 * or rewrite control bytes (^V, ^U, ^D, CR, ^S/^Q, ...). With this software
 * string the whole frame holds none of them (payload length 0x18), so it
 * arrives intact either way; the tty's echo of it is skipped when reading.
 */
#define AGENTCTL_SOFTWARE "hearth-vmm/1.0"
#define AGENTCTL_PROBE_MS 50         /* PING probes while the guest boots */
#define AGENTCTL_HELLO_RETRY_MS 3000 /* HELLO again only if one got lost */
#define AGENTCTL_REFRESH_RETRY_MS 250

static int send_buf(int fd, const struct buf *b, int64_t dl, char *err, size_t errlen)
{
	if (fdio_send_all(fd, buf_ptr(b), buf_used(b), -1, dl) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		snprintf(err, errlen, "agent write timed out");
	else
		snprintf(err, errlen, "agent write: %s", strerror(errno));
	return -1;
}

static int recv_exact(int fd, uint8_t *p, size_t n, int64_t dl, char *err, size_t errlen)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = recv(fd, p + off, n - off, MSG_DONTWAIT);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r == 0) {
			snprintf(err, errlen, "agent channel closed");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			snprintf(err, errlen, "agent read: %s", strerror(errno));
			return -1;
		}
		int left = clock_left(dl);
		if (left <= 0) {
			snprintf(err, errlen, "timed out waiting for the agent");
			return -1;
		}
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		poll(&pf, 1, left);
	}
	return 0;
}

/* One whole frame; payload lands in pl (MUX_MAX_PAYLOAD bytes). */
static int read_frame(int fd, uint8_t *pl, struct mux_frame *f, int64_t dl, char *err,
		      size_t errlen)
{
	uint8_t h[MUX_HDR_LEN];
	if (recv_exact(fd, h, sizeof(h), dl, err, errlen) < 0)
		return -1;
	int rc = mux_hdr_decode(h, &f->hdr);
	if (rc < 0 && rc != MUX_E_TYPE) {
		snprintf(err, errlen, "agent sent a bad frame header: %s", mux_strerror(rc));
		return -1;
	}
	if (f->hdr.length > MUX_MAX_PAYLOAD) {
		snprintf(err, errlen, "agent frame too long (%u bytes)", f->hdr.length);
		return -1;
	}
	if (recv_exact(fd, pl, f->hdr.length, dl, err, errlen) < 0)
		return -1;
	f->payload = pl;
	return rc < 0 ? 1 : 0; /* 1: unknown type, skipped */
}

/* Keep a frame meant for someone else (channel traffic) for the caller. */
static void keep_pending(struct buf *pending, const struct mux_frame *f)
{
	if (!pending)
		return;
	uint8_t h[MUX_HDR_LEN];
	h[0] = f->hdr.version;
	h[1] = f->hdr.type;
	put_be16(h + 2, f->hdr.reserved);
	put_be32(h + 4, f->hdr.channel);
	put_be32(h + 8, f->hdr.length);
	if (buf_room(pending) < sizeof(h) + f->hdr.length)
		return; /* bounded: the oldest traffic is kept, later frames dropped */
	buf_put(pending, h, sizeof(h));
	buf_put(pending, f->payload, f->hdr.length);
}

/*
 * Read frames until one of `type` arrives on channel 0 (for CTL_RESP: with id
 * `want_id`). The frame payload stays in pl. Returns 0 or -1.
 */
static int wait_for(int fd, uint8_t *pl, uint8_t type, uint32_t want_id, struct mux_frame *f,
		    struct buf *pending, int64_t dl, char *err, size_t errlen)
{
	for (;;) {
		int rc = read_frame(fd, pl, f, dl, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		if (f->hdr.channel != 0) {
			keep_pending(pending, f);
			continue;
		}
		if (f->hdr.type == MUX_ERROR) {
			struct mux_fail e;
			if (mux_decode_fail(f, &e) == MUX_OK)
				snprintf(err, errlen, "agent error: %s: %.*s", mux_strerror(e.code),
					 (int)e.msg.len, e.msg.p);
			else
				snprintf(err, errlen, "agent sent a malformed ERROR");
			return -1;
		}
		if (f->hdr.type == MUX_PING) {
			uint64_t cookie;
			struct buf b;
			buf_init(&b, 64);
			if (mux_decode_ping(f, &cookie) == MUX_OK &&
			    mux_put_ping(&b, MUX_PONG, cookie) == MUX_OK)
				send_buf(fd, &b, dl, err, errlen);
			buf_free(&b);
			continue;
		}
		if (f->hdr.type != type)
			continue;
		if (type == MUX_CTL_RESP) {
			struct mux_ctl_resp r;
			if (mux_decode_ctl_resp(f, &r) != MUX_OK || r.id != want_id)
				continue;
		}
		return 0;
	}
}

/*
 * Find the next frame of `type` on channel 0 in the stream, skipping bytes
 * that are not a frame: a freshly booted guest's console is a tty that may
 * echo what arrived before the agent made it raw. Works on peeked bytes and
 * consumes only through the frame found, so later frames stay in sync; the
 * frame's payload is left in pk. 1: found, 0: need more input, -1: error.
 */
static int scan_for(int fd, uint8_t type, uint8_t *pk, size_t cap, struct mux_frame *out,
		    struct buf *pending, char *err, size_t errlen)
{
	for (;;) {
		ssize_t n = recv(fd, pk, cap, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0) {
			snprintf(err, errlen, "agent channel closed");
			return -1;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			snprintf(err, errlen, "agent read: %s", strerror(errno));
			return -1;
		}
		size_t skip = 1; /* not a frame start: drop one byte */
		int found = 0;
		struct mux_frame f;
		if ((size_t)n < MUX_HDR_LEN) {
			if (pk[0] == MUX_VERSION)
				return 0; /* may be a frame start: wait for the rest */
		} else {
			int rc = mux_hdr_decode(pk, &f.hdr);
			if (rc == MUX_OK || rc == MUX_E_TYPE) {
				size_t whole = MUX_HDR_LEN + (size_t)f.hdr.length;
				if ((size_t)n < whole && whole <= cap)
					return 0;
				if ((size_t)n >= whole) {
					skip = whole;
					f.payload = pk + MUX_HDR_LEN;
					if (rc == MUX_OK && f.hdr.channel != 0)
						keep_pending(pending, &f);
					found = rc == MUX_OK && f.hdr.type == type && f.hdr.channel == 0;
				}
			}
		}
		if (found) {
			/* Decode from pk before consuming: the payload stays put. */
			*out = f;
		}
		uint8_t sink[256];
		size_t left = skip;
		while (left) {
			ssize_t r = recv(fd, found ? pk + skip - left : sink,
					 found ? left : (left < sizeof(sink) ? left : sizeof(sink)),
					 MSG_DONTWAIT);
			if (r <= 0) {
				snprintf(err, errlen, "agent read failed");
				return -1;
			}
			left -= (size_t)r;
		}
		if (found)
			return 1;
	}
}

/* Send a whole frame built by put (a tiny control frame). */
static int send_ctl_frame(int fd, int (*put)(struct buf *, uint64_t), uint64_t arg, int64_t dl,
			  char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, 1024);
	int rc = put(&b, arg);
	if (rc == MUX_OK)
		rc = send_buf(fd, &b, dl, err, errlen);
	else
		snprintf(err, errlen, "encode: %s", mux_strerror(rc));
	buf_free(&b);
	return rc == MUX_OK ? 0 : -1;
}

static int put_ping(struct buf *b, uint64_t cookie)
{
	return mux_put_ping(b, MUX_PING, cookie);
}

static int put_hello(struct buf *b, uint64_t unused)
{
	return mux_put_hello(b, MUX_HELLO_F_HOST, 0, AGENTCTL_SOFTWARE);
}

/*
 * Wait for a frame of `type`, sending what `put` makes now and every
 * `every` ms while unanswered. 0 found (payload in pk), -1 error/timeout.
 */
static int ask_until(int fd, int (*put)(struct buf *, uint64_t), uint8_t type, int every,
		     uint8_t *pk, size_t cap, struct mux_frame *f, struct buf *pending,
		     int64_t dl, char *err, size_t errlen)
{
	int64_t again = 0;
	uint64_t n = 0;
	for (;;) {
		int64_t now = clock_ms();
		if (now >= again) {
			if (send_ctl_frame(fd, put, ++n, dl, err, errlen) < 0)
				return -1;
			again = now + every;
		}
		int rc = scan_for(fd, type, pk, cap, f, pending, err, errlen);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
		int left = clock_left(dl);
		if (left <= 0) {
			snprintf(err, errlen, "timed out waiting for the agent (%s)",
				 mux_type_name(type));
			return -1;
		}
		int wait = (int)(again - clock_ms());
		if (wait < 0)
			wait = 0;
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		poll(&pf, 1, wait < left ? wait : left);
	}
}

/*
 * The agent drops whatever reached its console before it made it raw, so
 * first probe with PING (allowed before HELLO) until one is answered, then
 * say HELLO once: earlier PONGs precede the HELLO reply and are skipped, and
 * the caller gets a stream with exactly one HELLO answered.
 */
static int hello(int fd, int64_t dl, int probe, int retry_ms, struct agentctl_peer *peer,
		 struct buf *pending, char *err, size_t errlen)
{
	size_t cap = MUX_HDR_LEN + MUX_MAX_PAYLOAD;
	err[0] = 0;
	uint8_t *pk = malloc(cap);
	if (!pk) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct mux_frame f;
	int rc = probe ? ask_until(fd, put_ping, MUX_PONG, AGENTCTL_PROBE_MS, pk, cap, &f, pending,
				   dl, err, errlen)
		       : 0;
	if (rc == 0)
		rc = ask_until(fd, put_hello, MUX_HELLO, retry_ms, pk, cap, &f, pending, dl, err,
			       errlen);
	if (rc == 0) {
		struct mux_hello h;
		if (mux_decode_hello(&f, &h) != MUX_OK) {
			snprintf(err, errlen, "agent sent a malformed HELLO");
			rc = -1;
		} else if (peer) {
			peer->version = h.version;
			peer->flags = h.flags;
			peer->features = h.features;
			size_t k = h.software.len < sizeof(peer->software) - 1
					   ? h.software.len
					   : sizeof(peer->software) - 1;
			memcpy(peer->software, h.software.p, k);
			peer->software[k] = 0;
		}
	}
	free(pk);
	return rc;
}

int agentctl_hello(int fd, int deadline_ms, struct agentctl_peer *peer, struct buf *pending,
		   char *err, size_t errlen)
{
	return hello(fd, clock_deadline(deadline_ms), 1, AGENTCTL_HELLO_RETRY_MS, peer, pending,
		     err, errlen);
}

int agentctl_ctl(int fd, uint8_t op, const void *arg, size_t arglen, int deadline_ms,
		 void *body, size_t cap, size_t *bodylen, struct buf *pending, char *err,
		 size_t errlen)
{
	/* Distinct from the ids a relayed client picks; callers may be threads. */
	static _Atomic uint32_t next_id = 0x68000000u;
	int64_t dl = clock_deadline(deadline_ms);
	uint32_t id = ++next_id;
	struct buf b;
	buf_init(&b, MUX_HDR_LEN + MUX_MAX_PAYLOAD);
	int rc = mux_put_ctl_req(&b, id, op, arg, arglen);
	if (rc != MUX_OK) {
		buf_free(&b);
		snprintf(err, errlen, "CTL %u: %s", op, mux_strerror(rc));
		return -1;
	}
	rc = send_buf(fd, &b, dl, err, errlen);
	buf_free(&b);
	if (rc < 0)
		return -1;
	uint8_t *pl = malloc(MUX_MAX_PAYLOAD);
	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct mux_frame f;
	rc = wait_for(fd, pl, MUX_CTL_RESP, id, &f, pending, dl, err, errlen);
	if (rc == 0) {
		struct mux_ctl_resp r;
		mux_decode_ctl_resp(&f, &r);
		if (r.status != MUX_OK) {
			snprintf(err, errlen, "CTL %u: %s", op, mux_strerror(r.status));
			rc = -1;
		} else {
			size_t n = r.bodylen < cap ? r.bodylen : cap;
			if (body && n)
				memcpy(body, r.body, n);
			if (bodylen)
				*bodylen = body ? n : 0;
		}
	}
	free(pl);
	return rc;
}

int agentctl_refresh(int fd, const char *hostname, int deadline_ms, struct agentctl_peer *peer,
		     struct buf *pending, char *err, size_t errlen)
{
	int64_t dl = clock_deadline(deadline_ms);
	char e[AGENTCTL_ERR];
	/*
	 * A restored agent is up with a raw console: HELLO straight away, again
	 * soon if unanswered. Replies to repeats come before the CTL replies
	 * below, which skip them, so the stream is clean when we return.
	 */
	if (hello(fd, dl, 0, AGENTCTL_REFRESH_RETRY_MS, peer, pending, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "agent HELLO: %s", e);
		return -1;
	}
	uint8_t rnd[AGENTCTL_ENTROPY];
	size_t got = 0;
	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	int rc = agentctl_ctl(fd, MUX_CTL_ENTROPY, rnd, sizeof(rnd), clock_left(dl), NULL, 0, NULL,
			      pending, e, sizeof(e));
	explicit_bzero(rnd, sizeof(rnd));
	if (rc < 0) {
		snprintf(err, errlen, "agent ENTROPY: %s", e);
		return -1;
	}
	if (hostname) {
		struct buf b;
		buf_init(&b, 2 + MUX_MAX_HOST);
		size_t n = strlen(hostname);
		if (n > MUX_MAX_HOST || buf_put_str16(&b, hostname, n) != BUF_OK) {
			buf_free(&b);
			snprintf(err, errlen, "hostname too long");
			return -1;
		}
		rc = agentctl_ctl(fd, MUX_CTL_HOSTNAME, buf_ptr(&b), buf_used(&b), clock_left(dl),
				  NULL, 0, NULL, pending, e, sizeof(e));
		buf_free(&b);
		if (rc < 0) {
			snprintf(err, errlen, "agent HOSTNAME: %s", e);
			return -1;
		}
	}
	/* The guest clock stood still while the snapshot slept: set it. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint8_t t[12];
	put_be64(t, (uint64_t)ts.tv_sec);
	put_be32(t + 8, (uint32_t)ts.tv_nsec);
	if (agentctl_ctl(fd, MUX_CTL_TIME, t, sizeof(t), clock_left(dl), NULL, 0, NULL, pending, e,
			 sizeof(e)) < 0 &&
	    !strstr(e, mux_strerror(MUX_E_UNSUPPORTED)) && !strstr(e, mux_strerror(MUX_E_PERM))) {
		snprintf(err, errlen, "agent TIME: %s", e);
		return -1;
	}
	return 0;
}
