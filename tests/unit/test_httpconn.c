/* test_httpconn.c - the API connection core (session/httpconn.c): order,
 * refusals that end the connection, the auth hook, HEAD, pausing. */
#include <stdlib.h>

#include "protocol/httpsrv.h"
#include "session/httpconn.h"
#include "test.h"

static unsigned calls;
static char last_path[256];
static int deny;
static int defer_next; /* the next request is answered later (ROUTE_DEFERRED) */

static void dispatch(void *ctx, enum route_method m, const struct httpmsg_request *rq,
		     const struct route_query *q, unsigned nq, struct route_resp *resp)
{
	(void)ctx;
	calls++;
	snprintf(last_path, sizeof last_path, "%s", rq->path);
	if (defer_next) {
		defer_next = 0;
		resp->status = ROUTE_DEFERRED;
		return;
	}
	char body[64];
	snprintf(body, sizeof body, "{\"m\":%d,\"q\":\"%s\"}", (int)m, nq ? q[0].value : "");
	resp->status = 200;
	resp->body = strdup(body);
	resp->len = strlen(body);
}

static int auth(void *ctx, const struct httpmsg_request *rq, struct api_err *e)
{
	(void)ctx;
	(void)rq;
	if (!deny)
		return 0;
	e->type = "InvalidSignatureException";
	snprintf(e->msg, sizeof e->msg, "bad signature");
	return -1;
}

static struct httpconn *open_conn(void)
{
	struct httpconn_cfg cfg = { .dispatch = dispatch, .auth = auth };
	calls = 0;
	deny = 0;
	return httpconn_new(&cfg);
}

static int feed(struct httpconn *c, const char *s)
{
	return httpconn_input(c, (const uint8_t *)s, strlen(s));
}

/* Everything written so far, as a string (consumed). */
static const char *take(struct httpconn *c)
{
	static char out[1 << 20];
	size_t n;
	const uint8_t *p = httpconn_output(c, &n);
	if (n >= sizeof out)
		n = sizeof out - 1;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
	httpconn_written(c, n);
	return out;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(smuggled_request_never_runs)
{
	struct httpconn *c = open_conn();
	CHECK_EQ(feed(c, "POST /2025-09-09/microvms HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
			 "DELETE /2025-09-09/microvms/mvm-1 HTTP/1.1\r\nHost: x\r\n\r\n"),
		 0);
	const char *out = take(c);
	CHECK_EQ(calls, 0u);
	CHECK(starts(out, "HTTP/1.1 400 Bad Request\r\n"));
	CHECK(strstr(out, "x-amzn-ErrorType: ValidationException\r\n"));
	CHECK(strstr(out, "Content-Type: application/json\r\n"));
	CHECK(strstr(out, "Connection: close\r\n"));
	CHECK(strstr(out, "\r\n\r\n{\"message\":\"bad or repeated Content-Length\"}"));
	CHECK_EQ(count(out, "HTTP/1.1"), 1);
	CHECK(httpconn_closing(c));
	/* Later bytes too are dropped unread. */
	CHECK_EQ(feed(c, "DELETE /2025-09-09/microvms/mvm-1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	CHECK_EQ(calls, 0u);
	CHECK_STR(take(c), "");
	httpconn_free(c);
}

TEST(pipelined_in_order_with_query)
{
	struct httpconn *c = open_conn();
	CHECK_EQ(feed(c, "GET /a?x=1+2%21 HTTP/1.1\r\nHost: x\r\n\r\nDELETE /b HTTP/1.1\r\nHo"), 0);
	CHECK_EQ(calls, 1u);
	CHECK_STR(last_path, "/a");
	CHECK_EQ(feed(c, "st: x\r\n\r\n"), 0);
	CHECK_EQ(calls, 2u);
	CHECK_STR(last_path, "/b");
	const char *out = take(c);
	CHECK_EQ(count(out, "HTTP/1.1 200 OK\r\n"), 2);
	const char *first = strstr(out, "{\"m\":1,\"q\":\"1 2!\"}");
	const char *second = strstr(out, "{\"m\":5,");
	CHECK(first && second && first < second);
	CHECK(!strstr(out, "Connection:"));
	CHECK(!httpconn_closing(c));
	httpconn_free(c);
}

TEST(auth_refusal_keeps_the_connection)
{
	struct httpconn *c = open_conn();
	deny = 1;
	CHECK_EQ(feed(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	const char *out = take(c);
	CHECK_EQ(calls, 0u);
	CHECK(starts(out, "HTTP/1.1 403 Forbidden\r\n"));
	CHECK(strstr(out, "x-amzn-ErrorType: InvalidSignatureException\r\n"));
	CHECK(strstr(out, "{\"message\":\"bad signature\"}"));
	CHECK(!httpconn_closing(c));
	deny = 0;
	CHECK_EQ(feed(c, "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
	CHECK_EQ(calls, 1u);
	CHECK(strstr(take(c), "Connection: close\r\n"));
	CHECK(httpconn_closing(c));
	httpconn_free(c);
}

TEST(head_has_no_body_and_errors_their_shape)
{
	struct httpconn *c = open_conn();
	CHECK_EQ(feed(c, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	const char *out = take(c);
	CHECK(strstr(out, "Content-Length: 14\r\n"));
	CHECK(strstr(out, "\r\n\r\n") + 4 == out + strlen(out));
	CHECK_EQ(feed(c, "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: "), 0);
	char pad[HTTPSRV_HEAD_MAX];
	memset(pad, 'a', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	CHECK_EQ(feed(c, pad), 0);
	out = take(c);
	CHECK(starts(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
	CHECK(strstr(out, "x-amzn-ErrorType: RequestHeaderFieldsTooLargeException\r\n"));
	CHECK(httpconn_closing(c));
	httpconn_free(c);
}

TEST(expect_continue_and_pause)
{
	struct httpconn *c = open_conn();
	CHECK_EQ(feed(c, "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
			 "Content-Length: 2\r\n\r\n"),
		 0);
	CHECK_STR(take(c), "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_EQ(feed(c, "{}"), 0);
	CHECK(starts(take(c), "HTTP/1.1 200 OK\r\n"));
	/* Requests beyond what the unread answers allow wait, in order. */
	static const char req[] = "GET /p HTTP/1.1\r\nHost: x\r\n\r\n";
	unsigned sent = 0;
	while (!httpconn_paused(c) && sent < 100000) {
		CHECK_EQ(feed(c, req), 0);
		sent++;
	}
	CHECK(httpconn_paused(c));
	CHECK(calls < sent + 1);
	take(c);
	while (httpconn_paused(c) || calls < sent + 1) {
		size_t n;
		httpconn_output(c, &n);
		CHECK(n > 0);
		take(c);
	}
	CHECK_EQ(calls, sent + 1);
	httpconn_free(c);
}

TEST(deferred_stream_holds_the_next_request)
{
	struct httpconn *c = open_conn();
	defer_next = 1;
	CHECK_EQ(feed(c, "GET /files HTTP/1.1\r\nHost: x\r\n\r\n"
			 "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	CHECK_EQ(calls, 1u);
	CHECK(httpconn_deferred(c));
	CHECK_STR(take(c), ""); /* nothing until the stream starts */
	httpconn_stream_begin(c, 200, "application/x-tar");
	CHECK_EQ(httpconn_stream_data(c, "abc", 3), 0);
	CHECK_EQ(httpconn_stream_data(c, "", 0), 0); /* never a premature last chunk */
	const char *o = take(c);
	CHECK(starts(o, "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"));
	CHECK_EQ(calls, 1u); /* the pipelined request waits */
	httpconn_stream_end(c, 1);
	CHECK(!httpconn_deferred(c));
	o = take(c);
	CHECK(starts(o, "0\r\n\r\nHTTP/1.1 200 OK"));
	CHECK_EQ(calls, 2u);
	CHECK_STR(last_path, "/after");
	/* a deferred error answer, then a cut stream closes the connection */
	defer_next = 1;
	CHECK_EQ(feed(c, "GET /files HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	httpconn_deferred_answer(c, 404, "ResourceNotFoundException", "{\"message\":\"no\"}");
	o = take(c);
	CHECK(starts(o, "HTTP/1.1 404 Not Found\r\n"));
	CHECK(strstr(o, "x-amzn-ErrorType: ResourceNotFoundException\r\n") != NULL);
	CHECK(!httpconn_closing(c));
	defer_next = 1;
	CHECK_EQ(feed(c, "GET /files HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	httpconn_stream_begin(c, 200, "application/x-tar");
	httpconn_stream_end(c, 0);
	CHECK(httpconn_closing(c));
	o = take(c);
	CHECK(strstr(o, "0\r\n\r\n") == NULL);
	httpconn_free(c);
}

/* ---- streamed bodies: /s streams; the owner's room is set by the test ---- */
static size_t room;
static char sbody[8192];
static size_t sbody_len;
static int ends, end_ok, answer_at_end;
static struct httpconn *sconn;

static int s_pick(void *ctx, const struct httpmsg_request *rq)
{
	(void)ctx;
	return !strcmp(rq->path, "/s") ? HTTPSRV_STREAM_YES : HTTPSRV_STREAM_NO;
}

static size_t s_room(void *ctx)
{
	(void)ctx;
	return room;
}

static int s_data(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	if (n > room || n > sizeof sbody - sbody_len)
		abort(); /* never more than the room said */
	memcpy(sbody + sbody_len, p, n);
	sbody_len += n;
	room -= n;
	return 0;
}

static void s_end(void *ctx, int ok)
{
	(void)ctx;
	ends++;
	end_ok = ok;
	if (ok && answer_at_end) /* the owner answers from inside the callback */
		httpconn_deferred_answer(sconn, 200, NULL, "{}");
}

static struct httpconn *open_stream_conn(uint64_t max)
{
	struct httpconn_cfg cfg = { .dispatch = dispatch, .auth = auth, .stream_pick = s_pick,
				    .stream_max = max, .body_room = s_room, .body_data = s_data,
				    .body_end = s_end };
	calls = 0;
	deny = 0;
	room = 0;
	sbody_len = 0;
	ends = end_ok = answer_at_end = 0;
	return sconn = httpconn_new(&cfg);
}

TEST(streamed_body_follows_the_owners_room)
{
	struct httpconn *c = open_stream_conn(1u << 20);
	static char req[8192];
	int hl = snprintf(req, sizeof req, "PUT /s HTTP/1.1\r\nHost: x\r\n"
					   "Content-Length: 5000\r\n\r\n");
	memset(req + hl, 'b', 5000);
	strcpy(req + hl + 5000, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
	defer_next = 1;
	CHECK_EQ(feed(c, req), 0);
	CHECK_EQ(calls, 1u); /* routed at the head, before any body byte */
	CHECK(httpconn_streaming(c));
	CHECK(httpconn_paused(c)); /* room 0: the body is held, the socket not read */
	CHECK_EQ(sbody_len, 0u);
	room = 1000;
	httpconn_resume(c);
	CHECK_EQ(sbody_len, 1000u);
	CHECK(httpconn_paused(c));
	room = 1u << 20;
	answer_at_end = 1; /* answered from body_end: the next request runs after it */
	httpconn_resume(c);
	CHECK_EQ(sbody_len, 5000u);
	CHECK_EQ(ends, 1);
	CHECK(end_ok);
	CHECK(!httpconn_streaming(c));
	CHECK_EQ(calls, 2u);
	CHECK_STR(last_path, "/after");
	const char *out = take(c);
	CHECK(starts(out, "HTTP/1.1 200 OK\r\n"));
	CHECK_EQ(count(out, "HTTP/1.1 200 OK"), 2);
	CHECK(!httpconn_closing(c));
	httpconn_free(c);
}

TEST(streamed_body_refusals)
{
	/* over the bound mid-body: the owner is told, the connection answers and closes */
	struct httpconn *c = open_stream_conn(10);
	defer_next = 1;
	room = 100;
	CHECK_EQ(feed(c, "PUT /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\nDELETE /x HTTP/1.1\r\n\r\n"),
		 0);
	CHECK_EQ(ends, 1);
	CHECK(!end_ok);
	CHECK(httpconn_closing(c));
	const char *out = take(c);
	CHECK(starts(out, "HTTP/1.1 413 "));
	CHECK(strstr(out, "Connection: close") != NULL);
	CHECK_EQ(calls, 1u); /* the DELETE never runs */
	httpconn_free(c);
	/* answered before the body's end: Connection: close, the rest unread */
	c = open_stream_conn(1u << 20);
	defer_next = 1;
	room = 3;
	CHECK_EQ(feed(c, "PUT /s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 0);
	httpconn_deferred_answer(c, 400, "ValidationException", "{\"message\":\"no\"}");
	CHECK(httpconn_closing(c));
	out = take(c);
	CHECK(starts(out, "HTTP/1.1 400 "));
	CHECK(strstr(out, "Connection: close") != NULL);
	CHECK_EQ(ends, 0);
	httpconn_free(c);
	/* refused at the head (auth): answered, closed, body never handed on */
	c = open_stream_conn(1u << 20);
	deny = 1;
	room = 100;
	CHECK_EQ(feed(c, "PUT /s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"), 0);
	CHECK(httpconn_closing(c));
	CHECK(starts(take(c), "HTTP/1.1 403 "));
	CHECK_EQ(sbody_len, 0u);
	CHECK_EQ(calls, 0u);
	httpconn_free(c);
}

TEST_MAIN(T(streamed_body_follows_the_owners_room), T(streamed_body_refusals),
	  T(smuggled_request_never_runs), T(pipelined_in_order_with_query),
	  T(auth_refusal_keeps_the_connection), T(head_has_no_body_and_errors_their_shape),
	  T(expect_continue_and_pause), T(deferred_stream_holds_the_next_request))
