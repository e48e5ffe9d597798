/*
 * mcp_tools.c - the tools of `hearth mcp` (see mcp.h): for each, a JSON
 * schema, how its arguments become a `hearth` command line (checked here:
 * a bad argument is a tool error, never a crash), and how the command's
 * output becomes the result.
 */
#include "shell/client/mcp.h"
#include "protocol/tarhdr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---- */

int mcp_spec_add(struct mcp_spec *s, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	if (s->argc >= MCP_ARGV_MAX)
		return -1;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	s->argv[s->argc++] = p;
	s->argv[s->argc] = NULL;
	return 0;
}

void mcp_spec_free(struct mcp_spec *s)
{
	for (int i = 0; i < s->argc; i++)
		free(s->argv[i]);
	free(s->in);
	memset(s, 0, sizeof *s);
}

json_object *mcp_text_result(const char *text, size_t len, int is_error)
{
	json_object *r = json_object_new_object(), *content = json_object_new_array();
	json_object *item = json_object_new_object();
	json_object_object_add(item, "type", json_object_new_string("text"));
	json_object_object_add(item, "text", json_object_new_string_len(text, (int)len));
	json_object_array_add(content, item);
	json_object_object_add(r, "content", content);
	json_object_object_add(r, "isError", json_object_new_boolean(is_error));
	return r;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string argument: NULL when absent; -1 when present with another type. */
static int arg_str(json_object *args, const char *key, const char **out, char *err, size_t errlen)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return bad(err, errlen, "argument '%s' must be a string (no NUL)", key);
	*out = json_object_get_string(v);
	return 0;
}

/* An integer argument in [lo, hi]: 0 (absent: *out unchanged) or -1. */
static int arg_int(json_object *args, const char *key, long lo, long hi, long *out, char *err,
		   size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo ||
	    json_object_get_int64(v) > hi)
		return bad(err, errlen, "argument '%s' must be an integer in %ld..%ld", key, lo, hi);
	*out = (long)json_object_get_int64(v);
	return 0;
}

static int arg_bool(json_object *args, const char *key, int *out, char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(err, errlen, "argument '%s' must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* Names passed as a command's positional argument: never an option. */
static int plain_name(const char *s)
{
	if (!s || !s[0] || s[0] == '-' || strlen(s) > 2048)
		return 0;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0;
	return 1;
}

/* The required "id" of a microVM. */
static int arg_vm(json_object *args, struct mcp_spec *s, char *err, size_t errlen)
{
	const char *id;
	if (arg_str(args, "id", &id, err, errlen) < 0)
		return -1;
	if (!id)
		return bad(err, errlen, "argument 'id' (the microVM id) is required");
	if (!plain_name(id) || strlen(id) >= sizeof s->vm || strchr(id, '/') || strchr(id, ':'))
		return bad(err, errlen, "argument 'id' is not a microVM id");
	snprintf(s->vm, sizeof s->vm, "%s", id);
	return 0;
}

static void api_opts(const struct mcp_opts *o, struct mcp_spec *s)
{
	if (o->api)
		mcp_spec_add(s, "--api=%s", o->api);
}

static void vm_opts(const struct mcp_opts *o, struct mcp_spec *s)
{
	api_opts(o, s);
	if (o->cacert)
		mcp_spec_add(s, "--cacert=%s", o->cacert);
	if (o->connect_to)
		mcp_spec_add(s, "--connect-to=%s", o->connect_to);
}

/* The command failed: its stderr (or a generic line) as the tool error. */
static json_object *failed(int status, const struct mcp_bytes *err)
{
	size_t n = err->len;
	while (n > 0 && (err->p[n - 1] == '\n' || err->p[n - 1] == ' '))
		n--;
	if (n == 0) {
		char msg[64];
		int l = snprintf(msg, sizeof msg, "failed (exit status %d)", status);
		return mcp_text_result(msg, (size_t)l, 1);
	}
	return mcp_text_result((const char *)err->p, n, 1);
}

/* API commands print the API's JSON with --json: that is the result. */
static json_object *finish_json(const struct mcp_spec *spec, int status,
				const struct mcp_bytes *out, const struct mcp_bytes *err)
{
	(void)spec;
	if (status != 0)
		return failed(status, err);
	return mcp_text_result((const char *)out->p, out->len, 0);
}

/* ---- microVM lifecycle ---- */

static int prep_run(const struct mcp_opts *o, json_object *args, struct mcp_spec *s, char *err,
		    size_t errlen)
{
	const char *image, *version;
	long maxdur = -1, idle = -1, susp = -1;
	int wait = 1, autoresume = -1;
	json_object *ip;
	if (arg_str(args, "image", &image, err, errlen) < 0 ||
	    arg_str(args, "version", &version, err, errlen) < 0 ||
	    arg_int(args, "maxDurationSeconds", 1, 28800, &maxdur, err, errlen) < 0 ||
	    arg_bool(args, "wait", &wait, err, errlen) < 0)
		return -1;
	if (!image || !plain_name(image))
		return bad(err, errlen, "argument 'image' (an image name or ARN) is required");
	if (version && !plain_name(version))
		return bad(err, errlen, "argument 'version' is not a version");
	if (json_object_object_get_ex(args, "idlePolicy", &ip) &&
	    !json_object_is_type(ip, json_type_null)) {
		if (!json_object_is_type(ip, json_type_object))
			return bad(err, errlen, "argument 'idlePolicy' must be an object");
		if (arg_int(ip, "maxIdleDurationSeconds", 60, 999999999, &idle, err, errlen) < 0 ||
		    arg_int(ip, "suspendedDurationSeconds", 0, 999999999, &susp, err, errlen) < 0 ||
		    arg_bool(ip, "autoResumeEnabled", &autoresume, err, errlen) < 0)
			return -1;
		if (idle < 0 || susp < 0 || autoresume < 0)
			return bad(err, errlen, "'idlePolicy' needs maxIdleDurationSeconds, "
						"suspendedDurationSeconds and autoResumeEnabled");
	}
	mcp_spec_add(s, "run");
	mcp_spec_add(s, "--json");
	api_opts(o, s);
	if (version)
		mcp_spec_add(s, "--version=%s", version);
	if (maxdur > 0)
		mcp_spec_add(s, "--max-duration=%ld", maxdur);
	if (idle >= 0) {
		mcp_spec_add(s, "--idle=%ld", idle);
		mcp_spec_add(s, "--suspended-for=%ld", susp);
		mcp_spec_add(s, autoresume ? "--auto-resume" : "--no-auto-resume");
	}
	if (wait)
		mcp_spec_add(s, "--wait");
	mcp_spec_add(s, "%s", image);
	snprintf(s->what, sizeof s->what, "run %.150s", image);
	return 0;
}

static int prep_list(const struct mcp_opts *o, json_object *args, struct mcp_spec *s, char *err,
		     size_t errlen)
{
	(void)args;
	(void)err;
	(void)errlen;
	mcp_spec_add(s, "list");
	mcp_spec_add(s, "--all");
	mcp_spec_add(s, "--json");
	api_opts(o, s);
	snprintf(s->what, sizeof s->what, "list");
	return 0;
}

/* get, suspend, resume, terminate: one command on one VM. */
static int prep_vmop(const char *cmd, int can_wait, const struct mcp_opts *o, json_object *args,
		     struct mcp_spec *s, char *err, size_t errlen)
{
	int wait = 0;
	if (arg_vm(args, s, err, errlen) < 0 || (can_wait && arg_bool(args, "wait", &wait, err, errlen) < 0))
		return -1;
	mcp_spec_add(s, "%s", cmd);
	mcp_spec_add(s, "--json");
	api_opts(o, s);
	if (wait)
		mcp_spec_add(s, "--wait");
	mcp_spec_add(s, "%s", s->vm);
	snprintf(s->what, sizeof s->what, "%s", cmd);
	return 0;
}

static int prep_get(const struct mcp_opts *o, json_object *a, struct mcp_spec *s, char *e, size_t n)
{
	return prep_vmop("get", 0, o, a, s, e, n);
}

static int prep_suspend(const struct mcp_opts *o, json_object *a, struct mcp_spec *s, char *e,
			size_t n)
{
	return prep_vmop("suspend", 1, o, a, s, e, n);
}

static int prep_resume(const struct mcp_opts *o, json_object *a, struct mcp_spec *s, char *e,
		       size_t n)
{
	return prep_vmop("resume", 1, o, a, s, e, n);
}

static int prep_terminate(const struct mcp_opts *o, json_object *a, struct mcp_spec *s, char *e,
			  size_t n)
{
	return prep_vmop("terminate", 1, o, a, s, e, n);
}

static int prep_endpoint(const struct mcp_opts *o, json_object *args, struct mcp_spec *s,
			 char *err, size_t errlen)
{
	long port = -1, minutes = 60;
	if (arg_vm(args, s, err, errlen) < 0 ||
	    arg_int(args, "port", 1, 65535, &port, err, errlen) < 0 ||
	    arg_int(args, "minutes", 1, 60, &minutes, err, errlen) < 0)
		return -1;
	if (port < 0)
		return bad(err, errlen, "argument 'port' (1..65535) is required");
	mcp_spec_add(s, "token");
	mcp_spec_add(s, "--json");
	api_opts(o, s);
	mcp_spec_add(s, "--minutes=%ld", minutes);
	mcp_spec_add(s, "--port=%ld", port);
	mcp_spec_add(s, "%s", s->vm);
	snprintf(s->what, sizeof s->what, "endpoint port %ld", port);
	return 0;
}

/* ---- exec ---- */

/* "exec ID [options]": what every VM-side tool starts with. */
static void exec_head(const struct mcp_opts *o, struct mcp_spec *s)
{
	mcp_spec_add(s, "exec");
	vm_opts(o, s);
}

static int prep_exec(const struct mcp_opts *o, json_object *args, struct mcp_spec *s, char *err,
		     size_t errlen)
{
	const char *command, *cwd, *in;
	long timeout = 300;
	json_object *argv = NULL, *env = NULL;
	if (arg_vm(args, s, err, errlen) < 0 || arg_str(args, "command", &command, err, errlen) < 0 ||
	    arg_str(args, "cwd", &cwd, err, errlen) < 0 ||
	    arg_str(args, "stdin", &in, err, errlen) < 0 ||
	    arg_int(args, "timeout", 0, 86400, &timeout, err, errlen) < 0)
		return -1;
	json_object_object_get_ex(args, "argv", &argv);
	if (argv && json_object_is_type(argv, json_type_null))
		argv = NULL;
	if (!argv == !command)
		return bad(err, errlen, "give exactly one of 'argv' (an array) or 'command' (a shell line)");
	if (argv) {
		size_t n = json_object_is_type(argv, json_type_array) ? json_object_array_length(argv) : 0;
		if (n == 0 || n > 256)
			return bad(err, errlen, "argument 'argv' must be an array of 1..256 strings");
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(argv, i);
			if (!json_object_is_type(v, json_type_string) ||
			    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v) ||
			    (i == 0 && !json_object_get_string_len(v)))
				return bad(err, errlen, "argument 'argv' must hold strings, argv[0] not empty");
		}
	}
	if (json_object_object_get_ex(args, "env", &env) && !json_object_is_type(env, json_type_null)) {
		if (!json_object_is_type(env, json_type_object) || json_object_object_length(env) > 128)
			return bad(err, errlen, "argument 'env' must be an object of at most 128 strings");
		json_object_object_foreach(env, k, v)
		{
			if (!k[0] || strchr(k, '=') || !json_object_is_type(v, json_type_string))
				return bad(err, errlen, "argument 'env' maps names (no '=') to strings");
		}
	} else {
		env = NULL;
	}
	exec_head(o, s);
	if (timeout > 0)
		mcp_spec_add(s, "--timeout=%ld", timeout);
	if (cwd)
		mcp_spec_add(s, "--cwd=%s", cwd);
	if (env) {
		json_object_object_foreach(env, k, v) mcp_spec_add(s, "--env=%s=%s", k,
								   json_object_get_string(v));
	}
	if (in) {
		mcp_spec_add(s, "--stdin");
		s->in_len = strlen(in);
		if (!(s->in = malloc(s->in_len + 1)))
			return bad(err, errlen, "out of memory");
		memcpy(s->in, in, s->in_len);
	}
	mcp_spec_add(s, "%s", s->vm);
	if (command) {
		mcp_spec_add(s, "-c");
		mcp_spec_add(s, "%s", command);
		snprintf(s->what, sizeof s->what, "exec sh -c (%zu bytes)", strlen(command));
	} else {
		mcp_spec_add(s, "--");
		for (size_t i = 0; i < json_object_array_length(argv); i++)
			mcp_spec_add(s, "%s", json_object_get_string(json_object_array_get_idx(argv, i)));
		/* argv[0] only: arguments may hold what an audit log should not */
		snprintf(s->what, sizeof s->what, "exec %.150s",
			 json_object_get_string(json_object_array_get_idx(argv, 0)));
	}
	if (s->argc >= MCP_ARGV_MAX)
		return bad(err, errlen, "too many arguments");
	s->out_cap = s->err_cap = o->max_output;
	return 0;
}

/* hearth exec's own failures (it could not reach the VM or start the command). */
static int exec_failed(int status, const struct mcp_bytes *err)
{
	return (status == 255 || status == 127) && err->len >= 8 && !memcmp(err->p, "hearth: ", 8);
}

static void add_stream(json_object *o, const char *key, const struct mcp_bytes *b)
{
	char *s = malloc(b->len + 96);
	if (!s)
		return;
	memcpy(s, b->p, b->len);
	size_t n = b->len;
	if (b->total > b->len)
		n += (size_t)snprintf(s + n, 96, "\n[... truncated: %llu more bytes]",
				      (unsigned long long)(b->total - b->len));
	json_object_object_add(o, key, json_object_new_string_len(s, (int)n));
	free(s);
}

static json_object *finish_exec(const struct mcp_spec *spec, int status,
				const struct mcp_bytes *out, const struct mcp_bytes *err)
{
	(void)spec;
	if (exec_failed(status, err))
		return failed(status, err);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "exitCode", json_object_new_int(status));
	if (status == 124 && err->len && strstr((const char *)err->p, "ran out of time"))
		json_object_object_add(o, "timedOut", json_object_new_boolean(1));
	add_stream(o, "stdout", out);
	add_stream(o, "stderr", err);
	json_object_object_add(o, "truncated",
			       json_object_new_boolean(out->total > out->len || err->total > err->len));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE);
	json_object *r = mcp_text_result(text, strlen(text), 0);
	json_object_object_add(r, "structuredContent", o);
	return r;
}

/* ---- files ---- */

static int arg_path(json_object *args, struct mcp_spec *s, char *err, size_t errlen)
{
	const char *path;
	if (arg_str(args, "path", &path, err, errlen) < 0)
		return -1;
	if (!path || !path[0] || strlen(path) >= sizeof s->path || strlen(path) > 4096)
		return bad(err, errlen, "argument 'path' (a path in the microVM) is required");
	snprintf(s->path, sizeof s->path, "%s", path);
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decode base64 (no line breaks); -1 when it is not base64. */
static long b64_decode(const char *in, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long o = 0;
	size_t i;
	for (i = 0; i < n && in[i] != '='; i++) {
		const char *c = memchr(b64, in[i], 64);
		if (!c || !in[i])
			return -1;
		acc = acc << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	for (; i < n; i++)
		if (in[i] != '=')
			return -1;
	return o;
}

static char *b64_encode(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1), *d = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*d++ = b64[v >> 18 & 63];
		*d++ = b64[v >> 12 & 63];
		*d++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*d++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*d = '\0';
	return s;
}

static int prep_write(const struct mcp_opts *o, json_object *args, struct mcp_spec *s, char *err,
		      size_t errlen)
{
	const char *content, *encoding;
	long mode = 0644;
	if (arg_vm(args, s, err, errlen) < 0 || arg_path(args, s, err, errlen) < 0 ||
	    arg_str(args, "content", &content, err, errlen) < 0 ||
	    arg_str(args, "encoding", &encoding, err, errlen) < 0 ||
	    arg_int(args, "mode", 0, 07777, &mode, err, errlen) < 0)
		return -1;
	if (!content)
		return bad(err, errlen, "argument 'content' is required");
	int base64 = 0;
	if (encoding && !strcmp(encoding, "base64"))
		base64 = 1;
	else if (encoding && strcmp(encoding, "utf8") && strcmp(encoding, "utf-8"))
		return bad(err, errlen, "argument 'encoding' must be \"utf8\" or \"base64\"");
	size_t clen = strlen(content);
	if (clen > (base64 ? MCP_WRITE_MAX / 3 * 4 + 4 : MCP_WRITE_MAX))
		return bad(err, errlen, "argument 'content' is over %u bytes", MCP_WRITE_MAX);
	/* the tar stream: one regular file named as the path's last component */
	static struct tar_entry e;
	memset(&e, 0, sizeof e);
	const char *slash = strrchr(s->path, '/');
	const char *base = slash ? slash + 1 : s->path;
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
		return bad(err, errlen, "argument 'path' must name a file");
	if (strlen(base) > TAR_PATH_MAX)
		return bad(err, errlen, "argument 'path' is too long");
	memcpy(e.path, base, strlen(base) + 1);
	e.type = TAR_REG;
	e.mode = (uint32_t)mode;
	e.mtime = (int64_t)time(NULL);
	size_t cap = TARHDR_ENCODE_MAX + clen + TAR_BLOCK + 2 * TAR_BLOCK;
	uint8_t *t = calloc(1, cap);
	if (!t)
		return bad(err, errlen, "out of memory");
	long dlen = (long)clen;
	uint8_t *data = t + TARHDR_ENCODE_MAX; /* decoded in place, then moved */
	if (base64) {
		if ((dlen = b64_decode(content, clen, data)) < 0) {
			free(t);
			return bad(err, errlen, "argument 'content' is not base64");
		}
	} else {
		memcpy(data, content, clen);
	}
	e.size = (uint64_t)dlen;
	int h = tarhdr_encode(&e, t, TARHDR_ENCODE_MAX);
	if (h < 0) {
		free(t);
		return bad(err, errlen, "argument 'path' cannot be written");
	}
	memmove(t + h, data, (size_t)dlen);
	size_t len = (size_t)h + (size_t)dlen;
	memset(t + len, 0, tarhdr_pad((uint64_t)dlen) + 2 * TAR_BLOCK);
	len += tarhdr_pad((uint64_t)dlen) + 2 * TAR_BLOCK;
	s->in = t;
	s->in_len = len;
	s->bytes = (uint64_t)dlen;
	exec_head(o, s);
	mcp_spec_add(s, "--put=%s", s->path);
	mcp_spec_add(s, "%s", s->vm);
	s->err_cap = 4096;
	snprintf(s->what, sizeof s->what, "write_file %.150s", s->path);
	return 0;
}

static json_object *finish_write(const struct mcp_spec *spec, int status,
				 const struct mcp_bytes *out, const struct mcp_bytes *err)
{
	(void)out;
	if (status != 0)
		return failed(status, err);
	char msg[4400];
	int n = snprintf(msg, sizeof msg, "wrote %llu bytes to %s",
			 (unsigned long long)spec->bytes, spec->path);
	return mcp_text_result(msg, (size_t)n, 0);
}

static int prep_read(const struct mcp_opts *o, json_object *args, struct mcp_spec *s, char *err,
		     size_t errlen)
{
	long max = 1 << 20;
	if (arg_vm(args, s, err, errlen) < 0 || arg_path(args, s, err, errlen) < 0 ||
	    arg_int(args, "maxBytes", 1, MCP_READ_MAX, &max, err, errlen) < 0)
		return -1;
	exec_head(o, s);
	mcp_spec_add(s, "--get=%s", s->path);
	mcp_spec_add(s, "%s", s->vm);
	/* the tar headers (pax for a long name) plus the bytes wanted */
	s->out_cap = (size_t)max + 4 * TAR_BLOCK + 2 * TAR_PATH_MAX;
	s->bytes = (uint64_t)max;
	s->err_cap = 4096;
	snprintf(s->what, sizeof s->what, "read_file %.150s", s->path);
	return 0;
}

static int utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
		if (k == 9 || i + k >= n + (k ? 0 : 1))
			return 0;
		if (c == 0)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

static json_object *finish_read(const struct mcp_spec *spec, int status,
				const struct mcp_bytes *out, const struct mcp_bytes *err)
{
	if (status != 0)
		return failed(status, err);
	static struct tar_entry e;
	memset(&e, 0, sizeof e);
	size_t off = 0;
	for (;;) {
		if (off + TAR_BLOCK > out->len)
			return mcp_text_result("the file's tar stream was cut short", 35, 1);
		int rc = tarhdr_decode(out->p + off, &e);
		off += TAR_BLOCK;
		if (rc == TARHDR_PAX && e.hdr_size <= out->len - off) {
			if (tarhdr_pax(out->p + off, (size_t)e.hdr_size, &e) != 0)
				return mcp_text_result("a bad tar header", 16, 1);
			off += (size_t)(e.hdr_size + tarhdr_pad(e.hdr_size));
			continue;
		}
		if (rc != TARHDR_ENTRY)
			return mcp_text_result("not a tar stream", 16, 1);
		break;
	}
	if (e.type != TAR_REG) {
		const char *m = e.type == TAR_SYMLINK ? "the path is a symbolic link to " : "not a regular file";
		char msg[4400];
		int n = snprintf(msg, sizeof msg, "%s%s", m, e.type == TAR_SYMLINK ? e.link : "");
		return mcp_text_result(msg, (size_t)n, 1);
	}
	size_t have = out->len - off;
	size_t n = e.size < have ? (size_t)e.size : have;
	if (n > spec->bytes)
		n = (size_t)spec->bytes;
	const uint8_t *p = out->p + off;
	json_object *r;
	char marker[96] = "";
	if (e.size > n)
		snprintf(marker, sizeof marker, "\n[... truncated: %llu more bytes]",
			 (unsigned long long)(e.size - n));
	if (utf8_valid(p, n)) {
		char *s = malloc(n + sizeof marker);
		if (!s)
			return mcp_text_result("out of memory", 13, 1);
		memcpy(s, p, n);
		memcpy(s + n, marker, strlen(marker) + 1);
		r = mcp_text_result(s, n + strlen(marker), 0);
		free(s);
	} else {
		char *s = b64_encode(p, n);
		if (!s)
			return mcp_text_result("out of memory", 13, 1);
		/* binary: an embedded resource with a base64 blob */
		r = json_object_new_object();
		json_object *content = json_object_new_array(), *item = json_object_new_object(),
			    *res = json_object_new_object();
		char uri[4300];
		snprintf(uri, sizeof uri, "file://%s", spec->path);
		json_object_object_add(res, "uri", json_object_new_string(uri));
		json_object_object_add(res, "mimeType", json_object_new_string("application/octet-stream"));
		json_object_object_add(res, "blob", json_object_new_string(s));
		json_object_object_add(item, "type", json_object_new_string("resource"));
		json_object_object_add(item, "resource", res);
		json_object_array_add(content, item);
		if (marker[0]) {
			json_object *t = json_object_new_object();
			json_object_object_add(t, "type", json_object_new_string("text"));
			json_object_object_add(t, "text", json_object_new_string(marker + 1));
			json_object_array_add(content, t);
		}
		json_object_object_add(r, "content", content);
		json_object_object_add(r, "isError", json_object_new_boolean(0));
		free(s);
	}
	return r;
}

static int prep_list_dir(const struct mcp_opts *o, json_object *args, struct mcp_spec *s,
			 char *err, size_t errlen)
{
	if (arg_vm(args, s, err, errlen) < 0 || arg_path(args, s, err, errlen) < 0)
		return -1;
	exec_head(o, s);
	mcp_spec_add(s, "--timeout=60");
	mcp_spec_add(s, "%s", s->vm);
	mcp_spec_add(s, "--");
	mcp_spec_add(s, "ls");
	mcp_spec_add(s, "-la");
	mcp_spec_add(s, "--");
	mcp_spec_add(s, "%s", s->path);
	s->out_cap = 1 << 20;
	s->err_cap = 4096;
	snprintf(s->what, sizeof s->what, "list_dir %.150s", s->path);
	return 0;
}

static json_object *finish_list_dir(const struct mcp_spec *spec, int status,
				    const struct mcp_bytes *out, const struct mcp_bytes *err)
{
	(void)spec;
	if (status != 0)
		return failed(status, err);
	return mcp_text_result((const char *)out->p, out->len, 0);
}

/* ---- the table ---- */

#define S_ID "\"id\":{\"type\":\"string\",\"description\":\"the microVM id\"}"
#define S_WAIT "\"wait\":{\"type\":\"boolean\",\"description\":\"wait until the state settles\"}"

const struct mcp_tool mcp_tools[] = {
	{ "run_microvm", "Run a microVM",
	  "Start a microVM from an image; by default waits until it is RUNNING. Returns the "
	  "microVM (its id, state, endpoint).",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"image\":{\"type\":\"string\",\"description\":\"image name or ARN, e.g. busybox\"},"
	  "\"version\":{\"type\":\"string\"},"
	  "\"maxDurationSeconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":28800},"
	  "\"idlePolicy\":{\"type\":\"object\",\"properties\":{"
	  "\"maxIdleDurationSeconds\":{\"type\":\"integer\",\"minimum\":60},"
	  "\"suspendedDurationSeconds\":{\"type\":\"integer\",\"minimum\":0},"
	  "\"autoResumeEnabled\":{\"type\":\"boolean\"}},"
	  "\"required\":[\"maxIdleDurationSeconds\",\"suspendedDurationSeconds\",\"autoResumeEnabled\"]},"
	  "\"wait\":{\"type\":\"boolean\",\"default\":true}},\"required\":[\"image\"]}",
	  prep_run, finish_json },
	{ "list_microvms", "List microVMs", "Every microVM with its state.",
	  "{\"type\":\"object\",\"properties\":{}}", prep_list, finish_json },
	{ "get_microvm", "Get a microVM", "One microVM: state, image, endpoint, idle policy.",
	  "{\"type\":\"object\",\"properties\":{" S_ID "},\"required\":[\"id\"]}", prep_get,
	  finish_json },
	{ "suspend_microvm", "Suspend a microVM", "Suspend a running microVM (memory kept).",
	  "{\"type\":\"object\",\"properties\":{" S_ID "," S_WAIT "},\"required\":[\"id\"]}",
	  prep_suspend, finish_json },
	{ "resume_microvm", "Resume a microVM", "Resume a suspended microVM.",
	  "{\"type\":\"object\",\"properties\":{" S_ID "," S_WAIT "},\"required\":[\"id\"]}",
	  prep_resume, finish_json },
	{ "terminate_microvm", "Terminate a microVM", "Terminate a microVM (it cannot come back).",
	  "{\"type\":\"object\",\"properties\":{" S_ID "," S_WAIT "},\"required\":[\"id\"]}",
	  prep_terminate, finish_json },
	{ "exec", "Run a command in a microVM",
	  "Run one command (argv, or a shell line with command) in a microVM without a terminal. "
	  "Returns exitCode, stdout and stderr (each cut past a limit, with a marker). A suspended "
	  "microVM with auto-resume is resumed. Cancelling the request stops the command.",
	  "{\"type\":\"object\",\"properties\":{" S_ID ","
	  "\"argv\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,\"maxItems\":256},"
	  "\"command\":{\"type\":\"string\",\"description\":\"run with /bin/sh -c\"},"
	  "\"stdin\":{\"type\":\"string\"},"
	  "\"timeout\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400,\"default\":300,"
	  "\"description\":\"seconds, 0 for none\"},"
	  "\"cwd\":{\"type\":\"string\"},"
	  "\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}},"
	  "\"required\":[\"id\"]}",
	  prep_exec, finish_exec },
	{ "write_file", "Write a file in a microVM",
	  "Create or replace a file (parent directories must exist).",
	  "{\"type\":\"object\",\"properties\":{" S_ID ","
	  "\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"
	  "\"encoding\":{\"type\":\"string\",\"enum\":[\"utf8\",\"base64\"],\"default\":\"utf8\"},"
	  "\"mode\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4095,\"default\":420}},"
	  "\"required\":[\"id\",\"path\",\"content\"]}",
	  prep_write, finish_write },
	{ "read_file", "Read a file in a microVM",
	  "A file's content: text when it is UTF-8, else a base64 resource; cut at maxBytes with a "
	  "marker.",
	  "{\"type\":\"object\",\"properties\":{" S_ID ",\"path\":{\"type\":\"string\"},"
	  "\"maxBytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8388608,\"default\":1048576}},"
	  "\"required\":[\"id\",\"path\"]}",
	  prep_read, finish_read },
	{ "list_dir", "List a directory in a microVM", "ls -la of a path in the microVM.",
	  "{\"type\":\"object\",\"properties\":{" S_ID ",\"path\":{\"type\":\"string\"}},"
	  "\"required\":[\"id\",\"path\"]}",
	  prep_list_dir, finish_list_dir },
	{ "endpoint_url", "App endpoint URL and token",
	  "Mint a token for a port of the microVM's app endpoint; returns the endpoint and the "
	  "token (send it as X-aws-proxy-auth).",
	  "{\"type\":\"object\",\"properties\":{" S_ID ","
	  "\"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535},"
	  "\"minutes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":60,\"default\":60}},"
	  "\"required\":[\"id\",\"port\"]}",
	  prep_endpoint, finish_json },
};
const size_t mcp_ntools = sizeof mcp_tools / sizeof mcp_tools[0];

const struct mcp_tool *mcp_tool_find(const char *name)
{
	for (size_t i = 0; i < mcp_ntools; i++)
		if (!strcmp(mcp_tools[i].name, name))
			return &mcp_tools[i];
	return NULL;
}
