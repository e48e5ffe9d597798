/*
 * writeall.h - the guest test apps' blocking write of a whole buffer
 * (guestapp.c, guesttls.c: each a single-file static binary).
 */
#ifndef HEARTH_GUESTAPP_WRITEALL_H
#define HEARTH_GUESTAPP_WRITEALL_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* 0, or -1 when the fd failed before all n bytes went. */
static inline int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

#endif
