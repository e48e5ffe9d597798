/*
 * mcp.h - `hearth mcp`, a Model Context Protocol server (cmd_mcp.c: options
 * and the stdio transport; mcp_http.c: the Streamable HTTP transport;
 * mcp_server.c: the dispatcher, lifecycle, jobs, cancellation, progress,
 * audit and the poll loop both transports share; mcp_tools.c: the tools). Every tool call runs as one child
 * `hearth` process (a job): `hearth run/get/.../exec` with the arguments the
 * tool's schema allows, so a tool does exactly what the command line does,
 * and a cancelled call is a SIGTERM that `hearth exec` passes on to the
 * command in the VM.
 */
#ifndef HEARTH_MCP_H
#define HEARTH_MCP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "protocol/jsonrpc.h"

struct pollfd;

#define MCP_ARGV_MAX 300          /* child argv entries (exec: 256 argv + options) */
#define MCP_OUTPUT_DEFAULT 65536  /* exec stdout/stderr kept per stream, bytes */
#define MCP_READ_MAX (8u << 20)   /* read_file: largest content returned */
#define MCP_WRITE_MAX (8u << 20)  /* write_file: largest content accepted */

struct mcp_opts {
	const char *api, *cacert, *connect_to; /* passed on to the child commands */
	size_t max_output;                     /* exec: bytes kept per stream */
};

/* Output of a job: the first cap bytes kept, total counts all. */
struct mcp_bytes {
	uint8_t *p;
	size_t len, cap;
	uint64_t total;
};

/* One tool call's child process, as its tool's prepare() describes it. */
struct mcp_spec {
	char *argv[MCP_ARGV_MAX + 1]; /* malloc'd strings; argv[0] is "hearth" */
	int argc;
	uint8_t *in;                  /* bytes for the child's stdin (malloc'd), or NULL */
	size_t in_len;
	size_t out_cap, err_cap;      /* stdout / stderr bytes kept */
	char vm[128];                 /* for the audit line */
	char what[200];               /* for the audit line: never contents or tokens */
	char path[4200];              /* file tools: the path in the VM */
	uint64_t bytes;               /* write_file: content bytes */
};

struct mcp_tool {
	const char *name;
	const char *title;
	const char *description;
	const char *schema; /* the inputSchema, JSON text */
	/* Fill spec from the call's arguments; 0, or -1 with err (a tool error). */
	int (*prepare)(const struct mcp_opts *o, json_object *args, struct mcp_spec *spec,
		       char *err, size_t errlen);
	/* The CallToolResult of a finished job (status: exit code, 128+N for a signal). */
	json_object *(*finish)(const struct mcp_spec *spec, int status, const struct mcp_bytes *out,
			       const struct mcp_bytes *err);
};

extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_ntools;
const struct mcp_tool *mcp_tool_find(const char *name);

/* spec helpers (mcp_tools.c) */
int mcp_spec_add(struct mcp_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mcp_spec_free(struct mcp_spec *s);
/* A CallToolResult holding one text item. */
json_object *mcp_text_result(const char *text, size_t len, int is_error);


/* ---- the server core (mcp_server.c) ---- */

#define MCP_JOBS_MAX 32       /* tool calls running at once */
#define MCP_TRANSPORT_FDS 80  /* fds a transport may add to the poll set */

/* A client session: stdio has one, HTTP one per Mcp-Session-Id. */
struct mcp_sess {
	char client[160]; /* clientInfo name/version, for the audit */
};

/*
 * A transport. "to" is its stream for one request's messages (stdio: the
 * one stdout; HTTP: the POST that carried the request).
 */
struct mcp_transport {
	void *ctx;
	/* One message for to (line malloc'd, taken). last: the request's answer.
	 * line NULL (with last): the request ends unanswered (it was cancelled). */
	void (*send)(void *ctx, void *to, char *line, int last);
	/* Its fds to poll, at most max: returns how many it put in p. */
	int (*fds)(void *ctx, struct pollfd *p, int max);
	/* After poll: the same fds with their revents. */
	void (*ready)(void *ctx, struct pollfd *p, int n);
	/* Milliseconds to its next deadline, -1 for none. */
	int (*timeout)(void *ctx);
	/* 1 once it has ended (its calls are then stopped and mcp_run returns). */
	int (*ended)(void *ctx);
};

struct mcp_server;
/* NULL with err on failure. audit: where the audit lines go. */
struct mcp_server *mcp_server_new(const struct mcp_opts *o, FILE *audit,
				  const struct mcp_transport *t, char *err, size_t errlen);
/* Kills the calls still running. */
void mcp_server_free(struct mcp_server *m);
/* Poll the transport and the calls until the transport ends and no call is
 * left: 0, or 1 when poll fails. */
int mcp_run(struct mcp_server *m);
/* One message (bytes from the client, parsed here) of session s; what it
 * asks for is answered on to (a parse error too). */
void mcp_handle(struct mcp_server *m, struct mcp_sess *s, void *to, const char *p, size_t n);
/* The same for a message already parsed. */
void mcp_dispatch(struct mcp_server *m, struct mcp_sess *s, void *to, const struct jsonrpc_msg *msg);
/* The stream to is gone (the client hung up): its calls are cancelled. */
void mcp_abandon(struct mcp_server *m, void *to);
/* Session s ends: its calls are cancelled (each stream gets its NULL). */
void mcp_end_session(struct mcp_server *m, struct mcp_sess *s);
/* 1 when s has a call running. */
int mcp_sess_busy(const struct mcp_server *m, const struct mcp_sess *s);
/* 1 when v is a protocol revision this server speaks. */
int mcp_version_known(const char *v);

/* ---- the Streamable HTTP transport (mcp_http.c) ---- */

struct mcp_http_opts {
	const char *listen;      /* ADDR:PORT */
	const char *token_file;  /* the bearer token's file, or NULL */
	const char *allow_origin; /* one more Origin allowed besides loopback ones, or NULL */
	int allow_remote;        /* a non-loopback address is allowed */
};

/* Serve until SIGINT/SIGTERM: 0, or 1 (with a message on stderr). */
int mcp_http_serve(const struct mcp_http_opts *h, const struct mcp_opts *o, FILE *audit);

#endif
