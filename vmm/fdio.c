/* fdio.c - see fdio.h. */
#include "vmm/fdio.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "vmm/clock.h"

static ssize_t fdio_send_fd(int fd, const void *p, size_t n, int pass_fd)
{
	struct iovec iov = { (void *)p, n };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct msghdr mh;
	struct cmsghdr *ch;

	memset(&c, 0, sizeof(c));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = c.b;
	mh.msg_controllen = sizeof(c.b);
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &pass_fd, sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int fdio_send_all(int fd, const void *p, size_t n, int pass_fd, int64_t deadline)
{
	const char *s = p;
	size_t off = 0;

	while (off < n) {
		ssize_t w;

		if (pass_fd >= 0) {
			w = fdio_send_fd(fd, s + off, n - off, pass_fd);
			if (w > 0)
				pass_fd = -1; /* the fd travels with the first byte only */
		} else {
			w = send(fd, s + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -1;
		int left = clock_left(deadline);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		poll(&pf, 1, left);
	}
	return 0;
}
