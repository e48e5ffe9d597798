/*
 * netreset.c - CTL NET_RESET (PROTOCOL.md 1.5): after a restore the VM's
 * network link is new (hearthd makes a fresh one on run and resume), so
 * connections the guest had cannot go on. Abort each TCP connection that is
 * not on loopback, the way the service cuts them, so applications see
 * ECONNRESET at once and reconnect instead of waiting on a dead peer; and
 * drop the gateway's neighbour entry so it is learnt again.
 *
 * A connection is aborted through a duplicate of its owner's descriptor
 * (pidfd_getfd) with connect(AF_UNSPEC), which is tcp_disconnect(): an RST
 * and ECONNRESET for the owner, then shutdown() so the owner's poll wakes. The guest kernel needs nothing beyond
 * pidfds for it (no sock_diag destroy).
 */
#include "agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR_MAX_CONNS 4096

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static void forget_gateway(void)
{
	struct arpreq r;
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.arp_pa;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&r, 0, sizeof(r));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.2.2", &sin->sin_addr);
	memcpy(r.arp_dev, "eth0", 5);
	ioctl(s, SIOCDARP, &r); /* ENXIO: no entry, nothing to forget */
	close(s);
}

/* Socket inodes of TCP connections whose ends are not loopback (any state
 * but LISTEN and CLOSE), from /proc/net/tcp and tcp6 (IPv4-mapped ones). */
static int v6_loopback(const char *a)
{
	/* ::1, and ::ffff:127.x.y.z as /proc prints them (32-bit words, host order) */
	return !strcmp(a, "00000000000000000000000001000000") ||
	       (!strncmp(a, "0000000000000000FFFF0000", 24) && !strncmp(a + 30, "7F", 2));
}

static unsigned tcp_inodes_in(const char *file, int v6, unsigned long *out, unsigned n,
			      unsigned max)
{
	FILE *f = fopen(file, "re");
	char line[512];

	if (!f)
		return n;
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return n;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		char la[33], ra[33];
		unsigned st;
		unsigned long ino;
		int loop;

		if (sscanf(line, " %*u: %32[0-9A-F]:%*4X %32[0-9A-F]:%*4X %2X %*s %*s %*s %*u %*u %lu",
			   la, ra, &st, &ino) != 4)
			continue;
		if (v6) {
			loop = v6_loopback(la) || v6_loopback(ra);
		} else {
			/* the address's bytes as a host-order word: 127.0.0.1 is 0100007F */
			loop = !strncmp(la + 6, "7F", 2) || !strncmp(ra + 6, "7F", 2);
		}
		if (loop || st == 0x0a || st == 0x07 || !ino)
			continue;
		out[n++] = ino;
	}
	fclose(f);
	return n;
}

static unsigned tcp_inodes(unsigned long *out, unsigned max)
{
	unsigned n = tcp_inodes_in("/proc/net/tcp", 0, out, 0, max);
	return tcp_inodes_in("/proc/net/tcp6", 1, out, n, max);
}

static int wanted(unsigned long ino, unsigned long *set, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == ino) {
			set[i] = 0; /* each connection once */
			return 1;
		}
	return 0;
}

static unsigned abort_in(pid_t pid, unsigned long *set, unsigned n)
{
	char path[64], link[64];
	unsigned done = 0;
	int pidfd = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned long ino;
		char lp[320];
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(lp, sizeof(lp), "%s/%s", path, e->d_name);
		ssize_t l = readlink(lp, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) != 1 || !wanted(ino, set, n))
			continue;
		if (pidfd < 0 && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
			break;
		int dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (dup < 0)
			continue;
		struct sockaddr sa = { .sa_family = AF_UNSPEC };
		if (connect(dup, &sa, sizeof(sa)) == 0)
			done++;
		/* tcp_disconnect leaves the socket open both ways, so poll would
		 * show only POLLERR|POLLHUP and a reader waiting for POLLIN would
		 * sleep on: mark it shut (readable; the read returns ECONNRESET). */
		shutdown(dup, SHUT_RDWR);
		close(dup);
	}
	closedir(d);
	if (pidfd >= 0)
		close(pidfd);
	return done;
}

unsigned netreset_run(void)
{
	static unsigned long set[NR_MAX_CONNS];
	unsigned n, done = 0;

	forget_gateway();
	n = tcp_inodes(set, NR_MAX_CONNS);
	if (n == 0)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && pid != getpid())
			done += abort_in(pid, set, n);
	}
	closedir(d);
	return done;
}
