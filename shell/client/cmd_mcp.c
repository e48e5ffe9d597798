/*
 * cmd_mcp.c - `hearth mcp`: a Model Context Protocol server on stdin/stdout
 * (newline-delimited JSON-RPC 2.0, protocol/jsonrpc.c). Lifecycle
 * (initialize with version negotiation, ping), tools/list and tools/call
 * (mcp_tools.c), notifications/cancelled (the call's child gets SIGTERM,
 * which `hearth exec` passes on to the command in the VM) and progress
 * notifications every second while a call with a progressToken runs. Calls
 * run concurrently, each as a child `hearth` process; nothing blocks the
 * loop but writing our own stdout. Every call ends with one audit line.
 */
#include "shell/client/client.h"
#include "shell/client/mcp.h"
#include "protocol/jsonrpc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MCP_JOBS_MAX 32          /* tool calls running at once */
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
	long long started_ms, next_progress_ms, kill_at_ms;
	int cancelled;
};

struct mcp {
	struct mcp_opts o;
	char self[PATH_MAX];
	char client[160];        /* clientInfo name/version, for the audit */
	FILE *audit;
	struct job jobs[MCP_JOBS_MAX];
	char *line;              /* stdin bytes not yet a whole line */
	size_t line_len, line_cap;
	int skipping;            /* a line over JSONRPC_MAX: drop until its newline */
	int stdin_done;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One message to the client: the line and its newline. Frees line. */
static void send_line(char *line)
{
	if (!line)
		return;
	size_t n = strlen(line);
	line[n] = '\0';
	if (write_all(STDOUT_FILENO, line, n) < 0 || write_all(STDOUT_FILENO, "\n", 1) < 0) {
		free(line);
		exit(0); /* the client is gone */
	}
	free(line);
}

/* An audit value: printable, no quotes or backslashes, bounded. */
static void audit_clean(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; in && *in && o + 1 < cap; in++)
		out[o++] = ((unsigned char)*in < 0x20 || *in == '"' || *in == '\\' || *in == 0x7f) ? '?' : *in;
	out[o] = '\0';
}

static void audit(struct mcp *m, const char *tool, const char *vm, const char *what, int status,
		  const char *outcome)
{
	char t[32], c[160], v[128], w[200], tl[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
	audit_clean(c, sizeof c, m->client);
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
static int job_start(struct mcp *m, struct job *j, char *err, size_t errlen)
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
static void job_finish(struct mcp *m, struct job *j)
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
		audit(m, j->tool->name, j->spec.vm, j->spec.what, status, "cancelled");
	} else {
		json_object *r = j->tool->finish(&j->spec, status, &j->out, &j->err);
		json_object *ie;
		int is_error = json_object_object_get_ex(r, "isError", &ie) && json_object_get_boolean(ie);
		audit(m, j->tool->name, j->spec.vm, j->spec.what, status, is_error ? "error" : "ok");
		send_line(jsonrpc_result(j->id, r));
	}
	job_free(j);
}

/* ---- requests ---- */

static json_object *tool_error(struct mcp *m, const char *tool, const char *vm, const char *msg)
{
	audit(m, tool, vm, "", -1, "refused");
	return mcp_text_result(msg, strlen(msg), 1);
}

static void tools_call(struct mcp *m, json_object *id, json_object *params)
{
	json_object *v, *args = NULL, *meta, *tok = NULL;
	const char *name;
	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "name", &v) || !json_object_is_type(v, json_type_string)) {
		send_line(jsonrpc_error(id, JSONRPC_INVALID_PARAMS, "tools/call needs a \"name\"", NULL));
		return;
	}
	name = json_object_get_string(v);
	const struct mcp_tool *t = mcp_tool_find(name);
	if (!t) {
		char msg[200];
		snprintf(msg, sizeof msg, "unknown tool: %.100s", name);
		send_line(jsonrpc_error(id, JSONRPC_INVALID_PARAMS, msg, NULL));
		return;
	}
	if (json_object_object_get_ex(params, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object) && !json_object_is_type(args, json_type_null)) {
		send_line(jsonrpc_result(id, tool_error(m, name, "", "'arguments' must be an object")));
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
		send_line(jsonrpc_result(id, tool_error(m, name, "", "too many calls running at once")));
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
		send_line(jsonrpc_result(id, tool_error(m, name, vm, err)));
		return;
	}
	j->used = 1;
	j->id = json_object_get(id);
	j->progress = tok ? json_object_get(tok) : NULL;
}

static void initialize(struct mcp *m, json_object *id, json_object *params)
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
		snprintf(m->client, sizeof m->client, "%.80s/%.40s",
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
	send_line(jsonrpc_result(id, r));
}

static void tools_list(json_object *id)
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
	send_line(jsonrpc_result(id, r));
}

static void cancelled(struct mcp *m, json_object *params)
{
	json_object *rid;
	if (!params || !json_object_object_get_ex(params, "requestId", &rid))
		return;
	for (int i = 0; i < MCP_JOBS_MAX; i++) {
		struct job *j = &m->jobs[i];
		if (!j->used || j->cancelled || !json_object_equal(j->id, rid))
			continue;
		j->cancelled = 1; /* no answer (MCP: the request is abandoned) */
		kill(j->pid, SIGTERM);
		j->kill_at_ms = now_ms() + MCP_KILL_GRACE_MS;
	}
}

static void handle_line(struct mcp *m, const char *p, size_t n)
{
	struct jsonrpc_msg msg;
	int code;
	char err[256];
	if (n == 0 || (n == 1 && p[0] == '\r'))
		return;
	if (jsonrpc_parse(p, n, &msg, &code, err, sizeof err) != 0) {
		send_line(jsonrpc_error(msg.id, code, err, NULL));
		jsonrpc_free(&msg);
		return;
	}
	if (msg.kind == JSONRPC_REQUEST) {
		if (!strcmp(msg.method, "initialize"))
			initialize(m, msg.id, msg.params);
		else if (!strcmp(msg.method, "ping"))
			send_line(jsonrpc_result(msg.id, NULL));
		else if (!strcmp(msg.method, "tools/list"))
			tools_list(msg.id);
		else if (!strcmp(msg.method, "tools/call"))
			tools_call(m, msg.id, msg.params);
		else
			send_line(jsonrpc_error(msg.id, JSONRPC_METHOD_NOT_FOUND, "method not found",
						NULL));
	} else if (msg.kind == JSONRPC_NOTIFICATION) {
		if (!strcmp(msg.method, "notifications/cancelled"))
			cancelled(m, msg.params);
		/* notifications/initialized and others need nothing */
	}
	/* responses: we send no requests, so there are none to match */
	jsonrpc_free(&msg);
}

/* Whole lines out of the stdin buffer. */
static void read_stdin(struct mcp *m)
{
	char tmp[65536];
	ssize_t n = read(STDIN_FILENO, tmp, sizeof tmp);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		m->stdin_done = 1;
		if (m->line_len && !m->skipping)
			handle_line(m, m->line, m->line_len);
		m->line_len = 0;
		return;
	}
	for (ssize_t i = 0; i < n;) {
		char *nl = memchr(tmp + i, '\n', (size_t)(n - i));
		size_t take = nl ? (size_t)(nl - (tmp + i)) : (size_t)(n - i);
		if (!m->skipping) {
			if (m->line_len + take > JSONRPC_MAX + 1) {
				m->skipping = 1;
				m->line_len = 0;
				send_line(jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, "message too long",
							NULL));
			} else {
				if (m->line_len + take + 1 > m->line_cap) {
					size_t cap = (m->line_len + take + 1) * 2;
					char *p = realloc(m->line, cap);
					if (!p)
						exit(1);
					m->line = p;
					m->line_cap = cap;
				}
				memcpy(m->line + m->line_len, tmp + i, take);
				m->line_len += take;
			}
		}
		i += (ssize_t)take;
		if (nl) {
			if (!m->skipping)
				handle_line(m, m->line, m->line_len);
			m->skipping = 0;
			m->line_len = 0;
			i++;
		}
	}
}

static void progress_tick(struct mcp *m, long long now)
{
	for (int i = 0; i < MCP_JOBS_MAX; i++) {
		struct job *j = &m->jobs[i];
		if (!j->used)
			continue;
		if (j->kill_at_ms && now >= j->kill_at_ms) {
			kill(j->pid, SIGKILL);
			j->kill_at_ms = 0;
		}
		if (!j->progress || j->cancelled || now < j->next_progress_ms)
			continue;
		j->next_progress_ms = now + MCP_PROGRESS_MS;
		json_object *p = json_object_new_object();
		char msg[96];
		long long secs = (now - j->started_ms) / 1000;
		snprintf(msg, sizeof msg, "%s running for %llds", j->tool->name, secs);
		json_object_object_add(p, "progressToken", json_object_get(j->progress));
		json_object_object_add(p, "progress", json_object_new_int64(secs));
		json_object_object_add(p, "message", json_object_new_string(msg));
		send_line(jsonrpc_notification("notifications/progress", p));
	}
}

static int loop(struct mcp *m)
{
	for (;;) {
		struct pollfd p[1 + 3 * MCP_JOBS_MAX];
		struct job *who[1 + 3 * MCP_JOBS_MAX];
		int np = 0, running = 0;
		if (!m->stdin_done) {
			p[np] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
			who[np++] = NULL;
		}
		for (int i = 0; i < MCP_JOBS_MAX; i++) {
			struct job *j = &m->jobs[i];
			if (!j->used)
				continue;
			running++;
			if (j->fd_in >= 0) {
				p[np] = (struct pollfd){ j->fd_in, POLLOUT, 0 };
				who[np++] = j;
			}
			if (j->fd_out >= 0) {
				p[np] = (struct pollfd){ j->fd_out, POLLIN, 0 };
				who[np++] = j;
			}
			if (j->fd_err >= 0) {
				p[np] = (struct pollfd){ j->fd_err, POLLIN, 0 };
				who[np++] = j;
			}
		}
		if (m->stdin_done && running == 0)
			return 0;
		if (poll(p, (nfds_t)np, running ? 250 : -1) < 0 && errno != EINTR)
			return 1;
		for (int k = 0; k < np; k++) {
			if (!p[k].revents)
				continue;
			struct job *j = who[k];
			if (!j) {
				read_stdin(m);
				continue;
			}
			if (!j->used)
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
		if (m->stdin_done) {
			/* the client left: its calls are abandoned (stop them) */
			for (int i = 0; i < MCP_JOBS_MAX; i++)
				if (m->jobs[i].used && !m->jobs[i].cancelled) {
					m->jobs[i].cancelled = 1;
					kill(m->jobs[i].pid, SIGTERM);
					m->jobs[i].kill_at_ms = now_ms() + MCP_KILL_GRACE_MS;
				}
		}
	}
}

enum { O_AUDIT = 1, O_MAXOUT, O_API, O_CACERT, O_CONNECT, O_HELP };

#define MCP_USAGE "mcp [--api URL] [--cacert FILE] [--connect-to HOST:PORT] " \
		  "[--audit-log FILE] [--max-output BYTES]"

int cmd_mcp(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "audit-log", required_argument, NULL, O_AUDIT },
		{ "max-output", required_argument, NULL, O_MAXOUT },
		{ "api", required_argument, NULL, O_API },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "connect-to", required_argument, NULL, O_CONNECT },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	static struct mcp m;
	memset(&m, 0, sizeof m);
	m.o.max_output = MCP_OUTPUT_DEFAULT;
	m.audit = stderr;
	snprintf(m.client, sizeof m.client, "?");
	const char *audit_path = NULL;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case O_AUDIT: audit_path = optarg; break;
		case O_API: m.o.api = optarg; break;
		case O_CACERT: m.o.cacert = optarg; break;
		case O_CONNECT: m.o.connect_to = optarg; break;
		case O_MAXOUT:
			errno = 0;
			m.o.max_output = strtoul(optarg, &end, 10);
			if (errno || *end || m.o.max_output < 1 || m.o.max_output > (16u << 20)) {
				fprintf(stderr, "hearth mcp: --max-output wants 1..16777216 bytes\n");
				return 2;
			}
			break;
		case O_HELP:
			printf("usage: hearth %s\n", MCP_USAGE);
			return 0;
		default:
			fprintf(stderr, "hearth mcp: bad option '%s'\nusage: hearth %s\n",
				argv[optind - 1], MCP_USAGE);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hearth mcp: takes no arguments\nusage: hearth %s\n", MCP_USAGE);
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", m.self, sizeof m.self - 1);
	if (n <= 0) {
		fprintf(stderr, "hearth mcp: cannot find my own program: %s\n", strerror(errno));
		return 1;
	}
	m.self[n] = '\0';
	if (audit_path && !(m.audit = fopen(audit_path, "ae"))) {
		fprintf(stderr, "hearth mcp: %s: %s\n", audit_path, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = loop(&m);
	for (int i = 0; i < MCP_JOBS_MAX; i++)
		if (m.jobs[i].used) {
			kill(m.jobs[i].pid, SIGKILL);
			job_finish(&m, &m.jobs[i]);
		}
	free(m.line);
	if (m.audit != stderr)
		fclose(m.audit);
	return rc;
}
