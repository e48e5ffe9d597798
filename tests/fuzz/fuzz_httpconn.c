/* fuzz_httpconn.c - the API's whole server-side request path (session/httpconn.c
 * over protocol/httpsrv.c) on one connection: arbitrary bytes, fed in chunks
 * of varying size with the answers read at varying pace, to the connection
 * core with a recording dispatcher. Asserts (abort) that
 *  - nothing is dispatched once the connection refused a request or is
 *    closing, and a request sent after that (a smuggled DELETE) never runs;
 *  - every dispatched path passed the checks: no NUL or control byte, no
 *    encoded '/' or '\', no dot or empty segment, no ';', and decoding it
 *    again gives the same path;
 *  - the answers are well-formed HTTP/1.1 responses, one per request that
 *    reached the auth hook, in order, plus at most one refusal, which is the
 *    last answer and says Connection: close;
 *  - a streamed body (PUT /s) is handed on never past the owner's room
 *    (random, sometimes 0 until a resume) nor past the bound, and ends once;
 *    its owner answers at the body's end, from inside the callback, or early
 *    (then the connection closes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/httpreq.h"
#include "protocol/httpsrv.h"
#include "session/httpconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct httpconn *conn;
static unsigned dispatched, authed;
static unsigned char heads[4096]; /* per request reaching the auth hook: was it HEAD */
#define STREAM_MAX 3000u
static size_t room;        /* what the streamed body's owner takes now */
static uint64_t streamed;
static int owning;         /* a streamed request waits for its answer */
static unsigned owned_n;   /* the number its 200 answer carries */

static int ctl(int c)
{
	return c < 0x20 || c == 0x7f;
}

/* An independent reading of what a dispatched request may look like. */
static void check_paths(const struct httpmsg_request *rq)
{
	const char *raw = rq->raw_path, *p = rq->path;
	if (!raw || !p || raw[0] != '/' || p[0] != '/')
		abort();
	if (strchr(raw, ';') || strchr(raw, '\\') || strcasestr(raw, "%2f") ||
	    strcasestr(raw, "%5c") || strstr(raw, "%00"))
		abort();
	for (const char *q = raw; *q; q++)
		if (ctl((unsigned char)*q) || (unsigned char)*q >= 0x7f || *q == ' ')
			abort();
	for (const char *q = p; *q; q++)
		if (ctl((unsigned char)*q) || *q == '\\')
			abort();
	/* Segments of the decoded path: none empty but the last, none "." or "..". */
	for (const char *s = p + 1;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if ((n == 0 && slash) || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			abort();
		if (!slash)
			break;
		s = slash + 1;
	}
	static char again[2 * HTTPSRV_HEAD_MAX];
	const char *why;
	if (strlen(p) > strlen(raw) || httpsrv_path(raw, again, sizeof again, &why) != 0 ||
	    strcmp(again, p) != 0)
		abort();
	if (!rq->target || strncmp(rq->target, raw, strlen(raw)) != 0)
		abort();
}

static int auth(void *ctx, const struct httpmsg_request *rq, struct api_err *e)
{
	(void)ctx;
	if (httpconn_closing(conn))
		abort();
	if (authed < sizeof heads)
		heads[authed] = strcmp(rq->method, "HEAD") == 0;
	authed++;
	if (httpmsg_get(rq, "x-deny")) {
		e->type = "AccessDeniedException";
		strcpy(e->msg, "denied");
		return -1;
	}
	return 0;
}

static void dispatch(void *ctx, enum route_method m, const struct httpmsg_request *rq,
		     const struct route_query *q, unsigned nq, struct route_resp *resp)
{
	(void)ctx;
	(void)m;
	if (httpconn_closing(conn) || rq->body_len > API_MAX_BODY || nq > ROUTE_MAX_QUERY)
		abort();
	check_paths(rq);
	if (rq->body_streamed) {
		if (owning || rq->body_len || strcmp(rq->path, "/s"))
			abort();
		owning = 1;
		streamed = 0;
		owned_n = dispatched++;
		resp->status = ROUTE_DEFERRED;
		return;
	}
	for (unsigned i = 0; i < nq; i++)
		for (const char *s = q[i].value; *s; s++)
			if (ctl((unsigned char)*s))
				abort();
	char body[32];
	int n = snprintf(body, sizeof body, "{\"n\":%u}", dispatched++);
	resp->status = 200;
	resp->body = malloc((size_t)n + 1);
	if (!resp->body)
		abort();
	memcpy(resp->body, body, (size_t)n + 1);
	resp->len = (size_t)n;
}

static uint32_t rng;

static uint32_t next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* ---- the streamed-body owner ---- */

static int pick(void *ctx, const struct httpmsg_request *rq)
{
	(void)ctx;
	if (!strcmp(rq->path, "/s"))
		return HTTPSRV_STREAM_YES;
	return !strcmp(rq->path, "/t") ? HTTPSRV_STREAM_SIGNED : HTTPSRV_STREAM_NO;
}

static size_t body_room(void *ctx)
{
	(void)ctx;
	if (!owning)
		abort();
	return room;
}

static int body_data(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)p;
	if (!owning || n > room || streamed + n > STREAM_MAX)
		abort();
	room -= n;
	streamed += n;
	return 0;
}

static void owner_answer(void)
{
	char b[32];
	snprintf(b, sizeof b, "{\"n\":%u}", owned_n);
	owning = 0;
	httpconn_deferred_answer(conn, 200, NULL, b);
}

static void body_end(void *ctx, int ok)
{
	(void)ctx;
	if (!owning)
		abort();
	if (!ok) {
		owning = 0; /* the connection answers the refusal, not a 200 */
		dispatched--;
		return;
	}
	owner_answer();
}

struct sink {
	uint8_t *p;
	size_t n, cap;
};

/* Read some (or all) of the answers. */
static void drain(struct sink *o, int all)
{
	size_t n;
	const uint8_t *p = httpconn_output(conn, &n);
	if (!all && n)
		n = next_rand() % (n + 1);
	if (!n)
		return;
	if (o->n + n > o->cap) {
		size_t cap = (o->n + n) * 2;
		uint8_t *np = realloc(o->p, cap);
		if (!np)
			abort();
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
	if (httpconn_written(conn, n) < 0)
		abort();
}

/*
 * Walk the answers: one per request that reached the auth hook, in order
 * (dispatched ones are 200 and carry their number), then at most one
 * refusal. Returns how many final (non-1xx) answers there are.
 */
static unsigned check_answers(const uint8_t *p, size_t n)
{
	unsigned finals = 0, oks = 0;
	size_t at = 0;
	while (at < n) {
		struct httpreq_resp r;
		int extra = finals >= authed; /* not a framed request's: a refusal */
		int head_req = !extra && finals < sizeof heads && heads[finals];
		int hl = httpreq_parse_response((const char *)p + at, n - at, head_req, &r);
		if (hl <= 0)
			abort();
		at += (size_t)hl;
		if (r.status == 100)
			continue;
		if (r.framing == HTTPREQ_BODY_LENGTH) {
			/* A refused HEAD request is answered without its body. */
			if (!(extra && at == n)) {
				if (r.length > n - at)
					abort();
				if (r.status == 200) {
					char want[32];
					int wl = snprintf(want, sizeof want, "{\"n\":%u}", oks);
					if (r.length != (uint64_t)wl || memcmp(p + at, want, (size_t)wl))
						abort();
				}
				at += (size_t)r.length;
			}
		} else if (r.framing != HTTPREQ_BODY_NONE)
			abort();
		if (r.status == 200)
			oks++;
		if (extra && (r.status < 400 || !r.close || finals > authed))
			abort();
		finals++;
		if (r.close && at != n)
			abort(); /* nothing after a Connection: close answer */
	}
	if (oks != dispatched)
		abort();
	return finals;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct httpconn_cfg cfg = { .dispatch = dispatch, .auth = auth, .stream_pick = pick,
				    .stream_max = STREAM_MAX, .body_room = body_room,
				    .body_data = body_data, .body_end = body_end };
	owning = 0;
	room = 0;
	conn = httpconn_new(&cfg);
	if (!conn)
		abort();
	rng = (uint32_t)data[0] * 2654435761u + data[1];
	data += 2;
	size -= 2;
	dispatched = authed = 0;
	struct sink out = { 0 };
	for (size_t at = 0; at < size;) {
		size_t chunk = 1 + next_rand() % 512;
		if (chunk > size - at)
			chunk = size - at;
		if (httpconn_input(conn, data + at, chunk) < 0)
			abort();
		at += chunk;
		drain(&out, (next_rand() & 3) == 0);
		if (owning && httpconn_streaming(conn)) {
			uint32_t r = next_rand();
			if ((r & 15) == 0) {
				owner_answer(); /* early: the rest of the body is never read */
			} else {
				room = r % 700;
				httpconn_resume(conn);
			}
		}
	}
	if (owning)
		owner_answer(); /* the client left mid-body: answered, closing */
	while (1) {
		size_t n;
		httpconn_output(conn, &n);
		if (!n)
			break;
		drain(&out, 1);
	}
	/* Requests cut short at the end stay unanswered; the rest are answered. */
	int closing = httpconn_closing(conn);
	unsigned finals = check_answers(out.p, out.n);
	if (finals != authed && !(closing && finals == authed + 1))
		abort();
	if (authed < dispatched)
		abort();
	if (closing) {
		/* The smuggled request: never framed, never run, never answered. */
		static const char smuggled[] = "DELETE /2025-09-09/microvms/mvm-1 HTTP/1.1\r\n"
					       "Host: x\r\n\r\n";
		unsigned before = dispatched;
		if (httpconn_input(conn, (const uint8_t *)smuggled, sizeof smuggled - 1) < 0)
			abort();
		size_t n;
		httpconn_output(conn, &n);
		if (dispatched != before || n)
			abort();
	}
	free(out.p);
	httpconn_free(conn);
	conn = NULL;
	return 0;
}
