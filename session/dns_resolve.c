/*
 * dns_resolve.c - the upstream side of the guest DNS (see dns_resolve.h).
 */
#include "session/dns_resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "session/hearthd.h"
#include "session/loop.h"

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[DNS_RESOLVE_THREADS];
	int nth;
	struct dns_job *todo, *todo_tail, *done;
	unsigned count; /* queued + running + finished, not yet handed back */
	int stop;
	int efd;
	struct sockaddr_storage up;
	socklen_t uplen;
	dns_resolve_done cb;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .efd = -1 };

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof *in4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof *in6;
		return 0;
	}
	return -1;
}

int dns_resolve_upstream(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t errlen)
{
	char host[64];
	if (spec && *spec) {
		const char *colon = strrchr(spec, ':');
		const char *h = spec, *he = colon;
		if (spec[0] == '[') {
			h = spec + 1;
			he = strchr(spec, ']');
			if (!he || he[1] != ':')
				he = NULL;
			else
				colon = he + 1;
		}
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!he || !colon || *end || (size_t)(he - h) >= sizeof host) {
			snprintf(err, errlen, "--dns-upstream: want ADDR:PORT, got %s", spec);
			return -1;
		}
		memcpy(host, h, (size_t)(he - h));
		host[he - h] = 0;
		if (parse_addr(host, (int)port, ss, len) < 0) {
			snprintf(err, errlen, "--dns-upstream: not a numeric address and port: %s",
				 spec);
			return -1;
		}
		return 0;
	}
	/* The host's resolver: the first usable nameserver line. */
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256];
	if (!f) {
		snprintf(err, errlen, "/etc/resolv.conf: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, " nameserver %63s", host) == 1 && parse_addr(host, 53, ss, len) == 0) {
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	snprintf(err, errlen, "no nameserver in /etc/resolv.conf");
	return -1;
}

static int64_t left_ms(const struct dns_job *j)
{
	int64_t l = j->deadline_ms - hd_now_ms();
	return l > 0 ? l : 0;
}

/* Wait for fd to be ready for ev until the job's deadline: 1 ready, 0 not. */
static int wait_fd(int fd, short ev, const struct dns_job *j)
{
	struct pollfd p = { .fd = fd, .events = ev };
	for (;;) {
		int64_t l = left_ms(j);
		if (l == 0)
			return 0;
		int r = poll(&p, 1, (int)l);
		if (r > 0)
			return 1;
		if (r == 0 || errno != EINTR)
			return 0;
	}
}

static int answer_ok(const struct dns_job *j, const uint8_t *m, size_t n)
{
	return dnsmsg_reply_matches(m, n, j->dns_id, &j->q) == 0;
}

/* UDP: a fresh connected socket per query (its own random port); answers
 * that do not match the query (id, question) are ignored, not taken. */
static void ask_udp(const struct sockaddr_storage *up, socklen_t uplen, struct dns_job *j)
{
	int fd = socket(up->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)up, uplen) < 0 ||
	    send(fd, j->query, j->qlen, 0) != (ssize_t)j->qlen) {
		close(fd);
		return;
	}
	while (wait_fd(fd, POLLIN, j)) {
		ssize_t n = recv(fd, j->answer, sizeof j->answer, 0);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break; /* e.g. ECONNREFUSED */
		if (n > 0 && answer_ok(j, j->answer, (size_t)n)) {
			j->alen = (size_t)n;
			break;
		}
	}
	close(fd);
}

static int io_all(int fd, uint8_t *p, size_t n, int rd, const struct dns_job *j)
{
	while (n) {
		if (!wait_fd(fd, rd ? POLLIN : POLLOUT, j))
			return -1;
		ssize_t k = rd ? read(fd, p, n) : send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void ask_tcp(const struct sockaddr_storage *up, socklen_t uplen, struct dns_job *j)
{
	uint8_t len[2] = { (uint8_t)(j->qlen >> 8), (uint8_t)j->qlen };
	int fd = socket(up->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	j->alen = 0;
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)up, uplen) < 0 && errno != EINPROGRESS)
		goto out;
	if (io_all(fd, len, 2, 0, j) < 0 || io_all(fd, j->query, j->qlen, 0, j) < 0 ||
	    io_all(fd, len, 2, 1, j) < 0)
		goto out;
	size_t n = ((size_t)len[0] << 8) | len[1];
	if (n == 0 || io_all(fd, j->answer, n, 1, j) < 0)
		goto out;
	if (answer_ok(j, j->answer, n))
		j->alen = n;
out:
	close(fd);
}

void dns_resolve_now(const struct sockaddr_storage *up, socklen_t uplen, struct dns_job *j)
{
	struct dnsmsg_hdr h;
	j->alen = 0;
	if (left_ms(j) == 0)
		return;
	ask_udp(up, uplen, j);
	/* Truncated: a TCP client gets the whole answer (RFC 7766). */
	if (j->tcp && j->alen && dnsmsg_header(j->answer, j->alen, &h) == 0 &&
	    (h.flags & DNSMSG_F_TC))
		ask_tcp(up, uplen, j);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&R.mu);
	for (;;) {
		while (!R.stop && !R.todo)
			pthread_cond_wait(&R.cv, &R.mu);
		if (R.stop)
			break;
		struct dns_job *j = R.todo;
		R.todo = j->next;
		if (!R.todo)
			R.todo_tail = NULL;
		pthread_mutex_unlock(&R.mu);
		dns_resolve_now(&R.up, R.uplen, j);
		pthread_mutex_lock(&R.mu);
		j->next = R.done;
		R.done = j;
		uint64_t one = 1;
		if (write(R.efd, &one, sizeof one) < 0) {
			/* the counter cannot overflow at this rate: nothing to do */
		}
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

static void drain(void *ctx)
{
	uint64_t v;
	(void)ctx;
	if (read(R.efd, &v, sizeof v) < 0) {
		/* EAGAIN: a previous drain took them */
	}
	pthread_mutex_lock(&R.mu);
	struct dns_job *d = R.done;
	R.done = NULL;
	pthread_mutex_unlock(&R.mu);
	while (d) {
		struct dns_job *n = d->next;
		pthread_mutex_lock(&R.mu);
		R.count--;
		pthread_mutex_unlock(&R.mu);
		R.cb(d);
		d = n;
	}
}

int dns_resolve_start(struct loop *l, const struct sockaddr_storage *up, socklen_t uplen,
		      dns_resolve_done done, char *err, size_t errlen)
{
	R.up = *up;
	R.uplen = uplen;
	R.cb = done;
	R.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (R.efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	if (loop_watch(l, R.efd, drain, NULL, err, errlen) < 0)
		return -1;
	for (; R.nth < DNS_RESOLVE_THREADS; R.nth++)
		if (pthread_create(&R.th[R.nth], NULL, worker, NULL) != 0) {
			snprintf(err, errlen, "cannot start the DNS threads");
			return -1;
		}
	return 0;
}

int dns_resolve_submit(struct dns_job *j)
{
	pthread_mutex_lock(&R.mu);
	if (R.nth == 0 || R.stop || R.count >= DNS_RESOLVE_QUEUE) {
		pthread_mutex_unlock(&R.mu);
		return -1;
	}
	R.count++;
	j->next = NULL;
	if (R.todo_tail)
		R.todo_tail->next = j;
	else
		R.todo = j;
	R.todo_tail = j;
	pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
	return 0;
}

void dns_resolve_stop(void)
{
	pthread_mutex_lock(&R.mu);
	R.stop = 1;
	pthread_cond_broadcast(&R.cv);
	pthread_mutex_unlock(&R.mu);
	for (int i = 0; i < R.nth; i++)
		pthread_join(R.th[i], NULL);
	R.nth = 0;
	while (R.todo) {
		struct dns_job *n = R.todo->next;
		free(R.todo);
		R.todo = n;
	}
	while (R.done) {
		struct dns_job *n = R.done->next;
		free(R.done);
		R.done = n;
	}
}
