/*
 * mcp.h - `hearth mcp`, a Model Context Protocol server over stdio
 * (cmd_mcp.c: the JSON-RPC loop, lifecycle, jobs, cancellation, progress,
 * audit; mcp_tools.c: the tool table). Every tool call runs as one child
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

#endif
