/*
 * buildlog.c - the build log (see buildlog.h).
 */
#include "session/buildlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buildlog {
	int fd;
	uint64_t written;
	int truncated;
	size_t have;           /* bytes of the pending output line */
	int cut;               /* the pending line was cut: drop until its newline */
	int cr;                /* a '\r' came last: a progress line is being redrawn */
	char line[BUILDLOG_LINE + 8];
};

struct buildlog *buildlog_open(const char *path, char *err, size_t errlen)
{
	struct buildlog *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(l);
		return NULL;
	}
	return l;
}

static void put(struct buildlog *l, const char *p, size_t n)
{
	if (l->truncated)
		return;
	if (l->written + n > BUILDLOG_MAX) {
		static const char mark[] = "[log truncated: more than 16 MiB]\n";
		l->truncated = 1;
		p = mark;
		n = sizeof mark - 1;
	}
	while (n) {
		ssize_t w = write(l->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk: the build notices elsewhere */
		p += w;
		n -= (size_t)w;
		l->written += (uint64_t)w;
	}
}

void buildlog_line(struct buildlog *l, const char *fmt, ...)
{
	char b[BUILDLOG_LINE + 2];
	va_list ap;
	if (!l)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b, BUILDLOG_LINE, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= BUILDLOG_LINE)
		n = BUILDLOG_LINE - 1;
	b[n++] = '\n';
	put(l, b, (size_t)n);
}

static void flush_line(struct buildlog *l)
{
	if (l->cut)
		memcpy(l->line + l->have, "...", 3), l->have += 3;
	l->line[l->have++] = '\n';
	put(l, l->line, l->have);
	l->have = 0;
}

void buildlog_output(struct buildlog *l, const void *p, size_t n)
{
	const char *s = p;
	if (!l)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		/* "\r" not followed by "\n" redraws the line (progress counters):
		 * only its last state is kept. */
		if (l->cr && c != '\n' && l->cut != 2)
			l->have = 0;
		l->cr = c == '\r';
		if (c == '\n') {
			if (l->cut == 2)
				l->cut = 0; /* the rest of a cut line ends here */
			else
				flush_line(l);
			continue;
		}
		if (l->cut == 2)
			continue;
		if (c != '\t' && (unsigned char)c < 0x20)
			continue; /* control bytes stay out of the file */
		if (l->have >= BUILDLOG_LINE) {
			l->cut = 1;
			flush_line(l);
			l->cut = 2;
			continue;
		}
		l->line[l->have++] = c;
	}
}

void buildlog_output_end(struct buildlog *l)
{
	if (!l)
		return;
	if (l->have)
		flush_line(l);
	l->cut = 0;
}

void buildlog_close(struct buildlog *l)
{
	if (!l)
		return;
	buildlog_output_end(l);
	fsync(l->fd);
	close(l->fd);
	free(l);
}
