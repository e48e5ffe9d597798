/*
 * guestapp.c - a small HTTP/1.1 test server for the busybox guest (static,
 * no libraries), the application behind the app proxy's integration tests.
 * Usage: guestapp [-d] PORT... (one process per connection, keep-alive).
 * -d: go to the background once every port listens (so a start command that
 * returns means the app is reachable).
 *
 *   GET /            "hello from port N"
 *   GET /headers     the request head exactly as it arrived
 *   POST /echo       the body (Content-Length or chunked, decoded), sent back chunked
 *   GET /sse?n=N     N server-sent events, 300 ms apart, each written as it happens
 *   GET /sse?n=N&gate=G  event 0 at once, event i only after GET /sse-next?g=G&i=i
 *                    (on any connection): streaming shows without timing anything
 *   GET /close       an answer with Connection: close
 *   GET /big?n=N     N bytes ("0123456789" repeated) with Content-Length
 *   GET /until-close a body delimited by the end of the connection
 *   GET /stray       a whole answer followed by bytes nobody asked for
 *   GET /ws          WebSocket echo; the first offered subprotocol is selected;
 *                    the text message "?headers" gets the upgrade request head back,
 *                    "?port" gets "port N"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BODY_MAX (4u * 1024 * 1024)
#define PORTS_MAX 8

struct conn {
	int fd, port;
	char buf[HEAD_MAX * 2];
	size_t len; /* bytes in buf */
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read more into c->buf; -1 on EOF or error. */
static int fill(struct conn *c)
{
	if (c->len == sizeof c->buf)
		return -1;
	ssize_t k;
	do
		k = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return -1;
	c->len += (size_t)k;
	return 0;
}

static void drop(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* n bytes from the connection into out. */
static int take(struct conn *c, void *out, size_t n)
{
	char *o = out;
	while (n) {
		if (!c->len && fill(c) < 0)
			return -1;
		size_t k = n < c->len ? n : c->len;
		memcpy(o, c->buf, k);
		drop(c, k);
		o += k;
		n -= k;
	}
	return 0;
}

/* One CRLF-terminated line (without it) into out; -1 on EOF or overlong. */
static int take_line(struct conn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memmem(c->buf, c->len, "\r\n", 2);
		if (nl) {
			size_t l = (size_t)(nl - c->buf);
			if (l >= cap)
				return -1;
			memcpy(out, c->buf, l);
			out[l] = '\0';
			drop(c, l + 2);
			return 0;
		}
		if (fill(c) < 0)
			return -1;
	}
}

/* The value of header name in head (case-insensitive), copied; "" when absent. */
static void header(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (!strncasecmp(l, name, nl) && l[nl] == ':') {
			const char *v = l + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			size_t n = e ? (size_t)(e - v) : strlen(v);
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

static int head_only; /* the request being answered is HEAD */

static int reply(struct conn *c, const char *status, const char *type, const char *body,
		 size_t n, int close_after)
{
	char h[256];
	int hl = snprintf(h, sizeof h,
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			  status, type, n, close_after ? "Connection: close\r\n" : "");
	return write_all(c->fd, h, (size_t)hl) < 0 || (!head_only && write_all(c->fd, body, n) < 0)
		       ? -1
		       : 0;
}

static int chunk(int fd, const void *p, size_t n)
{
	char h[32];
	int hl = snprintf(h, sizeof h, "%zx\r\n", n);
	return write_all(fd, h, (size_t)hl) < 0 || write_all(fd, p, n) < 0 ||
			       write_all(fd, "\r\n", 2) < 0
		       ? -1
		       : 0;
}

/* The request body, decoded, into a malloc'd buffer. */
static char *read_body(struct conn *c, const char *head, size_t *len)
{
	char v[64];
	char *body = malloc(BODY_MAX);
	*len = 0;
	if (!body)
		return NULL;
	header(head, "Transfer-Encoding", v, sizeof v);
	if (!strcasecmp(v, "chunked")) {
		char line[4200];
		for (;;) {
			if (take_line(c, line, sizeof line) < 0)
				goto fail;
			size_t n = strtoul(line, NULL, 16);
			if (n == 0)
				break;
			if (n > BODY_MAX - *len || take(c, body + *len, n) < 0 ||
			    take_line(c, line, sizeof line) < 0)
				goto fail;
			*len += n;
		}
		do /* trailers up to the empty line */
			if (take_line(c, line, sizeof line) < 0)
				goto fail;
		while (line[0]);
		return body;
	}
	header(head, "Content-Length", v, sizeof v);
	size_t n = strtoul(v, NULL, 10);
	if (n > BODY_MAX || take(c, body, n) < 0)
		goto fail;
	*len = n;
	return body;
fail:
	free(body);
	return NULL;
}

/* ---- SHA-1 and base64, for the WebSocket accept key ---- */

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
	uint8_t block[64];
	size_t total = ((len + 8) / 64 + 1) * 64;
	for (size_t off = 0; off < total; off += 64) {
		for (size_t i = 0; i < 64; i++) {
			size_t k = off + i;
			block[i] = k < len ? msg[k] : k == len ? 0x80 : 0;
		}
		if (off + 64 == total)
			for (int i = 0; i < 8; i++)
				block[63 - i] = (uint8_t)(((uint64_t)len * 8) >> (8 * i));
		uint32_t w[80];
		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
			       (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
		for (int i = 16; i < 80; i++)
			w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (int i = 0; i < 80; i++) {
			uint32_t f, k;
			if (i < 20)
				f = (b & c) | (~b & d), k = 0x5A827999;
			else if (i < 40)
				f = b ^ c ^ d, k = 0x6ED9EBA1;
			else if (i < 60)
				f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
			else
				f = b ^ c ^ d, k = 0xCA62C1D6;
			uint32_t t = rol(a, 5) + f + e + k + w[i];
			e = d;
			d = c;
			c = rol(b, 30);
			b = a;
			a = t;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	}
	for (int i = 0; i < 20; i++)
		out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		*out++ = t[v >> 18];
		*out++ = t[(v >> 12) & 63];
		*out++ = i + 1 < n ? t[(v >> 6) & 63] : '=';
		*out++ = i + 2 < n ? t[v & 63] : '=';
	}
	*out = '\0';
}

static int ws_send(int fd, int op, const void *p, size_t n)
{
	uint8_t h[10];
	size_t hl = 2;
	h[0] = (uint8_t)(0x80 | op);
	if (n < 126)
		h[1] = (uint8_t)n;
	else if (n < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else
		return -1;
	return write_all(fd, h, hl) < 0 || write_all(fd, p, n) < 0 ? -1 : 0;
}

static void websocket(struct conn *c, const char *head)
{
	char key[128], protos[1024], in[200], acc[40], resp[512];
	uint8_t md[20];
	header(head, "Sec-WebSocket-Key", key, sizeof key);
	header(head, "Sec-WebSocket-Protocol", protos, sizeof protos);
	snprintf(in, sizeof in, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	sha1((const uint8_t *)in, strlen(in), md);
	base64(md, 20, acc);
	char *comma = strchr(protos, ',');
	if (comma)
		*comma = '\0';
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
			 acc, protos[0] ? "Sec-WebSocket-Protocol: " : "", protos,
			 protos[0] ? "\r\n" : "");
	if (write_all(c->fd, resp, (size_t)n) < 0)
		return;
	static uint8_t payload[65536];
	for (;;) {
		uint8_t h[2], ext[8], mask[4];
		if (take(c, h, 2) < 0)
			return;
		uint64_t len = h[1] & 0x7f;
		if (len == 126) {
			if (take(c, ext, 2) < 0)
				return;
			len = (uint64_t)ext[0] << 8 | ext[1];
		} else if (len == 127)
			return; /* nothing this big in the tests */
		if (len > sizeof payload || !(h[1] & 0x80) || take(c, mask, 4) < 0 ||
		    take(c, payload, (size_t)len) < 0)
			return;
		for (uint64_t i = 0; i < len; i++)
			payload[i] ^= mask[i % 4];
		int op = h[0] & 0x0f;
		if (op == 0x8) {
			ws_send(c->fd, 0x8, payload, len >= 2 ? 2 : 0);
			return;
		}
		if (op == 0x9)
			op = 0xa;
		else if (op == 0xa)
			continue;
		if (op == 0x1 && len == 8 && !memcmp(payload, "?headers", 8))
			ws_send(c->fd, 0x1, head, strlen(head));
		else if (op == 0x1 && len == 5 && !memcmp(payload, "?port", 5)) {
			char m[32];
			int ml = snprintf(m, sizeof m, "port %d", c->port);
			ws_send(c->fd, 0x1, m, (size_t)ml);
		}
		else if (ws_send(c->fd, op, payload, (size_t)len) < 0)
			return;
	}
}

static void gate_path(char *out, size_t cap, long gate, long i)
{
	snprintf(out, cap, "/tmp/guestapp-gate-%ld-%ld", gate, i);
}

/* Wait (up to 120 s) until /sse-next opened the gate for event i. */
static int gate_wait(long gate, long i)
{
	char path[80];
	gate_path(path, sizeof path, gate, i);
	for (int t = 0; t < 2400; t++) {
		if (access(path, F_OK) == 0)
			return 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static long query(const char *path, const char *name, long dflt)
{
	char key[16];
	snprintf(key, sizeof key, "%s=", name);
	const char *q = strchr(path, '?');
	for (const char *p = q; p; p = strchr(p + 1, '&'))
		if (!strncmp(p + 1, key, strlen(key)))
			return atol(p + 1 + strlen(key));
	return dflt;
}

static int sse(struct conn *c, const char *path)
{
	long n = query(path, "n", 3), gate = query(path, "gate", 0);
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
	if (write_all(c->fd, h, sizeof h - 1) < 0)
		return -1;
	for (long i = 0; i < n; i++) {
		char ev[64];
		if (gate && i > 0 && gate_wait(gate, i) < 0)
			return -1;
		int el = snprintf(ev, sizeof ev, "id: %ld\ndata: event %ld\n\n", i, i);
		if (chunk(c->fd, ev, (size_t)el) < 0)
			return -1;
		struct timespec ts = { 0, 300 * 1000 * 1000 };
		if (!gate)
			nanosleep(&ts, NULL);
	}
	return write_all(c->fd, "0\r\n\r\n", 5);
}

static int big(struct conn *c, const char *path, int close_after)
{
	static char block[65536];
	long n = query(path, "n", 0);
	char h[160];
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (char)('0' + i % 10);
	int hl = snprintf(h, sizeof h,
			  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			  "Content-Length: %ld\r\n%s\r\n",
			  n, close_after ? "Connection: close\r\n" : "");
	if (write_all(c->fd, h, (size_t)hl) < 0)
		return -1;
	/* Blocks of 60000 keep the pattern continuous across writes (a multiple of 10). */
	for (long off = 0; off < n; off += 60000)
		if (write_all(c->fd, block, (size_t)(n - off < 60000 ? n - off : 60000)) < 0)
			return -1;
	return 0;
}

static int sse_next(struct conn *c, const char *path, int close_after)
{
	char p[80];
	gate_path(p, sizeof p, query(path, "g", 0), query(path, "i", 0));
	FILE *f = fopen(p, "w");
	if (f)
		fclose(f);
	return reply(c, f ? "200 OK" : "500 Error", "text/plain", "ok\n", 3, close_after);
}

/* Serve requests on one connection until it ends. */
static void serve(struct conn *c)
{
	for (;;) {
		char *end;
		while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
			if (fill(c) < 0)
				return;
		size_t hl = (size_t)(end - c->buf) + 4;
		static char head[HEAD_MAX * 2 + 1];
		memcpy(head, c->buf, hl);
		head[hl] = '\0';
		drop(c, hl);
		char method[16], path[1024], conn_hdr[128], msg[128];
		if (sscanf(head, "%15s %1023s", method, path) != 2)
			return;
		char route[1024];
		snprintf(route, sizeof route, "%s", path);
		route[strcspn(route, "?")] = '\0';
		header(head, "Connection", conn_hdr, sizeof conn_hdr);
		int close_after = strcasestr(conn_hdr, "close") != NULL;
		head_only = !strcmp(method, "HEAD");
		int rc;
		if (!strcmp(route, "/ws")) {
			websocket(c, head);
			return;
		} else if (!strcmp(method, "POST") && !strcmp(route, "/echo")) {
			size_t n;
			char *body = read_body(c, head, &n);
			if (!body)
				return;
			static const char h[] =
				"HTTP/1.1 200 OK\r\nContent-Type: "
				"application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
			rc = write_all(c->fd, h, sizeof h - 1);
			for (size_t off = 0; rc == 0 && off < n; off += 16384)
				rc = chunk(c->fd, body + off, n - off < 16384 ? n - off : 16384);
			if (rc == 0)
				rc = write_all(c->fd, "0\r\n\r\n", 5);
			free(body);
		} else if (!strcmp(route, "/headers")) {
			rc = reply(c, "200 OK", "text/plain", head, hl, close_after);
		} else if (!strcmp(route, "/sse-next")) {
			rc = sse_next(c, path, close_after);
		} else if (!strcmp(route, "/sse")) {
			rc = sse(c, path);
		} else if (!strcmp(route, "/big")) {
			rc = big(c, path, close_after);
		} else if (!strcmp(route, "/until-close")) {
			static const char r[] =
				"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
				"until close\n";
			write_all(c->fd, r, sizeof r - 1);
			return;
		} else if (!strcmp(route, "/stray")) {
			static const char r[] =
				"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcjunk";
			rc = write_all(c->fd, r, sizeof r - 1);
		} else if (!strcmp(route, "/close")) {
			int n = snprintf(msg, sizeof msg, "bye from port %d\n", c->port);
			rc = reply(c, "200 OK", "text/plain", msg, (size_t)n, 1);
			close_after = 1;
		} else if (!strcmp(route, "/")) {
			int n = snprintf(msg, sizeof msg, "hello from port %d\n", c->port);
			rc = reply(c, "200 OK", "text/plain", msg, (size_t)n, close_after);
		} else {
			/* The target as it came, so tests see what the proxy forwarded. */
			static char nf[1100];
			int n = snprintf(nf, sizeof nf, "no such path: %s\n", path);
			rc = reply(c, "404 Not Found", "text/plain", nf, (size_t)n, close_after);
		}
		if (rc < 0 || close_after)
			return;
	}
}

int main(int argc, char **argv)
{
	struct pollfd fds[PORTS_MAX];
	int ports[PORTS_MAX], n = 0, daemon = argc > 1 && !strcmp(argv[1], "-d");
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1 + daemon; i < argc && n < PORTS_MAX; i++) {
		struct sockaddr_in a;
		int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)atoi(argv[i]));
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0) {
			perror(argv[i]);
			return 1;
		}
		fds[n].fd = fd;
		fds[n].events = POLLIN;
		ports[n++] = atoi(argv[i]);
	}
	if (!n) {
		fprintf(stderr, "usage: guestapp [-d] PORT...\n");
		return 2;
	}
	if (daemon) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0)
			_exit(0);
		setsid();
	}
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			int cfd = accept(fds[i].fd, NULL, NULL);
			if (cfd < 0)
				continue;
			pid_t pid = fork();
			if (pid == 0) {
				static struct conn c;
				for (int j = 0; j < n; j++)
					close(fds[j].fd);
				c.fd = cfd;
				c.port = ports[i];
				serve(&c);
				close(cfd);
				_exit(0);
			}
			close(cfd);
		}
	}
}
