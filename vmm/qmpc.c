/* qmpc.c - blocking QMP client with deadlines (I/O around vmm/qmp.c). */
#include "vmm/qmpc.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/fdio.h"

void qmpc_init(struct qmpc *q, int fd)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	qmp_reader_init(&q->rd);
}

void qmpc_clear_events(struct qmpc *q)
{
	for (unsigned i = 0; i < q->nevents; i++)
		qmp_msg_free(&q->events[i]);
	q->nevents = 0;
}

void qmpc_close(struct qmpc *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	qmpc_clear_events(q);
	qmp_reader_free(&q->rd);
}

static void keep_event(struct qmpc *q, struct qmp_msg *m)
{
	if (q->nevents == QMPC_MAX_EVENTS) {
		/* Oldest first out: only recent events matter to the engine. */
		qmp_msg_free(&q->events[0]);
		memmove(&q->events[0], &q->events[1], sizeof(q->events[0]) * (QMPC_MAX_EVENTS - 1));
		q->nevents--;
	}
	q->events[q->nevents++] = *m;
	memset(m, 0, sizeof(*m));
}

/* Next message from QEMU. 0 ok, -1 error (err filled). */
static int next_msg(struct qmpc *q, int64_t deadline, struct qmp_msg *m, char *err, size_t errlen)
{
	if (q->dead) {
		snprintf(err, errlen, "QMP connection closed");
		return -1;
	}
	for (;;) {
		while (q->in_off < q->in_len) {
			const char *line;
			size_t len, used;
			int rc = qmp_reader_feed(&q->rd, q->in + q->in_off, q->in_len - q->in_off, &used,
						 &line, &len);
			q->in_off += used;
			if (rc == QMP_AGAIN)
				break;
			if (rc < 0) {
				q->dead = 1;
				snprintf(err, errlen, "%s", qmp_strerror(rc));
				return -1;
			}
			rc = qmp_parse(line, len, m);
			if (rc < 0) {
				q->dead = 1;
				snprintf(err, errlen, "%s", qmp_strerror(rc));
				return -1;
			}
			return 0;
		}
		q->in_off = q->in_len = 0;
		ssize_t r = read(q->fd, q->in, sizeof(q->in));
		if (r > 0) {
			q->in_len = (size_t)r;
			continue;
		}
		if (r == 0) {
			q->dead = 1;
			snprintf(err, errlen, "QMP connection closed (QEMU exited)");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			q->dead = 1;
			snprintf(err, errlen, "QMP read: %s", strerror(errno));
			return -1;
		}
		int left = clock_left(deadline);
		if (left <= 0) {
			snprintf(err, errlen, "timed out waiting for QEMU (QMP)");
			return -1;
		}
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		poll(&p, 1, left);
	}
}

int qmpc_handshake(struct qmpc *q, int64_t deadline, char *err, size_t errlen)
{
	struct qmp_msg m;
	for (;;) {
		if (next_msg(q, deadline, &m, err, errlen) < 0)
			return -1;
		int kind = m.kind;
		qmp_msg_free(&m);
		if (kind == QMP_GREETING)
			break;
	}
	return qmpc_cmd(q, "qmp_capabilities", NULL, -1, deadline, NULL, err, errlen);
}

static int send_all(struct qmpc *q, const char *s, size_t n, int pass_fd, int64_t deadline,
		    char *err, size_t errlen)
{
	if (fdio_send_all(q->fd, s, n, pass_fd, deadline) == 0)
		return 0;
	if (errno == ETIMEDOUT) {
		snprintf(err, errlen, "timed out writing to QEMU (QMP)");
	} else {
		q->dead = 1;
		snprintf(err, errlen, "QMP write: %s", strerror(errno));
	}
	return -1;
}

int qmpc_cmd(struct qmpc *q, const char *name, struct json_object *args, int pass_fd,
	     int64_t deadline, struct json_object **ret, char *err, size_t errlen)
{
	if (ret)
		*ret = NULL;
	if (q->dead) {
		json_object_put(args);
		snprintf(err, errlen, "QMP connection closed (QEMU exited)");
		return -1;
	}
	struct json_object *cmd = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	size_t n;
	const char *s = json_object_to_json_string_length(cmd, JSON_C_TO_STRING_PLAIN, &n);
	char line[8192];
	if (n + 1 >= sizeof(line)) {
		json_object_put(cmd);
		snprintf(err, errlen, "QMP command %s too long", name);
		return -1;
	}
	memcpy(line, s, n);
	line[n++] = '\n';
	json_object_put(cmd);
	if (send_all(q, line, n, pass_fd, deadline, err, errlen) < 0)
		return -1;
	for (;;) {
		struct qmp_msg m;
		if (next_msg(q, deadline, &m, err, errlen) < 0) {
			/* Its reply may still come: skip it then, to stay in step. */
			if (!q->dead)
				q->stale++;
			return -1;
		}
		if ((m.kind == QMP_RETURN || m.kind == QMP_ERROR) && q->stale) {
			q->stale--;
			qmp_msg_free(&m);
			continue;
		}
		switch (m.kind) {
		case QMP_EVENT:
			keep_event(q, &m);
			continue;
		case QMP_RETURN:
			if (ret)
				*ret = json_object_get(m.value);
			qmp_msg_free(&m);
			return 0;
		case QMP_ERROR:
			snprintf(err, errlen, "%s: %s (%s)", name, m.desc, m.cls);
			qmp_msg_free(&m);
			return -1;
		default:
			qmp_msg_free(&m);
			continue;
		}
	}
}

int qmpc_wait_event(struct qmpc *q, const char *name, int64_t deadline,
		    struct json_object **data, char *err, size_t errlen)
{
	if (data)
		*data = NULL;
	for (;;) {
		for (unsigned i = 0; i < q->nevents; i++) {
			if (strcmp(q->events[i].event, name) != 0)
				continue;
			if (data)
				*data = json_object_get(q->events[i].value);
			qmp_msg_free(&q->events[i]);
			memmove(&q->events[i], &q->events[i + 1],
				sizeof(q->events[0]) * (q->nevents - i - 1));
			q->nevents--;
			return 0;
		}
		struct qmp_msg m;
		if (next_msg(q, deadline, &m, err, errlen) < 0)
			return -1;
		if (m.kind == QMP_EVENT)
			keep_event(q, &m);
		else
			qmp_msg_free(&m);
	}
}
