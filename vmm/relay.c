/* relay.c - frame-aligned pass-through of the agent stream to one unix client. */
#include "vmm/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RELAY_OUT_MAX (4u * 1024 * 1024)

static void drop_client(struct relay *r)
{
	if (r->cfd >= 0)
		close(r->cfd);
	r->cfd = -1;
	buf_reset(&r->to_client);
	buf_reset(&r->from_client);
	/* The agent frame in progress is not the new client's business. */
	if (r->ahlen || r->aleft)
		r->adrop = 1;
}

int relay_open(struct relay *r, const char *path, int agent_fd, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cfd = -1;
	r->afd = agent_fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	snprintf(r->path, sizeof(r->path), "%s", path);
	unlink(path);
	r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(r->lfd, 4) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		if (r->lfd >= 0)
			close(r->lfd);
		r->lfd = -1;
		return -1;
	}
	fcntl(agent_fd, F_SETFL, fcntl(agent_fd, F_GETFL) | O_NONBLOCK);
	buf_init(&r->to_client, RELAY_OUT_MAX);
	buf_init(&r->from_client, MUX_HDR_LEN + MUX_MAX_PAYLOAD);
	buf_init(&r->to_agent, RELAY_OUT_MAX);
	return 0;
}

void relay_poll_fds(struct relay *r, struct pollfd *pfd)
{
	pfd[0] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
	/* Read the agent only while there is room to pass a whole frame on. */
	short ae = 0;
	if (buf_room(&r->to_client) >= MUX_HDR_LEN + MUX_MAX_PAYLOAD)
		ae |= POLLIN;
	if (buf_used(&r->to_agent))
		ae |= POLLOUT;
	pfd[1] = (struct pollfd){ .fd = r->agent_eof ? -1 : r->afd, .events = ae };
	short ce = 0;
	if (r->cfd >= 0) {
		if (buf_room(&r->to_agent) >= MUX_HDR_LEN + MUX_MAX_PAYLOAD)
			ce |= POLLIN;
		if (buf_used(&r->to_client))
			ce |= POLLOUT;
	}
	pfd[2] = (struct pollfd){ .fd = r->cfd, .events = ce };
}

/* Split agent bytes into frames; pass whole frames to the client or drop them. */
static void from_agent(struct relay *r, const uint8_t *p, size_t n)
{
	while (n) {
		if (r->aleft == 0 && r->ahlen < MUX_HDR_LEN) {
			size_t k = MUX_HDR_LEN - r->ahlen < n ? MUX_HDR_LEN - r->ahlen : n;
			memcpy(r->ahdr + r->ahlen, p, k);
			r->ahlen += k, p += k, n -= k;
			if (r->ahlen < MUX_HDR_LEN)
				return;
			r->aleft = get_be32(r->ahdr + 8);
			r->adrop = r->cfd < 0;
			if (!r->adrop)
				buf_put(&r->to_client, r->ahdr, MUX_HDR_LEN);
			r->ahlen = 0;
			if (r->aleft == 0) {
				r->adrop = 0;
				continue;
			}
		}
		size_t k = r->aleft < n ? (size_t)r->aleft : n;
		if (!r->adrop)
			buf_put(&r->to_client, p, k);
		r->aleft -= k, p += k, n -= k;
		if (r->aleft == 0)
			r->adrop = 0;
	}
}

/* Move whole client frames into to_agent; -1 on a header the agent would refuse. */
static int frames_from_client(struct relay *r)
{
	for (;;) {
		size_t have = buf_used(&r->from_client);
		if (have < MUX_HDR_LEN)
			return 0;
		struct mux_hdr h;
		if (mux_hdr_decode(buf_ptr(&r->from_client), &h) < 0)
			return -1;
		size_t whole = MUX_HDR_LEN + (size_t)h.length;
		if (have < whole)
			return 0;
		if (buf_put(&r->to_agent, buf_ptr(&r->from_client), whole) != BUF_OK)
			return 0; /* no room yet: POLLIN is off until to_agent drains */
		buf_consume(&r->from_client, whole);
	}
}

static int flush(int fd, struct buf *b)
{
	while (buf_used(b)) {
		ssize_t w = send(fd, buf_ptr(b), buf_used(b), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			buf_consume(b, (size_t)w);
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	buf_reset(b);
	return 0;
}

int relay_handle(struct relay *r, const struct pollfd *pfd)
{
	uint8_t tmp[65536];
	if (pfd[0].revents & POLLIN) {
		int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c >= 0) {
			drop_client(r);
			r->cfd = c;
		}
		return 0; /* fds changed: poll again before using pfd[2] */
	}
	if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = recv(r->afd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n > 0)
			from_agent(r, tmp, (size_t)n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			r->agent_eof = 1;
	}
	if ((pfd[1].revents & POLLOUT) && flush(r->afd, &r->to_agent) < 0)
		r->agent_eof = 1;
	if (r->cfd >= 0 && pfd[2].fd == r->cfd) {
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t *dst = buf_reserve(&r->from_client, sizeof(tmp));
			size_t room = dst ? sizeof(tmp) : 0;
			if (!dst) {
				room = buf_room(&r->from_client);
				dst = room ? buf_reserve(&r->from_client, room) : NULL;
			}
			ssize_t n = dst ? recv(r->cfd, dst, room, MSG_DONTWAIT) : -1;
			if (n > 0) {
				buf_commit(&r->from_client, (size_t)n);
				if (frames_from_client(r) < 0)
					drop_client(r);
			} else if (n == 0 || !dst || (errno != EAGAIN && errno != EINTR)) {
				drop_client(r);
			}
		}
		if (r->cfd >= 0 && (pfd[2].revents & POLLOUT) && flush(r->cfd, &r->to_client) < 0)
			drop_client(r);
	}
	if (r->cfd >= 0 && buf_used(&r->to_client))
		flush(r->cfd, &r->to_client);
	/* Whole frames held back while to_agent was full move on now. */
	if (r->cfd >= 0 && buf_used(&r->from_client) && frames_from_client(r) < 0)
		drop_client(r);
	if (buf_used(&r->to_agent) && flush(r->afd, &r->to_agent) < 0)
		r->agent_eof = 1;
	return r->agent_eof ? -1 : 0;
}

void relay_close(struct relay *r)
{
	if (r->cfd >= 0)
		close(r->cfd);
	r->cfd = -1;
	if (r->lfd >= 0) {
		close(r->lfd);
		unlink(r->path);
	}
	r->lfd = -1;
	buf_free(&r->to_client);
	buf_free(&r->from_client);
	buf_free(&r->to_agent);
}
