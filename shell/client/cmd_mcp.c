/*
 * cmd_mcp.c - `hearth mcp`: its options and the stdio transport
 * (newline-delimited JSON-RPC 2.0 on stdin/stdout); `--http ADDR:PORT` serves
 * the Streamable HTTP transport instead (mcp_http.c). Both hand messages to
 * the shared server core (mcp_server.c). Nothing blocks the loop but writing
 * our own stdout.
 */
#include "shell/client/client.h"
#include "shell/client/mcp.h"
#include "protocol/jsonrpc.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mcp_stdio {
	struct mcp_server *srv;
	struct mcp_sess sess;    /* stdio is one session */
	char *line;              /* stdin bytes not yet a whole line */
	size_t line_len, line_cap;
	int skipping;            /* a line over JSONRPC_MAX: drop until its newline */
	int stdin_done;
};

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
	if (write_all(STDOUT_FILENO, line, n) < 0 || write_all(STDOUT_FILENO, "\n", 1) < 0) {
		free(line);
		exit(0); /* the client is gone */
	}
	free(line);
}

/* The transport's send: every stream is stdout; a cancelled call sends nothing. */
static void stdio_send(void *ctx, void *to, char *line, int last)
{
	send_line(line);
}

static void handle_line(struct mcp_stdio *m, const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '\r'))
		return;
	mcp_handle(m->srv, &m->sess, m, p, n);
}

/* Whole lines out of the stdin buffer. */
static void read_stdin(struct mcp_stdio *m)
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

static int stdio_fds(void *ctx, struct pollfd *p, int max)
{
	p[0] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
	return 1;
}

static void stdio_ready(void *ctx, struct pollfd *p, int n)
{
	if (p[0].revents)
		read_stdin(ctx);
}

static int stdio_timeout(void *ctx)
{
	return -1;
}

static int stdio_ended(void *ctx)
{
	return ((struct mcp_stdio *)ctx)->stdin_done;
}

enum { O_AUDIT = 1, O_MAXOUT, O_API, O_CACERT, O_CONNECT, O_HTTP, O_TOKFILE, O_REMOTE, O_ORIGIN,
       O_HELP };

#define MCP_USAGE "mcp [--api URL] [--cacert FILE] [--connect-to HOST:PORT] " \
		  "[--audit-log FILE] [--max-output BYTES]\n" \
		  "           [--http ADDR:PORT [--http-token-file FILE] [--http-allow-origin ORIGIN]\n" \
		  "            [--http-allow-remote]]"

int cmd_mcp(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "audit-log", required_argument, NULL, O_AUDIT },
		{ "max-output", required_argument, NULL, O_MAXOUT },
		{ "api", required_argument, NULL, O_API },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "connect-to", required_argument, NULL, O_CONNECT },
		{ "http", required_argument, NULL, O_HTTP },
		{ "http-token-file", required_argument, NULL, O_TOKFILE },
		{ "http-allow-origin", required_argument, NULL, O_ORIGIN },
		{ "http-allow-remote", no_argument, NULL, O_REMOTE },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	static struct mcp_stdio m;
	struct mcp_opts o = { .max_output = MCP_OUTPUT_DEFAULT };
	struct mcp_http_opts h = { 0 };
	FILE *audit = stderr;
	memset(&m, 0, sizeof m);
	snprintf(m.sess.client, sizeof m.sess.client, "?");
	const char *audit_path = NULL;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case O_AUDIT: audit_path = optarg; break;
		case O_API: o.api = optarg; break;
		case O_CACERT: o.cacert = optarg; break;
		case O_CONNECT: o.connect_to = optarg; break;
		case O_MAXOUT:
			errno = 0;
			o.max_output = strtoul(optarg, &end, 10);
			if (errno || *end || o.max_output < 1 || o.max_output > (16u << 20)) {
				fprintf(stderr, "hearth mcp: --max-output wants 1..16777216 bytes\n");
				return 2;
			}
			break;
		case O_HTTP: h.listen = optarg; break;
		case O_TOKFILE: h.token_file = optarg; break;
		case O_ORIGIN: h.allow_origin = optarg; break;
		case O_REMOTE: h.allow_remote = 1; break;
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
	if (!h.listen && (h.token_file || h.allow_origin || h.allow_remote)) {
		fprintf(stderr, "hearth mcp: the --http-* options go with --http\n");
		return 2;
	}
	if (audit_path && !(audit = fopen(audit_path, "ae"))) {
		fprintf(stderr, "hearth mcp: %s: %s\n", audit_path, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc;
	if (h.listen) {
		rc = mcp_http_serve(&h, &o, audit);
	} else {
		static const struct mcp_transport t = { NULL, stdio_send, stdio_fds, stdio_ready,
							stdio_timeout, stdio_ended };
		struct mcp_transport tt = t;
		char err[256];
		tt.ctx = &m;
		m.srv = mcp_server_new(&o, audit, &tt, err, sizeof err);
		if (!m.srv) {
			fprintf(stderr, "hearth mcp: %s\n", err);
			rc = 1;
		} else {
			rc = mcp_run(m.srv);
			mcp_server_free(m.srv);
		}
		free(m.line);
	}
	if (audit != stderr)
		fclose(audit);
	return rc;
}
