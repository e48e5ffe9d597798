/* test_buildlog.c - the build log's line handling and bounds (session/buildlog.c) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/buildlog.h"
#include "test.h"

static char path[64];

static struct buildlog *fresh(void)
{
	char err[128];
	snprintf(path, sizeof path, "/tmp/test_buildlog.%d", (int)getpid());
	unlink(path);
	return buildlog_open(path, err, sizeof err);
}

/* The file's text (malloc'd, NUL-terminated). */
static char *slurp(size_t *n)
{
	struct stat st;
	char *p = NULL;
	int fd = open(path, O_RDONLY);
	*n = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 && (p = malloc((size_t)st.st_size + 1)) &&
	    read(fd, p, (size_t)st.st_size) == st.st_size) {
		p[st.st_size] = '\0';
		*n = (size_t)st.st_size;
	} else {
		free(p);
		p = NULL;
	}
	if (fd >= 0)
		close(fd);
	return p;
}

TEST(lines_split_and_joined)
{
	struct buildlog *l = fresh();
	size_t n;
	CHECK(l != NULL);
	buildlog_line(l, "[%d/%d] RUN %s", 1, 2, "echo hi");
	buildlog_output(l, "one\ntw", 6);
	buildlog_output(l, "o\nthr", 5);
	buildlog_output_end(l); /* a partial last line is written */
	buildlog_output(l, "a\r\nb\tc\x1b[0m\n", 12); /* CRLF, a tab kept, an escape dropped */
	buildlog_close(l);
	char *t = slurp(&n);
	CHECK(t != NULL);
	CHECK_STR(t, "[1/2] RUN echo hi\none\ntwo\nthr\na\nb\tc[0m\n");
	free(t);
	unlink(path);
}

TEST(progress_redrawn_with_cr)
{
	struct buildlog *l = fresh();
	size_t n;
	CHECK(l != NULL);
	buildlog_output(l, "Reading 5%\rReading 50%", 22);
	buildlog_output(l, "\rReading 100%\ndone\n", 19);
	buildlog_close(l);
	char *t = slurp(&n);
	CHECK(t != NULL);
	CHECK_STR(t, "Reading 100%\ndone\n");
	free(t);
	unlink(path);
}

TEST(long_line_cut)
{
	struct buildlog *l = fresh();
	size_t n;
	CHECK(l != NULL);
	char *big = malloc(3 * BUILDLOG_LINE);
	memset(big, 'x', 3 * BUILDLOG_LINE);
	buildlog_output(l, big, 3 * BUILDLOG_LINE);
	buildlog_output(l, "\nnext\n", 6);
	buildlog_close(l);
	char *t = slurp(&n);
	CHECK(t != NULL);
	/* BUILDLOG_LINE bytes, "...", newline; the rest of that line dropped. */
	CHECK_EQ(n, (size_t)BUILDLOG_LINE + 4 + 5);
	CHECK(!memcmp(t + BUILDLOG_LINE, "...\nnext\n", 9));
	free(t);
	free(big);
	unlink(path);
}

TEST(total_bounded)
{
	struct buildlog *l = fresh();
	size_t n;
	CHECK(l != NULL);
	char line[1024];
	memset(line, 'y', sizeof line - 1);
	line[sizeof line - 1] = '\n';
	for (unsigned i = 0; i < BUILDLOG_MAX / sizeof line + 100; i++)
		buildlog_output(l, line, sizeof line);
	buildlog_line(l, "after the cap");
	buildlog_close(l);
	char *t = slurp(&n);
	CHECK(t != NULL);
	CHECK(n <= BUILDLOG_MAX + 64);
	CHECK(strstr(t, "[log truncated") != NULL);
	CHECK(strstr(t, "after the cap") == NULL);
	free(t);
	unlink(path);
}

TEST_MAIN(T(lines_split_and_joined), T(progress_redrawn_with_cr), T(long_line_cut),
	  T(total_bounded))
