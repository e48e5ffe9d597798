/* fdio.h - blocking-with-deadline writes on non-blocking sockets. */
#ifndef HEARTH_FDIO_H
#define HEARTH_FDIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Send all n bytes on the stream socket fd before the absolute deadline
 * (vmm/clock.h). When pass_fd >= 0 it travels (SCM_RIGHTS) with the first
 * byte. Returns 0, or -1 with errno: ETIMEDOUT when the deadline passed,
 * else the send error (the caller words the message).
 */
int fdio_send_all(int fd, const void *p, size_t n, int pass_fd, int64_t deadline);

#endif
