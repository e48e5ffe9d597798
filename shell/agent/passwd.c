/*
 * passwd.c - user and group lookup by reading /etc/passwd and /etc/group
 * directly. The agent is linked statically, where glibc's getpwnam and
 * initgroups would need NSS modules at run time; so parse the files here,
 * with bounded lines and a bounded total size.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PW_LINE_MAX 1024             /* longer lines are skipped */
#define PW_FILE_MAX (4u * 1024 * 1024) /* stop reading after this many bytes */
#define PW_FIELDS 7

/* Called per line; return 1 to stop scanning. */
typedef int (*passwd_line_fn)(char *line, void *arg);

static int passwd_scan(const char *path, passwd_line_fn fn, void *arg)
{
	char chunk[4096], line[PW_LINE_MAX + 1];
	size_t llen = 0, total = 0;
	int fd, skipping = 0, stop = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (!stop && total < PW_FILE_MAX) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		for (ssize_t i = 0; i < n && !stop; i++) {
			char ch = chunk[i];

			if (ch == '\n') {
				line[llen] = 0;
				if (!skipping)
					stop = fn(line, arg);
				llen = 0;
				skipping = 0;
			} else if (llen < PW_LINE_MAX) {
				line[llen++] = ch;
			} else {
				skipping = 1;
			}
		}
	}
	if (!stop && llen > 0 && !skipping) {
		line[llen] = 0;
		stop = fn(line, arg);
	}
	close(fd);
	return stop ? 0 : -ENOENT;
}

/* Split at ':' into at most max fields; returns the field count. */
static int passwd_split(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == ':') {
			*p = 0;
			f[n++] = p + 1;
		}
	}
	return n;
}

static int passwd_num(const char *s, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || *v > 0x7fffffffUL)
		return -1;
	return 0;
}

static int passwd_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

struct pw_query {
	const char *name; /* match by name when set, else by uid */
	uid_t uid;
	struct passwd_ent *out;
};

static int passwd_match(char *line, void *arg)
{
	struct pw_query *q = arg;
	char *f[PW_FIELDS];
	unsigned long uid, gid;

	if (line[0] == '#' || passwd_split(line, f, PW_FIELDS) != PW_FIELDS)
		return 0;
	if (passwd_num(f[2], &uid) || passwd_num(f[3], &gid))
		return 0;
	if (q->name ? strcmp(f[0], q->name) != 0 : (uid_t)uid != q->uid)
		return 0;
	if (passwd_copy(q->out->name, sizeof(q->out->name), f[0]) ||
	    passwd_copy(q->out->home, sizeof(q->out->home), f[5]) ||
	    passwd_copy(q->out->shell, sizeof(q->out->shell), f[6]))
		return 0;
	q->out->uid = (uid_t)uid;
	q->out->gid = (gid_t)gid;
	return 1;
}

int passwd_by_name(const char *path, const char *name, struct passwd_ent *out)
{
	struct pw_query q = { name, 0, out };

	return passwd_scan(path, passwd_match, &q);
}

int passwd_by_uid(const char *path, uid_t uid, struct passwd_ent *out)
{
	struct pw_query q = { NULL, uid, out };

	return passwd_scan(path, passwd_match, &q);
}

struct gr_name_query {
	const char *name;
	gid_t *gid;
};

static int passwd_group_name_line(char *line, void *arg)
{
	struct gr_name_query *q = arg;
	char *f[4];
	unsigned long gid;

	if (line[0] == '#' || passwd_split(line, f, 4) < 3 || passwd_num(f[2], &gid))
		return 0;
	if (strcmp(f[0], q->name) != 0)
		return 0;
	*q->gid = (gid_t)gid;
	return 1;
}

int passwd_group_by_name(const char *path, const char *name, gid_t *gid)
{
	struct gr_name_query q = { name, gid };

	return passwd_scan(path, passwd_group_name_line, &q);
}

int passwd_id(const char *s, unsigned long *v)
{
	return passwd_num(s, v);
}

struct gr_query {
	const char *user;
	gid_t *list;
	int max, n;
};

static void passwd_group_add(struct gr_query *q, gid_t g)
{
	for (int i = 0; i < q->n; i++)
		if (q->list[i] == g)
			return;
	if (q->n < q->max)
		q->list[q->n++] = g;
}

static int passwd_group_line(char *line, void *arg)
{
	struct gr_query *q = arg;
	char *f[4], *m, *save = NULL;
	unsigned long gid;

	if (line[0] == '#' || passwd_split(line, f, 4) != 4 || passwd_num(f[2], &gid))
		return 0;
	for (m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (strcmp(m, q->user) == 0)
			passwd_group_add(q, (gid_t)gid);
	return q->n >= q->max;
}

/* Supplementary groups of user (base first), like getgrouplist. */
int passwd_groups(const char *path, const char *user, gid_t base, gid_t *list, int max)
{
	struct gr_query q = { user, list, max, 0 };

	if (max <= 0)
		return 0;
	passwd_group_add(&q, base);
	passwd_scan(path, passwd_group_line, &q);
	return q.n;
}
