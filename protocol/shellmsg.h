/*
 * shellmsg.h - the TEXT control frames of the shell WebSocket
 * (protocol/PROTOCOL.md section 2: the compatible core and the hearth.v1
 * extensions of 2.3). Pure: no I/O.
 *
 * Client -> server: resize; v1 also open, attach, exec, signal, detach,
 *                   ping, eof. Unknown members are ignored; a missing or
 *                   wrongly typed required member refuses the frame.
 * Server -> client: session_init, error; v1 also hello, attached,
 *                   exec_started, exit, dropped, pong.
 * Anything else from the client is refused (never typed into the shell).
 * The parser accepts every type; which ones a connection may send in its
 * state is the caller's business.
 */
#ifndef HEARTH_SHELLMSG_H
#define HEARTH_SHELLMSG_H

#include <stddef.h>
#include <stdint.h>

#define SHELLMSG_MAX 4096      /* longest TEXT control frame accepted */
#define SHELLMSG_ARGV_MAX 256  /* exec argv entries (the agent's limit) */
#define SHELLMSG_ENV_MAX 128   /* exec env entries (the agent's limit) */
#define SHELLMSG_GRACE_MAX 3600
#define SHELLMSG_SID_MAX 64    /* session id, bytes */
#define SHELLMSG_PING_MAX 256  /* ping data echoed */

enum shellmsg_type {
	SHELLMSG_RESIZE = 1,
	SHELLMSG_OPEN,
	SHELLMSG_ATTACH,
	SHELLMSG_EXEC,
	SHELLMSG_SIGNAL,
	SHELLMSG_DETACH,
	SHELLMSG_PING,
	SHELLMSG_EOF,
};

struct shellmsg {
	enum shellmsg_type type;
	uint16_t cols, rows;           /* resize, open */
	int has_grace;                 /* open */
	uint32_t grace;
	char session_id[SHELLMSG_SID_MAX + 1]; /* attach */
	int read_only, has_offset;     /* attach */
	uint64_t offset;
	/* exec: exactly one of argv (nargv >= 1) or command; strings point into
	 * strings[] and hold no NUL; env entries are "NAME=value". */
	const char *argv[SHELLMSG_ARGV_MAX];
	unsigned nargv;
	const char *command, *cwd;
	const char *env[SHELLMSG_ENV_MAX];
	unsigned nenv;
	uint32_t timeout;              /* exec seconds, 0 none */
	/* exec of the agent's tar builtin instead of a command (PROTOCOL.md 1.3.1):
	 * "put":PATH (stdin is a tar stream) or "get":PATH (stdout is one) */
	uint8_t files_op;              /* 0, or MUX_FILES_PUT / MUX_FILES_GET */
	int files_recursive;           /* get: "recursive":true */
	const char *files_path;
	int want_stdin;
	uint8_t signo;                 /* signal: 1..64 */
	int has_data;                  /* ping */
	char data[SHELLMSG_PING_MAX + 1];
	char strings[2 * SHELLMSG_MAX];
	size_t strings_used;
};

/* Parse one complete TEXT frame. 0, or -1 with a reason for the client in err. */
int shellmsg_parse(const char *p, size_t n, struct shellmsg *out, char *err, size_t errlen);
/* A signal name ("INT", ...) or number ("2") -> 1..64; -1 when unknown. */
int shellmsg_signal_number(const char *name);

/* Encode server frames; return the length (NUL added) or -1 when out is too small. */
int shellmsg_session_init(char *out, size_t n, const char *session_id);
int shellmsg_error(char *out, size_t n, const char *message);
/* An error with a machine-readable code (e.g. "NoSuchSession"); code may be NULL. */
int shellmsg_error_code(char *out, size_t n, const char *code, const char *message);
int shellmsg_hello(char *out, size_t n, unsigned replay_bytes, unsigned grace);
int shellmsg_attached(char *out, size_t n, const char *session_id, uint64_t offset,
		      uint64_t dropped);
int shellmsg_exec_started(char *out, size_t n, const char *session_id, uint32_t pid);
/* is_signal: value is a signal number, else an exit code. */
int shellmsg_exit(char *out, size_t n, int is_signal, int value, int timed_out);
int shellmsg_dropped(char *out, size_t n, uint64_t bytes);
/* data NULL: no "data" member. */
int shellmsg_pong(char *out, size_t n, const char *data);

#endif
