/*
 * shellmsg.h - the TEXT control frames of the shell WebSocket
 * (spec/shell-websocket.md, compatible core). Pure: no I/O.
 *
 * Client -> server: {"type":"resize","cols":C,"rows":R}
 * Server -> client: {"type":"session_init","session_id":"<uuid>"}
 *                   {"type":"error","message":"..."}
 * Anything else from the client is refused (never typed into the shell).
 */
#ifndef HEARTH_SHELLMSG_H
#define HEARTH_SHELLMSG_H

#include <stddef.h>
#include <stdint.h>

#define SHELLMSG_MAX 4096 /* longest TEXT control frame accepted */

enum shellmsg_type { SHELLMSG_RESIZE = 1 };

struct shellmsg {
	enum shellmsg_type type;
	uint16_t cols, rows;
};

/* Parse one complete TEXT frame. 0, or -1 with a reason for the client in err. */
int shellmsg_parse(const char *p, size_t n, struct shellmsg *out, char *err, size_t errlen);
/* Encode server frames; return the length (NUL added) or -1 when out is too small. */
int shellmsg_session_init(char *out, size_t n, const char *session_id);
int shellmsg_error(char *out, size_t n, const char *message);

#endif
