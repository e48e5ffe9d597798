/*
 * ctl.c - control requests on channel 0, one handler per operation. Every
 * request gets a CTL_RESP on the stream it came from, with the same id:
 * status 0 and a body, or a negative mux_err. Whole-VM operations are the
 * main stream's; the direct stream gets PERM for them (PROTOCOL.md 1.9).
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

typedef int (*ctl_fn)(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
		      struct buf *body);

static int ctl_errno(int e)
{
	return (e == EPERM || e == EACCES) ? MUX_E_PERM : MUX_E_UNSUPPORTED;
}

static int ctl_no_arg(const struct mux_ctl_req *req)
{
	return req->arglen == 0 ? MUX_OK : MUX_E_PROTO;
}

/* MemTotal and MemAvailable from /proc/meminfo (kB), read with a bound. */
static void ctl_meminfo(uint64_t *total, uint64_t *avail)
{
	char text[4096], *p;
	struct sysinfo si;
	ssize_t n = -1;
	int fd;

	*total = *avail = 0;
	fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (n > 0) {
		text[n] = 0;
		if ((p = strstr(text, "MemTotal:")) != NULL)
			*total = strtoull(p + 9, NULL, 10) * 1024;
		if ((p = strstr(text, "MemAvailable:")) != NULL)
			*avail = strtoull(p + 13, NULL, 10) * 1024;
	}
	if ((*total == 0 || *avail == 0) && sysinfo(&si) == 0) {
		*total = (uint64_t)si.totalram * si.mem_unit;
		*avail = (uint64_t)si.freeram * si.mem_unit;
	}
}

static int ctl_info(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	char host[MUX_MAX_HOST + 1] = "";
	struct utsname u;
	struct timespec ts;
	uint64_t total, avail;
	uint8_t n4[4], pid1 = a->pid1 ? 1 : 0;
	int rc = ctl_no_arg(req);

	if (rc != MUX_OK)
		return rc;
	gethostname(host, sizeof(host) - 1);
	if (uname(&u) < 0)
		u.release[0] = 0;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	ctl_meminfo(&total, &avail);
	put_be32(n4, chan_count(a, c)); /* this stream's, like LIST */
	if (mux_put_tlv(body, MUX_INFO_HOSTNAME, host, strlen(host)) ||
	    mux_put_tlv(body, MUX_INFO_KERNEL, u.release, strlen(u.release)) ||
	    mux_put_tlv_u64(body, MUX_INFO_UPTIME,
			    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) ||
	    mux_put_tlv_u64(body, MUX_INFO_MEMTOTAL, total) ||
	    mux_put_tlv_u64(body, MUX_INFO_MEMFREE, avail) ||
	    mux_put_tlv(body, MUX_INFO_CHANNELS, n4, sizeof(n4)) ||
	    mux_put_tlv(body, MUX_INFO_AGENT, AGENT_SOFTWARE, strlen(AGENT_SOFTWARE)) ||
	    mux_put_tlv(body, MUX_INFO_PID1, &pid1, 1))
		return MUX_E_LIMIT;
	return MUX_OK;
}

static int ctl_hostname(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	struct mux_str name;
	int rc = mux_decode_ctl_hostname(req->arg, req->arglen, &name);

	if (rc != MUX_OK)
		return rc;
	return sethostname(name.p, name.len) < 0 ? ctl_errno(errno) : MUX_OK;
}

/*
 * Host-provided randomness: credited to the kernel's pool when we may
 * (root), otherwise mixed in uncredited through a write.
 */
static int ctl_entropy(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	union {
		struct rand_pool_info info;
		uint8_t raw[sizeof(struct rand_pool_info) + MUX_MAX_ENTROPY];
	} u;
	int fd, rc = MUX_OK;
	ssize_t n;

	if (req->arglen > MUX_MAX_ENTROPY)
		return MUX_E_LIMIT;
	if (req->arglen == 0)
		return MUX_OK;
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ctl_errno(errno);
	u.info.entropy_count = (int)req->arglen * 8;
	u.info.buf_size = (int)req->arglen;
	memcpy(u.info.buf, req->arg, req->arglen);
	if (geteuid() != 0 || ioctl(fd, RNDADDENTROPY, &u.info) < 0) {
		do
			n = write(fd, req->arg, req->arglen);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)req->arglen)
			rc = n < 0 ? ctl_errno(errno) : MUX_E_UNSUPPORTED;
	} else {
		/* Adding entropy does not reseed a running CRNG (Linux 6.1): without
		 * this, clones of one snapshot read the same /dev/urandom bytes
		 * until the kernel's timed reseed. */
		(void)ioctl(fd, RNDRESEEDCRNG);
	}
	close(fd);
	return rc;
}

static int ctl_time(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	struct timespec ts;
	uint64_t sec;
	uint32_t nsec;
	int rc = mux_decode_ctl_time(req->arg, req->arglen, &sec, &nsec);

	if (rc != MUX_OK)
		return rc;
	if (sec > (uint64_t)INT64_MAX / 2)
		return MUX_E_PROTO;
	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)nsec;
	return clock_settime(CLOCK_REALTIME, &ts) < 0 ? ctl_errno(errno) : MUX_OK;
}

static int ctl_list(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	int rc = ctl_no_arg(req);

	if (rc != MUX_OK)
		return rc;
	if (buf_put_u32(body, chan_count(a, c)))
		return MUX_E_LIMIT;
	for (unsigned i = 0; i < a->nchans; i++) {
		const struct chan *ch = a->chans[i];

		if (ch->conn != c)
			continue;
		if (buf_put_u32(body, ch->id) || buf_put_u8(body, ch->kind) ||
		    buf_put_u8(body, chan_state(ch)) || buf_put_u32(body, (uint32_t)ch->pid))
			return MUX_E_LIMIT;
	}
	return MUX_OK;
}

static int ctl_poweroff(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			struct buf *body)
{
	int rc = ctl_no_arg(req);

	if (rc == MUX_OK)
		agent_request_poweroff(a); /* after this reply is flushed */
	return rc;
}

static int ctl_net_reset(struct agent *a, const struct conn *c, const struct mux_ctl_req *req,
			 struct buf *body)
{
	int rc = ctl_no_arg(req);

	if (rc == MUX_OK)
		buf_put_u32(body, netreset_run());
	return rc;
}

static const struct {
	ctl_fn fn;
	uint8_t whole_vm; /* changes the VM: main stream only */
} ctl_ops[] = {
	[MUX_CTL_INFO] = { ctl_info, 0 },
	[MUX_CTL_HOSTNAME] = { ctl_hostname, 1 },
	[MUX_CTL_ENTROPY] = { ctl_entropy, 1 },
	[MUX_CTL_TIME] = { ctl_time, 1 },
	[MUX_CTL_LIST] = { ctl_list, 0 },
	[MUX_CTL_POWEROFF] = { ctl_poweroff, 1 },
	[MUX_CTL_NET_RESET] = { ctl_net_reset, 1 },
};

void ctl_request(struct agent *a, struct conn *c, const struct mux_ctl_req *req)
{
	static struct buf body;
	int status = MUX_E_UNSUPPORTED;

	if (body.max == 0)
		buf_init(&body, MUX_MAX_PAYLOAD - 8);
	buf_reset(&body);
	if (req->op < sizeof(ctl_ops) / sizeof(ctl_ops[0]) && ctl_ops[req->op].fn != NULL)
		status = ctl_ops[req->op].whole_vm && c->direct
				 ? MUX_E_PERM
				 : ctl_ops[req->op].fn(a, c, req, &body);
	if (status != MUX_OK)
		buf_reset(&body);
	log_debug("%s: ctl %u op %u: %d", c->name, req->id, req->op, status);
	if (mux_put_ctl_resp(&c->out, req->id, status, buf_used(&body) ? buf_ptr(&body) : NULL,
			     buf_used(&body)))
		log_msg("%s: queue full: CTL_RESP %u dropped", c->name, req->id);
}
