/*
 * cmd_exec.c - `hearth exec ID [OPTIONS] -- CMD ARG...` or `-c "command
 * line"`: one process in a microVM without a pty (hearth.v1 exec,
 * protocol/PROTOCOL.md 2.3). Its stdout and stderr arrive apart and go to
 * ours; its exit code becomes ours (128+N for a signal, 124 when --timeout
 * killed it); SIGINT/SIGTERM/SIGHUP here are passed on to it. Our stdin is
 * forwarded only with --stdin (then our EOF is its EOF): a script's stdin
 * that never ends must not hang a command that does not read it.
 */
#include "shell/client/client.h"
#include "shell/client/term.h"
#include "shell/client/vmdial.h"
#include "protocol/wsclient.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXEC_START_MS 30000
#define EXEC_STDIN_QUEUE (1024u * 1024) /* stdin read ahead of the socket */
#define EXEC_EXIT_TIMEOUT 124           /* as timeout(1) */
#define EXEC_EXIT_NOT_STARTED 127       /* as sh(1) for a command it cannot run */

enum { O_TIMEOUT = 1, O_ENV, O_CWD, O_STDIN, O_PUT, O_GET, O_RECURSIVE };

struct exec {
	struct vmdial d;
	struct wsconn c;
	json_object *req;
	int with_stdin, stdin_done;
	int exit_status, timed_out, closed;
	int not_started;      /* the agent could not start the command */
	long timeout_s;
	char err[512];
};

static int usage(struct exec *x, const char *msg)
{
	return api_usage(&x->d.a, "%s", msg);
}

/* Options, then the ID and the command. 0 or an exit code. */
static int parse(struct exec *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "env", required_argument, NULL, O_ENV },
		{ "cwd", required_argument, NULL, O_CWD },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ "put", required_argument, NULL, O_PUT },
		{ "get", required_argument, NULL, O_GET },
		{ "recursive", no_argument, NULL, O_RECURSIVE },
		VMDIAL_OPTIONS,
		{ "api", required_argument, NULL, API_OPT_API },
		{ "help", no_argument, NULL, API_OPT_HELP },
		{ 0 },
	};
	json_object *env = json_object_new_object();
	const char *command = NULL, *files = NULL;
	int opt, recursive = 0;
	json_object_object_add(x->req, "type", json_object_new_string("exec"));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:", longopts, NULL)) != -1) {
		switch (opt) {
		case '?':
			json_object_put(env);
			return api_usage(&x->d.a, "unknown option '%s'", argv[optind - 1]);
		case ':':
			json_object_put(env);
			return api_usage(&x->d.a, "option '%s' needs a value", argv[optind - 1]);
		case 'c':
			command = optarg;
			break;
		case O_TIMEOUT:
			if ((x->timeout_s = api_number(optarg, 0, 86400)) < 0) {
				json_object_put(env);
				return usage(x, "--timeout wants seconds (0-86400; 0: none)");
			}
			break;
		case O_ENV: {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				json_object_put(env);
				return usage(x, "--env wants KEY=VALUE");
			}
			char key[256];
			if ((size_t)(eq - optarg) >= sizeof key) {
				json_object_put(env);
				return usage(x, "--env: name too long");
			}
			memcpy(key, optarg, (size_t)(eq - optarg));
			key[eq - optarg] = '\0';
			json_object_object_add(env, key, json_object_new_string(eq + 1));
			break;
		}
		case O_CWD:
			json_object_object_add(x->req, "cwd", json_object_new_string(optarg));
			break;
		case O_STDIN:
			x->with_stdin = 1;
			break;
		case O_PUT: /* the agent's tar builtin (PROTOCOL.md 1.3.1): stdin is the tar */
		case O_GET: /* stdout is the tar */
			if (files) {
				json_object_put(env);
				return usage(x, "give one --put or --get");
			}
			files = optarg;
			json_object_object_add(x->req, opt == O_PUT ? "put" : "get",
					       json_object_new_string(optarg));
			if (opt == O_PUT)
				x->with_stdin = 1;
			break;
		case O_RECURSIVE:
			recursive = 1;
			break;
		default:
			if (vmdial_option(&x->d, opt, optarg) != 0 && api_option(&x->d.a, opt, optarg) != 0) {
				json_object_put(env);
				return usage(x, "unexpected option");
			}
		}
	}
	if (x->d.a.help) {
		json_object_put(env);
		printf("usage: hearth %s\n", x->d.a.usage);
		return -1; /* asked-for help: exit 0 */
	}
	if (json_object_object_length(env) > 0)
		json_object_object_add(x->req, "env", env);
	else
		json_object_put(env);
	if (optind >= argc)
		return usage(x, "want a microVM ID");
	x->d.id = argv[optind++];
	if (files) {
		if (command || optind < argc)
			return usage(x, "--put/--get take no command");
		if (recursive)
			json_object_object_add(x->req, "recursive", json_object_new_boolean(1));
		goto done;
	}
	if (command && optind < argc)
		return usage(x, "give either -c \"command line\" or -- CMD ARG..., not both");
	if (command) {
		json_object_object_add(x->req, "command", json_object_new_string(command));
	} else if (optind < argc) {
		json_object *av = json_object_new_array();
		for (int i = optind; i < argc; i++)
			json_object_array_add(av, json_object_new_string(argv[i]));
		json_object_object_add(x->req, "argv", av);
	} else {
		return usage(x, "want a command: -- CMD ARG... or -c \"command line\"");
	}
done:
	json_object_object_add(x->req, "timeout", json_object_new_int64(x->timeout_s));
	if (x->with_stdin)
		json_object_object_add(x->req, "stdin", json_object_new_boolean(1));
	return 0;
}

/* Connect, hello, exec, exec_started. 0 or -1 (printed). */
static int start(struct exec *x)
{
	json_object *doc;
	const char *type;
	char msg[400];
	if (vmdial_connect(&x->d, &x->c, 0) != 0)
		return -1;
	if (!x->c.v1) {
		fprintf(stderr, "hearth: this server does not speak hearth.v1, which exec needs\n");
		return -1;
	}
	if (vmdial_hello(&x->c, EXEC_START_MS, x->err, sizeof x->err) != 0)
		goto fail;
	vmdial_send_json(&x->c, json_object_get(x->req));
	if (vmdial_wait_text(&x->c, EXEC_START_MS, &doc, &type, x->err, sizeof x->err) != 0)
		goto fail;
	if (strcmp(type, "exec_started") != 0) {
		if (strcmp(type, "error") == 0) {
			vmdial_error_text(doc, msg, sizeof msg);
			snprintf(x->err, sizeof x->err, "the server refused the command: %s", msg);
			if (strcmp(api_str(doc, "code"), "ExecFailed") == 0)
				x->not_started = 1;
		} else {
			snprintf(x->err, sizeof x->err, "unexpected '%.40s' from the server", type);
		}
		json_object_put(doc);
		goto fail;
	}
	json_object_put(doc);
	return 0;
fail:
	fprintf(stderr, "hearth: %s\n", x->err);
	return -1;
}

static void on_text(struct exec *x, const uint8_t *p, size_t n)
{
	struct vmdial_msg vm;
	vmdial_msg(p, n, &vm);
	if (vm.kind == VMDIAL_MSG_EXIT) {
		x->exit_status = vm.exit_status;
		x->timed_out = vm.timed_out;
	} else if (vm.kind == VMDIAL_MSG_ERROR) {
		fprintf(stderr, "hearth: server: %s\n", vm.error);
	}
}

/* One message. -1 ends with x->err. */
static int on_message(struct exec *x, const struct wsconn_msg *m)
{
	switch (m->opcode) {
	case WSC_BINARY:
		if (m->len < 1 || (m->p[0] != 1 && m->p[0] != 2)) {
			snprintf(x->err, sizeof x->err, "the server sent output without a stream byte");
			return -1;
		}
		int fd = m->p[0] == 1 ? STDOUT_FILENO : STDERR_FILENO;
		if (term_write_all(fd, m->p + 1, m->len - 1) != 0) {
			snprintf(x->err, sizeof x->err, "write: %s", strerror(errno));
			return -1;
		}
		return 0;
	case WSC_TEXT:
		on_text(x, m->p, m->len);
		return 0;
	case WSC_CLOSE:
		x->closed = 1;
		if (m->close_code != 1000 || x->exit_status < 0) {
			snprintf(x->err, sizeof x->err, "the server closed the connection (%u %.*s)",
				 m->close_code, (int)(m->len > 120 ? 120 : m->len), (const char *)m->p);
			return -1;
		}
		return 0;
	}
	return 0;
}

static void forward_signal(struct exec *x, int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = { { SIGINT, "INT" }, { SIGTERM, "TERM" }, { SIGHUP, "HUP" } };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig) {
			json_object *m = json_object_new_object();
			json_object_object_add(m, "type", json_object_new_string("signal"));
			json_object_object_add(m, "signal", json_object_new_string(names[i].name));
			vmdial_send_json(&x->c, m);
		}
}

static int loop(struct exec *x)
{
	static uint8_t in[65536];
	struct wsconn_msg m;
	while (!x->closed) {
		int want_in = x->with_stdin && !x->stdin_done &&
			      buf_used(&x->c.out) < EXEC_STDIN_QUEUE;
		struct pollfd p[3] = {
			{ want_in ? STDIN_FILENO : -1, POLLIN, 0 },
			{ x->c.fd, POLLIN | (wsconn_pending(&x->c) ? POLLOUT : 0), 0 },
			{ term_sig_fd(), POLLIN, 0 },
		};
		/* start() may have left the output, exit and CLOSE that came in
		 * one record with exec_started in the connection's buffer, where
		 * poll() does not see them: take them without waiting. */
		int buffered = wsconn_buffered(&x->c);
		if (poll(p, 3, buffered ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(x->err, sizeof x->err, "poll: %s", strerror(errno));
			return -1;
		}
		if (p[2].revents & POLLIN) {
			uint8_t sigs[16];
			ssize_t n = term_sig_read(sigs, sizeof sigs);
			for (ssize_t i = 0; i < n; i++)
				forward_signal(x, sigs[i]);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(STDIN_FILENO, in, sizeof in);
			if (n > 0) {
				wsconn_send(&x->c, WSC_BINARY, in, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				json_object *e = json_object_new_object();
				json_object_object_add(e, "type", json_object_new_string("eof"));
				vmdial_send_json(&x->c, e);
				x->stdin_done = 1;
			}
		}
		if (p[1].revents || buffered) {
			int rc;
			while (!x->closed &&
			       (rc = wsconn_next(&x->c, &m, x->err, sizeof x->err)) != WSCONN_AGAIN) {
				if (rc == WSCONN_EOF || rc == WSCONN_FAIL) {
					if (x->exit_status >= 0)
						return 0; /* the exit arrived; the close did not matter */
					if (rc == WSCONN_EOF)
						snprintf(x->err, sizeof x->err, "the server hung up");
					snprintf(x->err + strlen(x->err), sizeof x->err - strlen(x->err),
						 " (an exec cannot be reattached)");
					return -1;
				}
				if (on_message(x, &m) != 0)
					return -1;
			}
		}
		if (wsconn_flush(&x->c, x->err, sizeof x->err) != 0)
			return x->exit_status >= 0 ? 0 : -1;
	}
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	static struct exec x;
	memset(&x, 0, sizeof x);
	x.exit_status = -1;
	x.c.fd = -1;
	api_init(&x.d.a, "exec",
		 "exec ID [--timeout S] [--env K=V]... [--cwd DIR] [--stdin] "
		 "[--cacert FILE] [--connect-to HOST:PORT] (-- CMD ARG... | -c \"command line\" | "
		 "--put PATH | --get PATH [--recursive])");
	x.req = json_object_new_object();
	signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error, not a death */
	int rc = parse(&x, argc, argv);
	if (rc == -1) {
		json_object_put(x.req);
		return 0;
	}
	if (rc == 0 && (rc = vmdial_init(&x.d)) == 0 && start(&x) != 0)
		rc = x.not_started ? EXEC_EXIT_NOT_STARTED : VMDIAL_EXIT_FAIL;
	if (rc != 0) {
		json_object_put(x.req);
		if (x.c.ssl)
			wsconn_close(&x.c, 1000);
		return rc;
	}
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP }; /* passed on to the command */
	if (term_sig_open(sigs, sizeof sigs / sizeof sigs[0]) != 0) {
		fprintf(stderr, "hearth: pipe: %s\n", strerror(errno));
		json_object_put(x.req);
		wsconn_close(&x.c, 1000);
		return VMDIAL_EXIT_FAIL;
	}
	rc = loop(&x);
	term_sig_close();
	wsconn_close(&x.c, 1000);
	json_object_put(x.req);
	explicit_bzero(x.d.token, sizeof x.d.token);
	if (rc != 0) {
		fprintf(stderr, "hearth: %s\n", x.err);
		return VMDIAL_EXIT_FAIL;
	}
	if (x.timed_out) {
		fprintf(stderr, "hearth: the command ran out of time (--timeout %ld) and was killed\n",
			x.timeout_s);
		return EXEC_EXIT_TIMEOUT;
	}
	return x.exit_status >= 0 ? x.exit_status : VMDIAL_EXIT_FAIL;
}
