/*
 * ops_files.c - hearth's REST extension for files (hearthd.8, FILES):
 * GET  /2025-09-09/microvms/{id}/files?path=P[&recursive=true] answers a
 *      tar stream (chunked) of P, made by the agent's FILES builtin
 *      (PROTOCOL.md 1.3.1);
 * PUT  /2025-09-09/microvms/{id}/files?path=P with a tar body unpacks it at
 *      P. Signed x-amz-content-sha256: UNSIGNED-PAYLOAD, the body streams
 *      (up to API_MAX_STREAM_BODY): it is read from the client only as fast
 *      as the channel's stdin queue, which follows the agent's window,
 *      takes it. Signed with the body's hash, it is collected and checked
 *      first (the API's body limit, 64 KiB): a hash can only be checked
 *      after the last byte, when the guest has already unpacked the rest.
 * Both run as an exec channel (session/execchan.c), so a suspended VM with
 * autoResumeEnabled is resumed first, and the tar streams at the client's
 * pace (output is acknowledged to the agent only as it is queued to the
 * client). A failure before the first byte is an AWS-shaped error with the
 * agent's message; one after it cuts the chunked body.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mux.h"
#include "protocol/shellmsg.h"
#include "session/apistream.h"
#include "session/execchan.h"
#include "session/routes.h"
#include "session/store.h"

struct fop {
	struct hearthd *hd;
	void *conn;        /* NULL once the answer is given or the client left */
	struct execchan *x;
	int get, begun, ended, ok, lost; /* lost: the agent link went (no exit) */
	int body_pending; /* a streamed body is still coming */
	lws_sorted_usec_list_t resume_sul; /* read the client again, outside callbacks */
	char err[1024];    /* the agent's stderr (its reason) */
	size_t errlen;
	lws_sorted_usec_list_t sul; /* close the channel outside its callbacks */
};

static void fop_free_cb(lws_sorted_usec_list_t *sul)
{
	struct fop *f = lws_container_of(sul, struct fop, sul);
	lws_sul_cancel(&f->resume_sul);
	execchan_close(f->x);
	free(f);
}

/* Free later: execchan_close may not run inside an execchan callback. */
static void fop_release(struct fop *f)
{
	f->conn = NULL;
	f->body_pending = 0;
	lws_sul_cancel(&f->resume_sul);
	lws_sul_schedule(f->hd->lws, 0, &f->sul, fop_free_cb, 1);
}

static void fop_error(struct fop *f, int status, const char *type, const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	apistream_answer(f->conn, (unsigned)status, type,
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Move output to the client as far as it takes it; finish after the end. */
static void fop_pump(struct fop *f)
{
	uint8_t stream;
	const uint8_t *p;
	size_t n;
	if (!f->conn)
		return;
	while (execchan_peek(f->x, &stream, &p, &n)) {
		if (stream == MUX_STREAM_STDOUT && f->get) {
			if (apistream_room(f->conn) < n)
				return; /* drained() brings us back */
			if (!f->begun) {
				apistream_begin(f->conn, 200, "application/x-tar");
				f->begun = 1;
			}
			if (apistream_data(f->conn, p, n) < 0)
				break;
		} else if (stream == MUX_STREAM_STDERR) {
			size_t k = n < sizeof f->err - 1 - f->errlen ? n : sizeof f->err - 1 - f->errlen;
			memcpy(f->err + f->errlen, p, k);
			f->errlen += k;
			f->err[f->errlen] = '\0';
		}
		execchan_consume(f->x);
	}
	if (!f->ended)
		return;
	/* Unpacked before the body's end (tar's end blocks came): the answer
	 * waits for the rest, so a cut upload never reads as a success. */
	if (f->ok && f->body_pending)
		return;
	while (f->errlen && (f->err[f->errlen - 1] == '\n'))
		f->err[--f->errlen] = '\0';
	if (f->begun) {
		apistream_end(f->conn, f->ok);
	} else if (f->ok && f->get) {
		apistream_begin(f->conn, 200, "application/x-tar");
		apistream_end(f->conn, 1);
	} else if (f->ok) {
		apistream_answer(f->conn, 200, NULL, "{}");
	} else {
		int missing = strstr(f->err, "No such file") != NULL && f->get;
		if (f->lost)
			fop_error(f, 409, "ConflictException", f->err);
		else
			fop_error(f, missing ? 404 : 400,
				  missing ? "ResourceNotFoundException" : "ValidationException",
				  f->errlen ? f->err : "the copy failed");
	}
	fop_release(f);
}

static void x_started(void *owner, uint32_t pid)
{
	(void)owner;
	(void)pid;
}

static void x_output(void *owner)
{
	fop_pump(owner);
}

static void x_ended(void *owner, const struct execchan_end *e)
{
	struct fop *f = owner;
	f->ended = 1;
	f->ok = e->have_exit && !e->is_signal && e->value == 0;
	f->lost = !e->have_exit;
	if (!e->have_exit && !f->errlen) {
		snprintf(f->err, sizeof f->err, "%s", e->reason ? e->reason : "the copy failed");
		f->errlen = strlen(f->err);
	}
	fop_pump(f);
}

static void resume_cb(lws_sorted_usec_list_t *sul)
{
	struct fop *f = lws_container_of(sul, struct fop, resume_sul);
	if (f->conn && f->body_pending)
		apistream_body_resume(f->conn);
}

/* Room in the stdin queue again: read the client again, but not from inside
 * this callback (reading may queue stdin, which may call us again). */
static void x_stdin_ready(void *owner)
{
	struct fop *f = owner;
	if (f->conn && f->body_pending)
		lws_sul_schedule(f->hd->lws, 0, &f->resume_sul, resume_cb, 1);
}

static const struct execchan_ops x_ops = { x_started, x_output, x_ended, x_stdin_ready };

static void s_drained(void *owner)
{
	fop_pump(owner);
}

static void s_gone(void *owner)
{
	struct fop *f = owner;
	if (!f->conn)
		return;
	fop_release(f); /* closing the channel ends the copy in the VM */
}

/* The streamed body: as much as the stdin queue holds; once the copy has
 * ended, the rest is read and dropped (the answer waits for the end). */
static size_t s_body_room(void *owner)
{
	struct fop *f = owner;
	if (f->ended)
		return 64u * 1024;
	size_t q = execchan_stdin_queued(f->x);
	return q < EXECCHAN_STDIN_MAX ? EXECCHAN_STDIN_MAX - q : 0;
}

static int s_body_data(void *owner, const void *p, size_t n)
{
	struct fop *f = owner;
	if (f->ended)
		return 0;
	return execchan_stdin(f->x, p, n);
}

static void s_body_end(void *owner, int ok)
{
	struct fop *f = owner;
	f->body_pending = 0;
	if (!ok) { /* refused mid-body: the connection answers; the copy stops */
		fop_release(f);
		return;
	}
	if (!f->ended)
		execchan_eof(f->x);
	fop_pump(f);
}

static const struct apistream_ops s_ops = { s_drained, s_gone, s_body_room, s_body_data,
					    s_body_end };

static int files_op(struct route_call *c, struct api_err *e, int get)
{
	static struct shellmsg m;
	struct store_vm vm;
	const char *path = routes_query(c, "path"), *rec = routes_query(c, "recursive");
	char err[256];
	if (!path || !path[0] || strlen(path) > 4096)
		return api_fail(e, API_E_VALIDATION, "the query parameter path is required");
	if (rec && strcmp(rec, "true") && strcmp(rec, "false"))
		return api_fail(e, API_E_VALIDATION, "recursive must be true or false");
	int found = store_vm_get(c->hd->store, c->params[0], &vm);
	if (found <= 0 || !strcmp(vm.state, "TERMINATED"))
		return api_fail(e, "ResourceNotFoundException", "no such microVM: %.64s",
				c->params[0]);
	if (!get && c->body_len == 0 && !c->body_streamed)
		return api_fail(e, API_E_VALIDATION, "the body must be a tar stream");
	memset(&m, 0, sizeof m);
	m.type = SHELLMSG_EXEC;
	m.files_op = get ? MUX_FILES_GET : MUX_FILES_PUT;
	m.files_path = path;
	m.files_recursive = rec && !strcmp(rec, "true");
	m.want_stdin = !get;
	struct fop *f = calloc(1, sizeof *f);
	if (!f)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	f->hd = c->hd;
	f->get = get;
	f->x = execchan_open(c->hd, vm.id, &m, &x_ops, f, err, sizeof err);
	if (!f->x) {
		free(f);
		return api_fail(e, "ConflictException", "%s", err);
	}
	if (!get && !c->body_streamed &&
	    (execchan_stdin(f->x, c->body, c->body_len) < 0 || (execchan_eof(f->x), 0))) {
		execchan_close(f->x);
		free(f);
		return api_fail(e, API_E_INTERNAL, "the body does not fit the channel");
	}
	f->conn = c->conn;
	f->body_pending = !get && c->body_streamed;
	apistream_attach(c->conn, &s_ops, f);
	return ROUTE_DEFERRED;
}

int ops_files_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	(void)out;
	return files_op(c, e, 1);
}

int ops_files_put(struct route_call *c, struct json_object **out, struct api_err *e)
{
	(void)out;
	return files_op(c, e, 0);
}
