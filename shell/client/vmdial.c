/* vmdial.c - endpoint, token and WebSocket for shell/exec; see vmdial.h. */
#include "shell/client/vmdial.h"
#include "protocol/wsclient.h"
#include "vmm/clock.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VMDIAL_TOKEN_MINUTES 15
#define VMDIAL_CONNECT_MS 30000

int vmdial_option(struct vmdial *d, int opt, const char *arg)
{
	switch (opt) {
	case VMDIAL_OPT_CACERT:
		d->cacert = arg;
		return 0;
	case VMDIAL_OPT_CONNECT_TO:
		d->connect_to = arg;
		return 0;
	}
	return -1;
}

static int vm_path(const struct vmdial *d, const char *suffix, char *path, size_t cap)
{
	char enc[512];
	if (api_escape(d->id, enc, sizeof enc) != 0) {
		fprintf(stderr, "hearth: microVM id too long\n");
		return -1;
	}
	snprintf(path, cap, API_VERSION_PREFIX "/microvms/%s%s", enc, suffix);
	return 0;
}

int vmdial_init(struct vmdial *d)
{
	char path[700];
	json_object *doc = NULL;
	if (vm_path(d, "", path, sizeof path) != 0 || api_call(&d->a, "GET", path, NULL, &doc) != 0)
		return VMDIAL_EXIT_FAIL;
	const char *st = api_str(doc, "state"), *ep = api_str(doc, "endpoint");
	int rc = 0;
	if (strcmp(st, "TERMINATED") == 0 || strcmp(st, "TERMINATING") == 0) {
		fprintf(stderr, "hearth: %s is %s\n", d->id, st);
		rc = VMDIAL_EXIT_FAIL;
	} else if (strcmp(ep, "-") == 0 || strlen(ep) >= sizeof d->endpoint) {
		fprintf(stderr, "hearth: %s has no endpoint (state %s)\n", d->id, st);
		rc = VMDIAL_EXIT_FAIL;
	} else {
		snprintf(d->endpoint, sizeof d->endpoint, "%s", ep);
	}
	json_object_put(doc);
	return rc;
}

/* CreateMicrovmShellAuthToken. 0, or -1 after printing why. */
static int mint(struct vmdial *d)
{
	char path[700];
	json_object *doc = NULL, *map, *tok;
	if (vm_path(d, "/shell-auth-token", path, sizeof path) != 0)
		return -1;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "expirationInMinutes",
			       json_object_new_int64(VMDIAL_TOKEN_MINUTES));
	int rc = api_call(&d->a, "POST", path, req, &doc);
	json_object_put(req);
	if (rc != 0)
		return -1;
	if (!json_object_object_get_ex(doc, "authToken", &map) ||
	    !json_object_object_get_ex(map, "X-aws-proxy-auth", &tok) ||
	    !json_object_is_type(tok, json_type_string) ||
	    (size_t)json_object_get_string_len(tok) >= sizeof d->token) {
		fprintf(stderr, "hearth: the API answered without a shell token\n");
		json_object_put(doc);
		return -1;
	}
	snprintf(d->token, sizeof d->token, "%s", json_object_get_string(tok));
	/* Renew a minute early: a reconnect must not race the expiry. */
	d->token_until = clock_ms() + (VMDIAL_TOKEN_MINUTES - 1) * 60000LL;
	json_object_put(doc);
	return 0;
}

int vmdial_connect(struct vmdial *d, struct wsconn *c, int quiet)
{
	char err[512];
	struct wsconn_refusal ref;
	for (int attempt = 0;; attempt++) {
		int fresh = 0;
		const char *given = getenv("HEARTH_SHELL_TOKEN");
		if (given && *given) {
			/* a token handed to us (no API rights needed to mint one): use it as is */
			if (strlen(given) >= sizeof d->token) {
				fprintf(stderr, "hearth: HEARTH_SHELL_TOKEN is too long\n");
				return 1;
			}
			snprintf(d->token, sizeof d->token, "%s", given);
			d->token_until = clock_ms() + 86400000LL;
			fresh = 1;
		} else if (!d->token[0] || clock_ms() >= d->token_until) {
			if (mint(d) != 0)
				return 1;
			fresh = 1;
		}
		struct wsconn_opts o = { .endpoint = d->endpoint, .connect_to = d->connect_to,
					 .token = d->token, .cacert = d->cacert, .v1 = 1,
					 .timeout_ms = VMDIAL_CONNECT_MS };
		int rc = wsconn_open(c, &o, &ref, err, sizeof err);
		if (rc == WSCONN_OK)
			return 0;
		wsconn_close(c, 1000);
		if (rc == WSCONN_REFUSED) {
			if ((ref.status == 401 || ref.status == 403) && !fresh && attempt == 0) {
				d->token[0] = '\0'; /* perhaps expired or of an earlier run: mint again */
				continue;
			}
			fprintf(stderr, "hearth: the shell endpoint refused the connection (HTTP %d): %s\n",
				ref.status, ref.message);
			return 1;
		}
		if (!quiet)
			fprintf(stderr, "hearth: %s\n", err);
		return -1;
	}
}

int vmdial_send_json(struct wsconn *c, json_object *doc)
{
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	int rc = wsconn_send(c, WSC_TEXT, s, strlen(s));
	json_object_put(doc);
	return rc;
}

json_object *vmdial_parse(const uint8_t *p, size_t n, const char **type)
{
	json_object *doc = NULL, *t;
	if (n > WSCONN_TEXT_MAX)
		return NULL;
	struct json_tokener *tok = json_tokener_new();
	if (tok)
		doc = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	if (!tok || !doc || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n || !json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "type", &t) || !json_object_is_type(t, json_type_string)) {
		json_object_put(doc);
		doc = NULL;
	} else {
		*type = json_object_get_string(t);
	}
	if (tok)
		json_tokener_free(tok);
	return doc;
}

int vmdial_wait_text(struct wsconn *c, int timeout_ms, json_object **doc, const char **type,
		     char *err, size_t errlen)
{
	long long deadline = clock_ms() + timeout_ms;
	struct wsconn_msg m;
	*doc = NULL;
	for (;;) {
		if (wsconn_flush(c, err, errlen) != 0)
			return -1;
		int rc = wsconn_next(c, &m, err, errlen);
		if (rc == WSCONN_OK) {
			if (m.opcode == WSC_TEXT) {
				*doc = vmdial_parse(m.p, m.len, type);
				if (*doc)
					return 0;
				snprintf(err, errlen, "the server sent a control message that is not JSON");
				return -1;
			}
			if (m.opcode == WSC_CLOSE) {
				snprintf(err, errlen, "the server closed the connection (%u %.*s)",
					 m.close_code, (int)(m.len > 120 ? 120 : m.len), (const char *)m.p);
				return -1;
			}
			snprintf(err, errlen, "the server sent output before the session started");
			return -1;
		}
		if (rc == WSCONN_EOF) {
			snprintf(err, errlen, "the server hung up");
			return -1;
		}
		if (rc == WSCONN_FAIL)
			return -1;
		long long left = deadline - clock_ms();
		if (left <= 0) {
			snprintf(err, errlen, "the server did not answer in time");
			return -1;
		}
		struct pollfd pf = { c->fd, POLLIN | (wsconn_pending(c) ? POLLOUT : 0), 0 };
		poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
	}
}

void vmdial_error_text(json_object *doc, char *out, size_t cap)
{
	const char *msg = api_str(doc, "message"), *code = api_str(doc, "code");
	if (strcmp(code, "-") != 0)
		snprintf(out, cap, "%s: %.300s", code, msg);
	else
		snprintf(out, cap, "%.300s", msg);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

int vmdial_hello(struct wsconn *c, int timeout_ms, char *err, size_t errlen)
{
	json_object *doc;
	const char *type;
	if (vmdial_wait_text(c, timeout_ms, &doc, &type, err, errlen) != 0)
		return -1;
	int hello = strcmp(type, "hello") == 0;
	json_object_put(doc);
	if (!hello) {
		snprintf(err, errlen, "expected hello from a hearth.v1 server");
		return -1;
	}
	return 0;
}

static int exit_status(json_object *doc)
{
	json_object *v;
	if (json_object_object_get_ex(doc, "code", &v) && json_object_is_type(v, json_type_int))
		return json_object_get_int(v) & 0xff;
	if (json_object_object_get_ex(doc, "signal", &v) && json_object_is_type(v, json_type_int))
		return 128 + (json_object_get_int(v) & 0x7f);
	return VMDIAL_EXIT_FAIL;
}

void vmdial_msg(const uint8_t *p, size_t n, struct vmdial_msg *out)
{
	const char *type;
	json_object *doc = vmdial_parse(p, n, &type), *v;
	memset(out, 0, sizeof *out);
	if (!doc)
		return;
	if (strcmp(type, "exit") == 0) {
		out->kind = VMDIAL_MSG_EXIT;
		out->exit_status = exit_status(doc);
		out->timed_out = json_object_object_get_ex(doc, "timed_out", &v) &&
				 json_object_get_boolean(v);
	} else if (strcmp(type, "dropped") == 0 && json_object_object_get_ex(doc, "bytes", &v)) {
		out->kind = VMDIAL_MSG_DROPPED;
		out->dropped = json_object_get_int64(v);
	} else if (strcmp(type, "error") == 0) {
		out->kind = VMDIAL_MSG_ERROR;
		vmdial_error_text(doc, out->error, sizeof out->error);
	}
	json_object_put(doc);
}
