/* conlog.c - the rotated console log of one VM (see conlog.h). */
#include "vmm/conlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conlog {
	pthread_t thread;
	int fd;  /* the console stream */
	int out; /* PATH, or -1 after a failed reopen (bytes are then dropped) */
	size_t size, max;
	char path[PATH_MAX], prev[PATH_MAX + 4];
};

static int open_out(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
}

static void rotate(struct conlog *c)
{
	if (c->out >= 0)
		close(c->out);
	rename(c->path, c->prev);
	c->out = open_out(c->path);
	c->size = 0;
}

static void put(struct conlog *c, const char *p, size_t n)
{
	while (n) {
		if (c->size >= c->max)
			rotate(c);
		if (c->out < 0)
			return;
		size_t k = c->max - c->size < n ? c->max - c->size : n;
		ssize_t w = write(c->out, p, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* disk full or gone: drop, keep draining */
		c->size += (size_t)w;
		p += w;
		n -= (size_t)w;
	}
}

static void *run(void *arg)
{
	struct conlog *c = arg;
	char buf[16384];
	for (;;) {
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		put(c, buf, (size_t)r);
	}
	return NULL;
}

int conlog_start(struct conlog **out, int fd, const char *path, size_t max, char *err,
		 size_t errlen)
{
	struct conlog *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c || max == 0 || strlen(path) >= sizeof c->path) {
		snprintf(err, errlen, "console log: %s", c ? "bad path or budget" : "out of memory");
		free(c);
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->max = max;
	snprintf(c->path, sizeof c->path, "%s", path);
	snprintf(c->prev, sizeof c->prev, "%s.1", path);
	unlink(c->prev);
	c->out = open_out(path);
	if (c->out < 0) {
		snprintf(err, errlen, "console log %s: %s", path, strerror(errno));
		goto fail;
	}
	int e = pthread_create(&c->thread, NULL, run, c);
	if (e) {
		snprintf(err, errlen, "console log thread: %s", strerror(e));
		close(c->out);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	close(fd);
	free(c);
	return -1;
}

void conlog_stop(struct conlog *c, int ms)
{
	if (!c)
		return;
	/* QEMU is gone by now: the stream ends once its last bytes are read. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(c->thread, NULL, &ts) != 0) {
		shutdown(c->fd, SHUT_RDWR);
		pthread_join(c->thread, NULL);
	}
	close(c->fd);
	if (c->out >= 0)
		close(c->out);
	free(c);
}
