/* shellmsg.c - shell WebSocket control frames; see shellmsg.h. */
#include "protocol/shellmsg.h"
#include "protocol/mux.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHELLMSG_DEPTH 4 /* an object holding at most one level of array/object */

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* An integer member in lo..hi (JSON integers only, no floats or strings). */
static int get_int(struct json_object *o, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	/* json-c clamps integers beyond int64 to its limits: refuse those too. */
	if (n < lo || n > hi || n == INT64_MAX)
		return -1;
	*out = n;
	return 0;
}

/* 1..65535: a pty cannot be sized to zero rows or columns. */
static int get_u16(struct json_object *o, const char *name, uint16_t *out)
{
	int64_t n;
	if (get_int(o, name, 1, 65535, &n) < 0)
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static int has(struct json_object *o, const char *name)
{
	return json_object_object_get_ex(o, name, NULL);
}

/* A string value without NUL, copied into m->strings. */
static const char *keep(struct shellmsg *m, struct json_object *v, size_t max)
{
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (len > max || strlen(s) != len || sizeof m->strings - m->strings_used < len + 1)
		return NULL;
	char *d = m->strings + m->strings_used;
	memcpy(d, s, len + 1);
	m->strings_used += len + 1;
	return d;
}

static int parse_resize(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	if (get_u16(o, "cols", &m->cols) < 0 || get_u16(o, "rows", &m->rows) < 0)
		return fail(err, errlen, "resize needs integer \"cols\" and \"rows\" in 1..65535");
	return 0;
}

static int parse_open(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	int64_t g;
	if (get_u16(o, "cols", &m->cols) < 0 || get_u16(o, "rows", &m->rows) < 0)
		return fail(err, errlen, "open needs integer \"cols\" and \"rows\" in 1..65535");
	if (has(o, "grace")) {
		if (get_int(o, "grace", 0, SHELLMSG_GRACE_MAX, &g) < 0)
			return fail(err, errlen, "\"grace\" must be an integer in 0..3600");
		m->has_grace = 1;
		m->grace = (uint32_t)g;
	}
	return 0;
}

static int parse_attach(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	struct json_object *v;
	int64_t off;
	if (!json_object_object_get_ex(o, "session_id", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > SHELLMSG_SID_MAX ||
	    json_object_get_string_len(v) == 0)
		return fail(err, errlen, "attach needs a string \"session_id\"");
	snprintf(m->session_id, sizeof m->session_id, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "mode", &v)) {
		const char *mode = json_object_is_type(v, json_type_string)
					   ? json_object_get_string(v)
					   : "";
		if (!strcmp(mode, "ro") && json_object_get_string_len(v) == 2)
			m->read_only = 1;
		else if (strcmp(mode, "rw") || json_object_get_string_len(v) != 2)
			return fail(err, errlen, "\"mode\" must be \"rw\" or \"ro\"");
	}
	if (has(o, "offset")) {
		if (get_int(o, "offset", 0, INT64_MAX, &off) < 0)
			return fail(err, errlen, "\"offset\" must be a non-negative integer");
		m->has_offset = 1;
		m->offset = (uint64_t)off;
	}
	return 0;
}

static int parse_exec_env(struct json_object *env, struct shellmsg *m, char *err, size_t errlen)
{
	if (!json_object_is_type(env, json_type_object))
		return fail(err, errlen, "\"env\" must be an object of strings");
	json_object_object_foreach(env, k, v)
	{
		size_t kl = strlen(k), room = sizeof m->strings - m->strings_used;
		if (m->nenv == SHELLMSG_ENV_MAX)
			return fail(err, errlen, "too many \"env\" entries");
		if (!kl || strchr(k, '=') || !json_object_is_type(v, json_type_string))
			return fail(err, errlen, "\"env\" must map names (no '=') to strings");
		const char *val = json_object_get_string(v);
		size_t vl = (size_t)json_object_get_string_len(v);
		if (strlen(val) != vl || kl + vl + 2 > room || kl + vl + 1 > 4096)
			return fail(err, errlen, "an \"env\" entry is too long or holds NUL");
		char *d = m->strings + m->strings_used;
		memcpy(d, k, kl);
		d[kl] = '=';
		memcpy(d + kl + 1, val, vl + 1);
		m->strings_used += kl + vl + 2;
		m->env[m->nenv++] = d;
	}
	return 0;
}

static int parse_exec(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	struct json_object *v;
	int64_t t;
	int has_argv = json_object_object_get_ex(o, "argv", &v);
	int has_put = has(o, "put"), has_get = has(o, "get");
	if (has_argv + has(o, "command") + has_put + has_get != 1)
		return fail(err, errlen,
			    "exec needs exactly one of \"argv\", \"command\", \"put\" or \"get\"");
	if (has_put || has_get) {
		json_object_object_get_ex(o, has_put ? "put" : "get", &v);
		m->files_path = keep(m, v, 4096);
		if (!m->files_path || !m->files_path[0])
			return fail(err, errlen, "\"put\"/\"get\" must be a non-empty path (no NUL)");
		m->files_op = has_put ? MUX_FILES_PUT : MUX_FILES_GET;
		if (json_object_object_get_ex(o, "recursive", &v)) {
			if (!json_object_is_type(v, json_type_boolean))
				return fail(err, errlen, "\"recursive\" must be true or false");
			m->files_recursive = json_object_get_boolean(v);
		}
	} else if (has_argv) {
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0 ||
		    json_object_array_length(v) > SHELLMSG_ARGV_MAX)
			return fail(err, errlen, "\"argv\" must be a non-empty array of strings");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *a = keep(m, json_object_array_get_idx(v, i), 4096);
			if (!a || (i == 0 && !a[0]))
				return fail(err, errlen,
					    "\"argv\" must be strings (no NUL), argv[0] not empty");
			m->argv[m->nargv++] = a;
		}
	} else {
		json_object_object_get_ex(o, "command", &v);
		m->command = keep(m, v, 4096);
		if (!m->command)
			return fail(err, errlen, "\"command\" must be a string (no NUL)");
	}
	if (json_object_object_get_ex(o, "cwd", &v) && !(m->cwd = keep(m, v, 4096)))
		return fail(err, errlen, "\"cwd\" must be a string (no NUL)");
	if (json_object_object_get_ex(o, "env", &v) && parse_exec_env(v, m, err, errlen) < 0)
		return -1;
	if (has(o, "timeout")) {
		if (get_int(o, "timeout", 0, 86400 * 365, &t) < 0)
			return fail(err, errlen, "\"timeout\" must be a non-negative integer");
		m->timeout = (uint32_t)t;
	}
	if (json_object_object_get_ex(o, "stdin", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return fail(err, errlen, "\"stdin\" must be true or false");
		m->want_stdin = json_object_get_boolean(v);
	}
	if (m->files_op == MUX_FILES_PUT)
		m->want_stdin = 1; /* the tar stream comes in as stdin */
	return 0;
}

static const struct {
	const char *name;
	uint8_t signo; /* Linux numbers: the agent's protocol carries them (1.2) */
} shellmsg_signals[] = {
	{ "HUP", 1 },	{ "INT", 2 },	{ "QUIT", 3 },	{ "KILL", 9 },
	{ "USR1", 10 }, { "USR2", 12 }, { "TERM", 15 }, { "CONT", 18 },
	{ "STOP", 19 }, { "TSTP", 20 }, { "WINCH", 28 },
};

int shellmsg_signal_number(const char *name)
{
	for (size_t i = 0; i < sizeof shellmsg_signals / sizeof shellmsg_signals[0]; i++)
		if (!strcmp(name, shellmsg_signals[i].name))
			return shellmsg_signals[i].signo;
	if (name[0] < '1' || name[0] > '9' || strlen(name) > 2)
		return -1;
	char *end;
	long n = strtol(name, &end, 10);
	return *end == '\0' && n >= 1 && n <= 64 ? (int)n : -1;
}

static int parse_signal(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	struct json_object *v;
	int64_t n;
	int s = -1;
	if (json_object_object_get_ex(o, "signal", &v)) {
		if (json_object_is_type(v, json_type_string) &&
		    (size_t)json_object_get_string_len(v) == strlen(json_object_get_string(v)))
			s = shellmsg_signal_number(json_object_get_string(v));
		else if (get_int(o, "signal", 1, 64, &n) == 0)
			s = (int)n;
	}
	if (s < 0)
		return fail(err, errlen,
			    "signal needs \"signal\": HUP INT QUIT KILL TERM USR1 USR2 CONT STOP "
			    "TSTP WINCH or 1..64");
	m->signo = (uint8_t)s;
	return 0;
}

static int parse_ping(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	struct json_object *v;
	(void)err;
	(void)errlen;
	if (json_object_object_get_ex(o, "data", &v) && json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) <= SHELLMSG_PING_MAX &&
	    (size_t)json_object_get_string_len(v) == strlen(json_object_get_string(v))) {
		m->has_data = 1;
		snprintf(m->data, sizeof m->data, "%s", json_object_get_string(v));
	}
	return 0;
}

static int parse_empty(struct json_object *o, struct shellmsg *m, char *err, size_t errlen)
{
	(void)o;
	(void)m;
	(void)err;
	(void)errlen;
	return 0;
}

static const struct {
	const char *name;
	enum shellmsg_type type;
	int (*parse)(struct json_object *o, struct shellmsg *m, char *err, size_t errlen);
} shellmsg_types[] = {
	{ "resize", SHELLMSG_RESIZE, parse_resize }, { "open", SHELLMSG_OPEN, parse_open },
	{ "attach", SHELLMSG_ATTACH, parse_attach }, { "exec", SHELLMSG_EXEC, parse_exec },
	{ "signal", SHELLMSG_SIGNAL, parse_signal }, { "detach", SHELLMSG_DETACH, parse_empty },
	{ "ping", SHELLMSG_PING, parse_ping },	     { "eof", SHELLMSG_EOF, parse_empty },
};

int shellmsg_parse(const char *p, size_t n, struct shellmsg *out, char *err, size_t errlen)
{
	if (n == 0 || n > SHELLMSG_MAX)
		return fail(err, errlen, "control frame is empty or too long");
	if (memchr(p, '\0', n))
		return fail(err, errlen, "control frame is not JSON");
	struct json_tokener *tok = json_tokener_new_ex(SHELLMSG_DEPTH);
	if (!tok)
		return fail(err, errlen, "out of memory");
	struct json_object *o = json_tokener_parse_ex(tok, p, (int)n);
	int complete = json_tokener_get_error(tok) == json_tokener_success &&
		       json_tokener_get_parse_end(tok) == n;
	json_tokener_free(tok);
	int rc = -1;
	if (!o || !complete) {
		fail(err, errlen, "control frame is not JSON");
		goto out;
	}
	struct json_object *t;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "type", &t) || !json_object_is_type(t, json_type_string)) {
		fail(err, errlen, "control frame needs a string \"type\"");
		goto out;
	}
	const char *type = json_object_get_string(t);
	memset(out, 0, offsetof(struct shellmsg, strings));
	out->strings_used = 0;
	for (size_t i = 0; i < sizeof shellmsg_types / sizeof shellmsg_types[0]; i++)
		if (strcmp(type, shellmsg_types[i].name) == 0 &&
		    (size_t)json_object_get_string_len(t) == strlen(shellmsg_types[i].name)) {
			out->type = shellmsg_types[i].type;
			rc = shellmsg_types[i].parse(o, out, err, errlen);
			goto out;
		}
	fail(err, errlen, "unknown control frame type");
out:
	json_object_put(o);
	return rc;
}

static int finish(struct json_object *o, char *out, size_t n)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	int rc = -1;
	if (s && len < n) {
		memcpy(out, s, len + 1);
		rc = (int)len;
	}
	json_object_put(o);
	return rc;
}

static struct json_object *typed(const char *type)
{
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

int shellmsg_session_init(char *out, size_t n, const char *session_id)
{
	struct json_object *o = typed("session_init");
	if (!o)
		return -1;
	json_object_object_add(o, "session_id", json_object_new_string(session_id));
	return finish(o, out, n);
}

int shellmsg_error_code(char *out, size_t n, const char *code, const char *message)
{
	struct json_object *o = typed("error");
	if (!o)
		return -1;
	if (code)
		json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(message));
	return finish(o, out, n);
}

int shellmsg_error(char *out, size_t n, const char *message)
{
	return shellmsg_error_code(out, n, NULL, message);
}

int shellmsg_hello(char *out, size_t n, unsigned replay_bytes, unsigned grace)
{
	struct json_object *o = typed("hello");
	if (!o)
		return -1;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "replay_bytes", json_object_new_int64(replay_bytes));
	json_object_object_add(o, "grace", json_object_new_int64(grace));
	return finish(o, out, n);
}

int shellmsg_attached(char *out, size_t n, const char *session_id, uint64_t offset,
		      uint64_t dropped)
{
	struct json_object *o = typed("attached");
	if (!o)
		return -1;
	json_object_object_add(o, "session_id", json_object_new_string(session_id));
	json_object_object_add(o, "offset", json_object_new_int64((int64_t)offset));
	json_object_object_add(o, "dropped", json_object_new_int64((int64_t)dropped));
	return finish(o, out, n);
}

int shellmsg_exec_started(char *out, size_t n, const char *session_id, uint32_t pid)
{
	struct json_object *o = typed("exec_started");
	if (!o)
		return -1;
	json_object_object_add(o, "session_id", json_object_new_string(session_id));
	json_object_object_add(o, "pid", json_object_new_int64(pid));
	return finish(o, out, n);
}

int shellmsg_exit(char *out, size_t n, int is_signal, int value, int timed_out)
{
	struct json_object *o = typed("exit");
	if (!o)
		return -1;
	json_object_object_add(o, is_signal ? "signal" : "code", json_object_new_int(value));
	if (timed_out)
		json_object_object_add(o, "timed_out", json_object_new_boolean(1));
	return finish(o, out, n);
}

int shellmsg_dropped(char *out, size_t n, uint64_t bytes)
{
	struct json_object *o = typed("dropped");
	if (!o)
		return -1;
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
	return finish(o, out, n);
}

int shellmsg_pong(char *out, size_t n, const char *data)
{
	struct json_object *o = typed("pong");
	if (!o)
		return -1;
	if (data)
		json_object_object_add(o, "data", json_object_new_string(data));
	return finish(o, out, n);
}
