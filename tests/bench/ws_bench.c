/*
 * ws_bench.c - the measuring client of `make bench BENCH=ingress`: the shell
 * WebSocket through hearthd's TLS ingress, measured by the same loops and
 * figures as agent_bench, so the lines can be set beside OpenSSH's.
 *
 *   ws_bench [-t SECS] rtt  HOST:PORT VMID TOKEN N WARMUP   shell (compatible core), raw pty cat
 *   ws_bench [-t SECS] bulk HOST:PORT VMID TOKEN BYTES      hearth.v1 exec `head -c BYTES /dev/zero`
 *
 * rtt: opens a shell, types `stty raw -echo; printf READY; exec cat`, then
 * after WARMUP discarded round trips times N single keystrokes until the
 * same byte comes back. bulk: throughput from the first stdout byte to the
 * exit frame. TLS with the server certificate unchecked (loopback bench;
 * the token is what authenticates). Every wait is bounded by one deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "protocol/wsclient.h"
#include "tests/bench/figures.h"

#define READY "READY"
#define RTT_SETUP "stty raw -echo; printf 'RE''ADY'; exec cat\n"
#define FRAME_MAX (1u << 20)
#define IN_MAX (FRAME_MAX + 64)
#define RTT_MAX_N 1000000L

static int64_t deadline;
static const char *phase = "start";
static SSL *ssl;
static int sock = -1;
static uint8_t in[IN_MAX];
static size_t in_len;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ws_bench: %s: ", phase);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void wait_sock(short ev)
{
	struct pollfd p = { .fd = sock, .events = ev };
	for (;;) {
		int64_t left = deadline - fig_now_ns();
		if (left <= 0)
			fail("deadline passed");
		int rc = poll(&p, 1, (int)(left / 1000000) + 1);
		if (rc > 0)
			return;
		if (rc < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
}

/* Read more TLS bytes into in[] (at least one). */
static void fill(void)
{
	if (in_len == sizeof in)
		fail("input buffer full");
	for (;;) {
		int n = SSL_read(ssl, in + in_len, (int)(sizeof in - in_len));
		if (n > 0) {
			in_len += (size_t)n;
			return;
		}
		int e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			wait_sock(POLLIN);
		else if (e == SSL_ERROR_WANT_WRITE)
			wait_sock(POLLOUT);
		else
			fail("connection closed (TLS error %d)", e);
	}
}

static void send_all(const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n > 0) {
		int w = SSL_write(ssl, q, (int)n);
		if (w > 0) {
			q += w;
			n -= (size_t)w;
			continue;
		}
		int e = SSL_get_error(ssl, w);
		if (e == SSL_ERROR_WANT_READ)
			wait_sock(POLLIN);
		else if (e == SSL_ERROR_WANT_WRITE)
			wait_sock(POLLOUT);
		else
			fail("TLS write error %d", e);
	}
}

static void send_frame(uint8_t op, const void *p, size_t n)
{
	static uint8_t mem[WSC_FRAME_HDR_MAX + 4096];
	struct buf b;
	uint8_t mask[4];
	if (getrandom(mask, sizeof mask, 0) != (ssize_t)sizeof mask)
		fail("getrandom");
	buf_init(&b, sizeof mem);
	if (wsc_put_frame(&b, op, p, n, mask) != BUF_OK)
		fail("frame too large");
	send_all(buf_ptr(&b), buf_used(&b));
	buf_free(&b);
}

/* The next server frame (payload copied to out, at most cap); returns its opcode. */
static int next_frame(uint8_t *out, size_t cap, size_t *len)
{
	struct wsc_frame f;
	for (;;) {
		long n = wsc_frame_take(in, in_len, FRAME_MAX, &f);
		if (n < 0)
			fail("bad frame from the server");
		if (n > 0) {
			if (f.len > cap)
				fail("frame of %zu bytes over %zu", f.len, cap);
			memcpy(out, f.payload, f.len);
			*len = f.len;
			int op = f.opcode;
			memmove(in, in + n, in_len - (size_t)n);
			in_len -= (size_t)n;
			if (op == WSC_PING) {
				send_frame(WSC_PONG, out, *len);
				continue;
			}
			if (op == WSC_CLOSE)
				fail("server closed: %.*s", (int)(*len > 2 ? *len - 2 : 0), out + 2);
			return op;
		}
		fill();
	}
}

static void connect_ws(const char *hostport, const char *vm, const char *token, int v1)
{
	char host[256], port[16], hosthdr[320], tokproto[1100], req[4096];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof host || strlen(colon + 1) >= sizeof port)
		fail("bad HOST:PORT %s", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	snprintf(port, sizeof port, "%s", colon + 1);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	phase = "connect";
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		fail("cannot resolve %s", host);
	sock = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Blocking connect and handshake, bounded by socket timeouts; after them
	 * the socket is non-blocking and every wait goes through wait_sock. */
	struct timeval tv = { .tv_sec = (deadline - fig_now_ns()) / 1000000000 + 1 };
	if (sock < 0 || setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(sock, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("connect %s: %s", hostport, strerror(errno));
	freeaddrinfo(ai);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !(ssl = SSL_new(ctx)))
		fail("TLS setup");
	snprintf(hosthdr, sizeof hosthdr, "%s.localhost:%s", vm, port);
	SSL_set_fd(ssl, sock);
	SSL_set_tlsext_host_name(ssl, hosthdr);
	phase = "TLS handshake";
	if (SSL_connect(ssl) != 1)
		fail("handshake failed");
	int fl = fcntl(sock, F_GETFL);
	if (fl < 0 || fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0)
		fail("fcntl: %s", strerror(errno));
	uint8_t raw[16];
	char key[WSC_KEY_LEN + 1];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fail("getrandom");
	wsc_key(raw, key);
	snprintf(tokproto, sizeof tokproto, "lambda-microvms.authentication.%s", token);
	struct wsc_request r = { .host = hosthdr, .path = "/", .key = key,
				 .protocols = { "lambda-microvms", tokproto, "hearth.v1" },
				 .nprotocols = v1 ? 3 : 2 };
	int n = wsc_request(req, sizeof req, &r);
	if (n < 0)
		fail("cannot build the request");
	phase = "upgrade";
	send_all(req, (size_t)n);
	struct wsc_response resp;
	int hl;
	while ((hl = wsc_parse_response((const char *)in, in_len, &resp)) == 0)
		fill();
	if (hl < 0)
		fail("bad answer");
	if (wsc_verify(&resp, &r) != WSC_OK)
		fail("refused: HTTP %d (%s)", resp.status, wsc_verdict_str(wsc_verify(&resp, &r)));
	memmove(in, in + hl, in_len - (size_t)hl);
	in_len -= (size_t)hl;
}

/* Wait for a TEXT frame containing `what`; BINARY frames are skipped. */
static void expect_text(const char *what)
{
	static uint8_t p[FRAME_MAX];
	size_t n;
	for (;;) {
		int op = next_frame(p, sizeof p - 1, &n);
		if (op != WSC_TEXT)
			continue;
		p[n] = '\0';
		if (strstr((char *)p, what))
			return;
		if (strstr((char *)p, "\"error\""))
			fail("server error: %s", (char *)p);
	}
}

static void do_rtt(long n, long warm)
{
	static uint8_t p[FRAME_MAX];
	char scan[256] = { 0 };
	size_t got, sl = 0;
	expect_text("session_init");
	const char *size = "{\"type\":\"resize\",\"cols\":80,\"rows\":24}";
	send_frame(WSC_TEXT, size, strlen(size));
	phase = "shell setup";
	send_frame(WSC_BINARY, RTT_SETUP, strlen(RTT_SETUP));
	/* READY arrives after the echoed command line, which cannot contain it. */
	while (!strstr(scan, READY)) {
		if (next_frame(p, sizeof p, &got) != WSC_BINARY)
			continue;
		for (size_t i = 0; i < got; i++) {
			if (sl == sizeof scan - 1) {
				memmove(scan, scan + 128, sl - 128);
				sl -= 128;
			}
			scan[sl++] = p[i] ? (char)p[i] : '.';
			scan[sl] = '\0';
		}
	}
	int64_t *s = calloc((size_t)n, sizeof *s);
	if (!s)
		fail("out of memory");
	phase = "round trips";
	for (long i = -warm; i < n; i++) {
		uint8_t c = (uint8_t)('a' + (i + warm) % 26);
		int64_t t0 = fig_now_ns();
		send_frame(WSC_BINARY, &c, 1);
		for (;;) {
			if (next_frame(p, sizeof p, &got) != WSC_BINARY || got == 0)
				continue;
			if (got != 1 || p[0] != c)
				fail("echo mismatch (%zu bytes)", got);
			break;
		}
		if (i >= 0)
			s[i] = fig_now_ns() - t0;
	}
	fig_print_rtt(s, n);
	free(s);
}

static void do_bulk(unsigned long long bytes, int64_t t_start)
{
	static uint8_t p[FRAME_MAX];
	char req[256];
	size_t got;
	unsigned long long seen = 0;
	int64_t t_first = 0;
	expect_text("\"hello\"");
	snprintf(req, sizeof req,
		 "{\"type\":\"exec\",\"argv\":[\"head\",\"-c\",\"%llu\",\"/dev/zero\"]}", bytes);
	send_frame(WSC_TEXT, req, strlen(req));
	phase = "bulk";
	for (;;) {
		int op = next_frame(p, sizeof p - 1, &got);
		if (op == WSC_BINARY && got > 0) {
			if (!t_first)
				t_first = fig_now_ns();
			if (p[0] == 1)
				seen += got - 1;
			continue;
		}
		if (op == WSC_TEXT) {
			p[got] = '\0';
			if (strstr((char *)p, "\"exit\""))
				break;
			if (strstr((char *)p, "\"error\""))
				fail("server error: %s", (char *)p);
		}
	}
	int64_t t_end = fig_now_ns();
	if (seen != bytes)
		fail("got %llu of %llu bytes", seen, bytes);
	fig_print_bulk(bytes, t_start, t_first, t_end);
}

int main(int argc, char **argv)
{
	int secs = 60, a = 1;
	if (argc > 2 && !strcmp(argv[1], "-t")) {
		secs = atoi(argv[2]);
		a = 3;
	}
	if (secs <= 0 || argc - a < 5) {
		fprintf(stderr, "usage: ws_bench [-t SECS] rtt HOST:PORT VMID TOKEN N WARMUP\n"
				"       ws_bench [-t SECS] bulk HOST:PORT VMID TOKEN BYTES\n");
		return 2;
	}
	int64_t t_start = fig_now_ns();
	deadline = t_start + (int64_t)secs * 1000000000;
	const char *mode = argv[a], *hp = argv[a + 1], *vm = argv[a + 2], *tok = argv[a + 3];
	if (!strcmp(mode, "rtt") && argc - a == 6) {
		long n = atol(argv[a + 4]), w = atol(argv[a + 5]);
		if (n < 1 || n > RTT_MAX_N || w < 0 || w > RTT_MAX_N)
			fail("bad N or WARMUP");
		connect_ws(hp, vm, tok, 0);
		do_rtt(n, w);
	} else if (!strcmp(mode, "bulk") && argc - a == 5) {
		unsigned long long bytes = strtoull(argv[a + 4], NULL, 10);
		if (bytes == 0)
			fail("bad BYTES");
		connect_ws(hp, vm, tok, 1);
		do_bulk(bytes, t_start);
	} else {
		fail("unknown mode or wrong arguments");
	}
	return 0;
}
