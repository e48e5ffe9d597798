/*
 * mcp_server.c - the transport-independent part of `hearth mcp`: the
 * JSON-RPC dispatcher (lifecycle with version negotiation, ping, tools/list,
 * tools/call through mcp_tools.c, notifications/cancelled), the tool-call
 * jobs (each a child `hearth` process), progress notifications every second
 * while a call with a progressToken runs, the audit line of every call, and
 * the one poll loop that drives the transport's fds and the jobs' pipes.
 * Transports (cmd_mcp.c: stdio, mcp_http.c: Streamable HTTP) hand it parsed
 * messages and take what it sends through struct mcp_transport.
 */
#include "shell/client/mcp.h"
#include "protocol/jsonrpc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MCP_KILL_GRACE_MS 10000  /* after SIGTERM of a cancelled call: SIGKILL */
#define MCP_PROGRESS_MS 1000
#define MCP_SERVER_VERSION "0.1.0"

static const char *const mcp_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26" };

struct job {
	int used;
	pid_t pid;
	int fd_in, fd_out, fd_err; /* -1 when closed */
	size_t in_off;
	struct mcp_spec spec;
	const struct mcp_tool *tool;
	struct mcp_bytes out, err;
	json_object *id;         /* the request's id (a reference) */
	json_object *progress;   /* its progressToken, or NULL */
	struct mcp_sess *sess;   /* whose call (NULL once the session ended) */
	char client[160];        /* the session's client, for the audit */
	void *to;                /* the transport's stream for the answer; NULL: none */
	long long started_ms, next_progress_ms, kill_at_ms;
	int cancelled;
};

struct mcp_server {
	struct mcp_opts o;
	char self[PATH_MAX];
	FILE *audit;
	const struct mcp_transport *t;
	struct job jobs[MCP_JOBS_MAX];
};

static void out(struct mcp_server *m, void *to, char *line, int last)
{
	if (!line) /* out of memory: an answer lost, the client times out */
		return;
	if (to)
		m->t->send(m->t->ctx, to, line, last);
	else
		free(line);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An audit value: printable, no quotes or backslashes, bounded. */
static void audit_clean(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; in && *in && o + 1 < cap; in++)
		out[o++] = ((unsigned char)*in < 0x20 || *in == '"' || *in == '\\' || *in == 0x7f) ? '?' : *in;
	out[o] = '\0';
}

static void audit(struct mcp_server *m, const char *client, const char *tool, const char *vm, const char *what, int status,
		  const char *outcome)
{
	char t[32], c[160], v[128], w[200], tl[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
	audit_clean(c, sizeof c, client);
	audit_clean(v, sizeof v, vm);
	audit_clean(w, sizeof w, what);
	audit_clean(tl, sizeof tl, tool);
	fprintf(m->audit,
		"hearth mcp audit: time=%s uid=%u client=\"%s\" tool=%s vm=\"%s\" what=\"%s\" "
		"exit=%d outcome=%s\n",
		t, (unsigned)getuid(), c, tl, v, w, status, outcome);
	fflush(m->audit);
}

/* ---- jobs ---- */

static void bytes_init(struct mcp_bytes *b, size_t cap)
{
	b->cap = cap;
	b->len = 0;
	b->total = 0;
	b->p = malloc(cap + 1);
}

static void job_free(struct job *j)
{
	if (j->fd_in >= 0)
		close(j->fd_in);
	if (j->fd_out >= 0)
		close(j->fd_out);
	if (j->fd_err >= 0)
		close(j->fd_err);
	mcp_spec_free(&j->spec);
	free(j->out.p);
	free(j->err.p);
	json_object_put(j->id);
	json_object_put(j->progress);
	memset(j, 0, sizeof *j);
}

/* Start the job's child: 0, or -1 with err. */
static int job_start(struct mcp_server *m, struct job *j, char *err, size_t errlen)
{
	int in[2] = { -1, -1 };
	if (j->spec.in && pipe2(in, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	pid_t pid = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		int *fds[] = { in, out, errp };
		for (int i = 0; i < 3; i++)
			for (int k = 0; k < 2; k++)
				if (fds[i][k] >= 0)
					close(fds[i][k]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(in[0] >= 0 ? in[0] : null, 0);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execv(m->self, j->spec.argv);
		dprintf(2, "hearth: cannot run %s: %s\n", m->self, strerror(errno));
		_exit(255);
	}
	j->pid = pid;
	j->fd_in = -1;
	if (in[0] >= 0) {
		close(in[0]);
		j->fd_in = in[1];
		fcntl(j->fd_in, F_SETFL, O_NONBLOCK);
	}
	close(out[1]);
	close(errp[1]);
	j->fd_out = out[0];
	j->fd_err = errp[0];
	fcntl(j->fd_out, F_SETFL, O_NONBLOCK);
	fcntl(j->fd_err, F_SETFL, O_NONBLOCK);
	bytes_init(&j->out, j->spec.out_cap ? j->spec.out_cap : (1u << 20));
	bytes_init(&j->err, j->spec.err_cap ? j->spec.err_cap : 65536);
	j->started_ms = now_ms();
	j->next_progress_ms = j->started_ms + MCP_PROGRESS_MS;
	return 0;
}

/* Read what a pipe has: keep up to cap, count the rest. */
static void job_read(int *fd, struct mcp_bytes *b)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(*fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		size_t keep = b->cap - b->len < (size_t)n ? b->cap - b->len : (size_t)n;
		if (b->p && keep) {
			memcpy(b->p + b->len, tmp, keep);
			b->len += keep;
		}
		b->total += (uint64_t)n;
	}
}

static void job_write(struct job *j)
{
	while (j->in_off < j->spec.in_len) {
		ssize_t n = write(j->fd_in, j->spec.in + j->in_off, j->spec.in_len - j->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break; /* the child stopped reading: its exit says why */
		j->in_off += (size_t)n;
	}
	close(j->fd_in); /* all written: the command's end of input */
	j->fd_in = -1;
}

/* Both pipes ended: reap, answer (unless cancelled), audit. */
static void job_finish(struct mcp_server *m, struct job *j)
{
	int ws = 0, status;
	if (j->fd_in >= 0) {
		close(j->fd_in);
		j->fd_in = -1;
	}
	while (waitpid(j->pid, &ws, 0) < 0 && errno == EINTR)
		;
	status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (j->out.p)
		j->out.p[j->out.len] = '\0';
	if (j->err.p)
		j->err.p[j->err.len] = '\0';
	if (j->cancelled) {
		audit(m, j->client, j->tool->name, j->spec.vm, j->spec.what, status, "cancelled");
	} else {
		json_object *r = j->tool->finish(&j->spec, status, &j->out, &j->err);
		json_object *ie;
		int is_error = json_object_object_get_ex(r, "isError", &ie) && json_object_get_boolean(ie);
		audit(m, j->client, j->tool->name, j->spec.vm, j->spec.what, status, is_error ? "error" : "ok");
		out(m, j->to, jsonrpc_result(j->id, r), 1);
	}
	job_free(j);
}

/* ---- requests ---- */

static json_object *tool_error(struct mcp_server *m, const struct mcp_sess *s, const char *tool, const char *vm, const char *msg)
{
	audit(m, s->client, tool, vm, "", -1, "refused");
	return mcp_text_result(msg, strlen(msg), 1);
}

static void tools_call(struct mcp_server *m, struct mcp_sess *s, void *to, json_object *id, json_object *params)
{
	json_object *v, *args = NULL, *meta, *tok = NULL;
	const char *name;
	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "name", &v) || !json_object_is_type(v, json_type_string)) {
		out(m, to, jsonrpc_error(id, JSONRPC_INVALID_PARAMS, "tools/call needs a \"name\"", NULL), 1);
		return;
	}
	name = json_object_get_string(v);
	const struct mcp_tool *t = mcp_tool_find(name);
	if (!t) {
		char msg[200];
		snprintf(msg, sizeof msg, "unknown tool: %.100s", name);
		out(m, to, jsonrpc_error(id, JSONRPC_INVALID_PARAMS, msg, NULL), 1);
		return;
	}
	if (json_object_object_get_ex(params, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object) && !json_object_is_type(args, json_type_null)) {
		out(m, to, jsonrpc_result(id, tool_error(m, s, name, "", "'arguments' must be an object")), 1);
		return;
	}
	if (json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_is_type(meta, json_type_object))
		json_object_object_get_ex(meta, "progressToken", &tok);
	struct job *j = NULL;
	for (int i = 0; i < MCP_JOBS_MAX && !j; i++)
		if (!m->jobs[i].used)
			j = &m->jobs[i];
	if (!j) {
		out(m, to, jsonrpc_result(id, tool_error(m, s, name, "", "too many calls running at once")), 1);
		return;
	}
	memset(j, 0, sizeof *j);
	j->fd_in = j->fd_out = j->fd_err = -1;
	j->tool = t;
	char err[512] = "";
	json_object *empty = json_object_new_object();
	mcp_spec_add(&j->spec, "hearth");
	int rc = t->prepare(&m->o, args && json_object_is_type(args, json_type_object) ? args : empty,
			    &j->spec, err, sizeof err);
	json_object_put(empty);
	if (rc != 0 || job_start(m, j, err, sizeof err) != 0) {
		char vm[128];
		snprintf(vm, sizeof vm, "%s", j->spec.vm);
		mcp_spec_free(&j->spec);
		free(j->out.p);
		free(j->err.p);
		memset(j, 0, sizeof *j);
		out(m, to, jsonrpc_result(id, tool_error(m, s, name, vm, err)), 1);
		return;
	}
	j->used = 1;
	j->sess = s;
	snprintf(j->client, sizeof j->client, "%s", s->client);
	j->to = to;
	j->id = json_object_get(id);
	j->progress = tok ? json_object_get(tok) : NULL;
}

static void initialize(struct mcp_server *m, struct mcp_sess *s, void *to, json_object *id, json_object *params)
{
	json_object *v, *info, *r = json_object_new_object(), *caps = json_object_new_object();
	const char *want = NULL, *ver = mcp_versions[0];
	if (params && json_object_object_get_ex(params, "protocolVersion", &v) &&
	    json_object_is_type(v, json_type_string))
		want = json_object_get_string(v);
	for (size_t i = 0; want && i < sizeof mcp_versions / sizeof mcp_versions[0]; i++)
		if (!strcmp(want, mcp_versions[i]))
			ver = mcp_versions[i];
	if (params && json_object_object_get_ex(params, "clientInfo", &info) &&
	    json_object_is_type(info, json_type_object)) {
		json_object *n = NULL, *vv = NULL;
		json_object_object_get_ex(info, "name", &n);
		json_object_object_get_ex(info, "version", &vv);
		snprintf(s->client, sizeof s->client, "%.80s/%.40s",
			 json_object_is_type(n, json_type_string) ? json_object_get_string(n) : "?",
			 json_object_is_type(vv, json_type_string) ? json_object_get_string(vv) : "?");
	}
	json_object *tools = json_object_new_object();
	json_object_object_add(tools, "listChanged", json_object_new_boolean(0));
	json_object_object_add(caps, "tools", tools);
	json_object *si = json_object_new_object();
	json_object_object_add(si, "name", json_object_new_string("hearth"));
	json_object_object_add(si, "version", json_object_new_string(MCP_SERVER_VERSION));
	json_object_object_add(r, "protocolVersion", json_object_new_string(ver));
	json_object_object_add(r, "capabilities", caps);
	json_object_object_add(r, "serverInfo", si);
	json_object_object_add(r, "instructions",
			       json_object_new_string(
				       "hearth runs microVMs. run_microvm gives an id; exec, "
				       "write_file, read_file and list_dir act inside it."));
	out(m, to, jsonrpc_result(id, r), 1);
}

static void tools_list(struct mcp_server *m, void *to, json_object *id)
{
	json_object *r = json_object_new_object(), *arr = json_object_new_array();
	for (size_t i = 0; i < mcp_ntools; i++) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "name", json_object_new_string(mcp_tools[i].name));
		json_object_object_add(t, "title", json_object_new_string(mcp_tools[i].title));
		json_object_object_add(t, "description",
				       json_object_new_string(mcp_tools[i].description));
		json_object_object_add(t, "inputSchema", json_tokener_parse(mcp_tools[i].schema));
		json_object_array_add(arr, t);
	}
	json_object_object_add(r, "tools", arr);
	out(m, to, jsonrpc_result(id, r), 1);
}

/* Stop a call: no answer (MCP: the request is abandoned), its stream ends. */
static void job_cancel(struct mcp_server *m, struct job *j)
{
	if (j->cancelled)
		return;
	j->cancelled = 1;
	kill(j->pid, SIGTERM); /* hearth exec passes it on to the command in the VM */
	j->kill_at_ms = now_ms() + MCP_KILL_GRACE_MS;
	if (j->to)
		m->t->send(m->t->ctx, j->to, NULL, 1);
	j->to = NULL;
}

static void cancelled(struct mcp_server *m, struct mcp_sess *s, json_object *params)
{
	json_object *rid;
	if (!params || !json_object_object_get_ex(params, "requestId", &rid))
		return;
	for (int i = 0; i < MCP_JOBS_MAX; i++) {
		struct job *j = &m->jobs[i];
		/* request ids are the session's own */
		if (j->used && j->sess == s && json_object_equal(j->id, rid))
			job_cancel(m, j);
	}
}

void mcp_abandon(struct mcp_server *m, void *to)
{
	for (int i = 0; i < MCP_JOBS_MAX; i++)
		if (m->jobs[i].used && m->jobs[i].to == to) {
			m->jobs[i].to = NULL; /* nobody to tell */
			job_cancel(m, &m->jobs[i]);
		}
}

void mcp_end_session(struct mcp_server *m, struct mcp_sess *s)
{
	for (int i = 0; i < MCP_JOBS_MAX; i++)
		if (m->jobs[i].used && m->jobs[i].sess == s) {
			job_cancel(m, &m->jobs[i]);
			m->jobs[i].sess = NULL;
		}
}

int mcp_sess_busy(const struct mcp_server *m, const struct mcp_sess *s)
{
	for (int i = 0; i < MCP_JOBS_MAX; i++)
		if (m->jobs[i].used && !m->jobs[i].cancelled && m->jobs[i].sess == s)
			return 1;
	return 0;
}

int mcp_version_known(const char *v)
{
	for (size_t i = 0; v && i < sizeof mcp_versions / sizeof mcp_versions[0]; i++)
		if (!strcmp(v, mcp_versions[i]))
			return 1;
	return 0;
}

/* The dispatch table of requests. */
static void req_initialize(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg)
{
	initialize(m, s, to, msg->id, msg->params);
}

static void req_ping(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg)
{
	out(m, to, jsonrpc_result(msg->id, NULL), 1);
}

static void req_tools_list(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg)
{
	tools_list(m, to, msg->id);
}

static void req_tools_call(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg)
{
	tools_call(m, s, to, msg->id, msg->params);
}

static const struct {
	const char *method;
	void (*fn)(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg);
} requests[] = {
	{ "initialize", req_initialize },
	{ "ping", req_ping },
	{ "tools/list", req_tools_list },
	{ "tools/call", req_tools_call },
};

void mcp_dispatch(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg)
{
	if (msg->kind == JSONRPC_REQUEST) {
		for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
			if (!strcmp(msg->method, requests[i].method)) {
				requests[i].fn(m, s, to, msg);
				return;
			}
		out(m, to, jsonrpc_error(msg->id, JSONRPC_METHOD_NOT_FOUND, "method not found", NULL), 1);
	} else if (msg->kind == JSONRPC_NOTIFICATION) {
		if (!strcmp(msg->method, "notifications/cancelled"))
			cancelled(m, s, msg->params);
		/* notifications/initialized and others need nothing */
	}
	/* responses: we send no requests, so there are none to match */
}

void mcp_handle(struct mcp_server *m, struct mcp_sess *s, void *to, const char *p, size_t n)
{
	struct jsonrpc_msg msg;
	int code;
	char err[256];
	if (jsonrpc_parse(p, n, &msg, &code, err, sizeof err) != 0)
		out(m, to, jsonrpc_error(msg.id, code, err, NULL), 1);
	else
		mcp_dispatch(m, s, to, &msg);
	jsonrpc_free(&msg);
}

static void progress_tick(struct mcp_server *m, long long now)
{
	for (int i = 0; i < MCP_JOBS_MAX; i++) {
		struct job *j = &m->jobs[i];
		if (!j->used)
			continue;
		if (j->kill_at_ms && now >= j->kill_at_ms) {
			kill(j->pid, SIGKILL);
			j->kill_at_ms = 0;
		}
		if (!j->progress || j->cancelled || !j->to || now < j->next_progress_ms)
			continue;
		j->next_progress_ms = now + MCP_PROGRESS_MS;
		json_object *p = json_object_new_object();
		char msg[96];
		long long secs = (now - j->started_ms) / 1000;
		snprintf(msg, sizeof msg, "%s running for %llds", j->tool->name, secs);
		json_object_object_add(p, "progressToken", json_object_get(j->progress));
		json_object_object_add(p, "progress", json_object_new_int64(secs));
		json_object_object_add(p, "message", json_object_new_string(msg));
		out(m, j->to, jsonrpc_notification("notifications/progress", p), 0);
	}
}

static void job_fds(struct job *j, struct pollfd *p, struct job **who, int *np)
{
	int fds[] = { j->fd_in, j->fd_out, j->fd_err };
	short ev[] = { POLLOUT, POLLIN, POLLIN };
	for (int k = 0; k < 3; k++)
		if (fds[k] >= 0) {
			p[*np] = (struct pollfd){ fds[k], ev[k], 0 };
			who[(*np)++] = j;
		}
}

int mcp_run(struct mcp_server *m)
{
	const struct mcp_transport *t = m->t;
	for (;;) {
		struct pollfd p[MCP_TRANSPORT_FDS + 3 * MCP_JOBS_MAX];
		struct job *who[MCP_TRANSPORT_FDS + 3 * MCP_JOBS_MAX];
		int np = 0, running = 0, ended = t->ended(t->ctx);
		if (!ended) {
			np = t->fds(t->ctx, p, MCP_TRANSPORT_FDS);
			for (int k = 0; k < np; k++)
				who[k] = NULL;
		}
		int nt = np;
		for (int i = 0; i < MCP_JOBS_MAX; i++) {
			struct job *j = &m->jobs[i];
			if (!j->used)
				continue;
			running++;
			if (ended) /* the client left: its calls are abandoned (stop them) */
				j->to = NULL, job_cancel(m, j);
			job_fds(j, p, who, &np);
		}
		if (ended && running == 0)
			return 0;
		int tmo = ended ? 250 : t->timeout(t->ctx);
		if (running && (tmo < 0 || tmo > 250))
			tmo = 250;
		if (poll(p, (nfds_t)np, tmo) < 0 && errno != EINTR)
			return 1;
		if (nt && !ended)
			t->ready(t->ctx, p, nt);
		for (int k = nt; k < np; k++) {
			struct job *j = who[k];
			if (!p[k].revents || !j->used)
				continue;
			if (p[k].fd == j->fd_in)
				job_write(j);
			else if (p[k].fd == j->fd_out)
				job_read(&j->fd_out, &j->out);
			else if (p[k].fd == j->fd_err)
				job_read(&j->fd_err, &j->err);
		}
		for (int i = 0; i < MCP_JOBS_MAX; i++) {
			struct job *j = &m->jobs[i];
			if (j->used && j->fd_out < 0 && j->fd_err < 0)
				job_finish(m, j);
		}
		progress_tick(m, now_ms());
	}
}

struct mcp_server *mcp_server_new(const struct mcp_opts *o, FILE *audit,
				  const struct mcp_transport *t, char *err, size_t errlen)
{
	struct mcp_server *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->o = *o;
	m->audit = audit;
	m->t = t;
	ssize_t n = readlink("/proc/self/exe", m->self, sizeof m->self - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find my own program: %s", strerror(errno));
		free(m);
		return NULL;
	}
	m->self[n] = '\0';
	return m;
}

void mcp_server_free(struct mcp_server *m)
{
	if (!m)
		return;
	for (int i = 0; i < MCP_JOBS_MAX; i++)
		if (m->jobs[i].used) {
			m->jobs[i].to = NULL;
			kill(m->jobs[i].pid, SIGKILL);
			job_finish(m, &m->jobs[i]);
		}
	free(m);
}
