/*
 * vmdial.h - what `hearth shell` and `hearth exec` share: the VM's endpoint
 * (GetMicrovm), a shell token (CreateMicrovmShellAuthToken, minted again
 * when it nears expiry or is refused), the WebSocket to the endpoint with
 * refusals reported in words, and JSON control messages on it.
 */
#ifndef HEARTH_VMDIAL_H
#define HEARTH_VMDIAL_H

#include <json-c/json.h>

#include "shell/client/api.h"
#include "shell/client/wsconn.h"

/* Exit status of shell/exec when hearth itself fails (as ssh does). */
#define VMDIAL_EXIT_FAIL 255

/* Options both commands take besides the API's (exec's --timeout is its own). */
enum { VMDIAL_OPT_CACERT = 0x200, VMDIAL_OPT_CONNECT_TO };
#define VMDIAL_OPTIONS                                                          \
	{ "cacert", required_argument, NULL, VMDIAL_OPT_CACERT },               \
	{ "connect-to", required_argument, NULL, VMDIAL_OPT_CONNECT_TO }

struct vmdial {
	struct api a;
	const char *id;
	const char *cacert;      /* --cacert */
	const char *connect_to;  /* --connect-to HOST:PORT */
	char endpoint[512];
	char token[4096];        /* never printed */
	long long token_until;   /* monotonic ms after which a new token is minted */
};

/* Handle VMDIAL_OPT_*; 0 if handled, -1 if not ours. */
int vmdial_option(struct vmdial *d, int opt, const char *arg);

/* GetMicrovm: the endpoint. 0, or VMDIAL_EXIT_FAIL after printing why. */
int vmdial_init(struct vmdial *d);

/*
 * Connect and upgrade, offering hearth.v1. 0 when connected; 1 after a
 * refusal (printed); -1 when the server could not be reached (printed
 * unless quiet). A 401/403 with a token that was not just minted is retried
 * once with a new one.
 */
int vmdial_connect(struct vmdial *d, struct wsconn *c, int quiet);

/* Queue one JSON control message; 0 or -1 (queue full). Frees doc. */
int vmdial_send_json(struct wsconn *c, json_object *doc);

/* Parse a TEXT message into an object with a string "type"; NULL if it is not. */
json_object *vmdial_parse(const uint8_t *p, size_t n, const char **type);

/*
 * Wait (flushing output, answering pings) for the next TEXT message, at
 * most timeout_ms. 0 with *doc and *type; -1 with err (a CLOSE, a lost
 * connection, a BINARY frame, or the time ran out).
 */
int vmdial_wait_text(struct wsconn *c, int timeout_ms, json_object **doc, const char **type,
		     char *err, size_t errlen);

/* The "message" of an error frame (or "?"), "code" too when present. */
void vmdial_error_text(json_object *doc, char *out, size_t cap);

/* Wait for the hearth.v1 server's first message, "hello". 0, or -1 with err. */
int vmdial_hello(struct wsconn *c, int timeout_ms, char *err, size_t errlen);

/* What a TEXT message of a running shell or exec says (hearth.v1, 2.3). */
enum { VMDIAL_MSG_OTHER, VMDIAL_MSG_EXIT, VMDIAL_MSG_DROPPED, VMDIAL_MSG_ERROR };
struct vmdial_msg {
	int kind;           /* VMDIAL_MSG_*; OTHER for other types and what is not JSON */
	int exit_status;    /* EXIT: its code, 128+N for signal N, else VMDIAL_EXIT_FAIL */
	int timed_out;      /* EXIT: an exec killed by its timeout */
	long long dropped;  /* DROPPED: output bytes the server skipped */
	char error[400];    /* ERROR: vmdial_error_text */
};
void vmdial_msg(const uint8_t *p, size_t n, struct vmdial_msg *out);

#endif
