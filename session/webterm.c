/*
 * webterm.c - serves the web terminal page; see webterm.h. Runs on
 * hearthd's event-loop thread as an ingress handler (ingress_conn.h).
 */
#include "session/webterm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/shellmsg.h"
#include "session/httpd.h"

#define WEBTERM_CHUNK (16u * 1024) /* body bytes queued per step */
#define WEBTERM_SEND_S 60          /* a reply must be taken by then */

struct webterm_file {
	const char *url;  /* exact request path */
	const char *name; /* file in --webterm-dir */
	const char *type;
	uint8_t *data;
	size_t len;
};

/* The whole set; nothing else is ever read or served. "/" is index.html. */
static struct webterm_file files[] = {
	{ "/", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/index.html", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/webterm.js", "webterm.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "/webterm.css", "webterm.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/xterm.js", "xterm.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "/xterm.css", "xterm.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/addon-fit.js", "addon-fit.js", "text/javascript; charset=utf-8", NULL, 0 },
};
#define NFILES (sizeof files / sizeof files[0])

static int loaded;

struct webterm_reply {
	struct ingress_conn *c;
	const struct webterm_file *f;
	size_t off;
};

static int read_file(const char *dir, struct webterm_file *f, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >= sizeof path) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > WEBTERM_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 fd < 0 ? strerror(errno) : "not a regular file of at most 4 MiB");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t want = (size_t)st.st_size, got = 0;
	f->data = malloc(want ? want : 1);
	while (f->data && got < want) {
		ssize_t n = read(fd, f->data + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!f->data || got != want) {
		snprintf(err, errlen, "%s: cannot read it", path);
		free(f->data);
		f->data = NULL;
		return -1;
	}
	f->len = want;
	return 0;
}

void webterm_unload(void)
{
	for (size_t i = 0; i < NFILES; i++) {
		free(files[i].data);
		files[i].data = NULL;
		files[i].len = 0;
	}
	loaded = 0;
}

int webterm_load(const char *dir, char *err, size_t errlen)
{
	webterm_unload();
	for (size_t i = 0; i < NFILES; i++)
		if (read_file(dir, &files[i], err, errlen) < 0) {
			webterm_unload();
			return -1;
		}
	loaded = 1;
	return 0;
}

/* Queue body bytes while the connection has room; hang up after the last. */
static void reply_pump(struct webterm_reply *w)
{
	while (w->off < w->f->len) {
		size_t n = w->f->len - w->off, room = ingress_conn_room(w->c);
		if (n > WEBTERM_CHUNK)
			n = WEBTERM_CHUNK;
		if (n > room)
			n = room;
		if (n == 0 || ingress_conn_write(w->c, w->f->data + w->off, n) < 0)
			return; /* writable() comes back */
		w->off += n;
	}
	ingress_conn_hangup(w->c);
}

static int reply_rx(void *h, const uint8_t *p, size_t n)
{
	(void)h, (void)p, (void)n;
	return 0; /* one request per connection: later bytes are ignored, never kept */
}

static void reply_writable(void *h)
{
	reply_pump(h);
}

static void reply_closed(void *h)
{
	free(h);
}

static const struct ingress_handler_ops reply_ops = { reply_rx, reply_writable, reply_closed };

/* 405 carries Allow, which ingress_conn_refuse has no room for. */
static void refuse_method(struct ingress_conn *c)
{
	char body[256], head[512];
	int n = shellmsg_error(body, sizeof body, "the web terminal answers GET and HEAD only");
	if (n < 0)
		n = 0, body[0] = '\0';
	int hl = snprintf(head, sizeof head,
			  "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
			  "Content-Type: application/json\r\nContent-Length: %d\r\n"
			  "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
			  n);
	if (ingress_conn_write(c, head, (size_t)hl) < 0 ||
	    ingress_conn_write(c, body, (size_t)n) < 0) {
		ingress_conn_abort(c);
		return;
	}
	ingress_conn_hangup(c);
}

static const struct webterm_file *lookup(const char *path)
{
	size_t plen = strcspn(path, "?#"); /* the query names no other file */
	for (size_t i = 0; i < NFILES; i++)
		if (strlen(files[i].url) == plen && memcmp(files[i].url, path, plen) == 0)
			return &files[i];
	return NULL;
}

void webterm_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		    size_t headlen, const char *vm_id)
{
	char hdr[1536], lhost[128];
	int port = 0;
	(void)head, (void)headlen, (void)vm_id;
	int is_head = strcmp(r->method, "HEAD") == 0;
	if (!is_head && strcmp(r->method, "GET") != 0) {
		refuse_method(c);
		return;
	}
	const struct webterm_file *f = loaded ? lookup(r->path) : NULL;
	if (!f) {
		ingress_conn_refuse(c, 404,
				    loaded ? "no such file: the web terminal is at /"
					   : "the web terminal is not installed (see --webterm-dir)");
		return;
	}
	struct hearthd *hd = ingress_conn_hd(c);
	if (httpd_parse_listen(hd->cfg.ingress_listen, lhost, sizeof lhost, &port) < 0)
		port = 0;
	/*
	 * Scripts only from here; the WebSocket only to the VM endpoints of this
	 * listener. style-src needs 'unsafe-inline' because xterm.js writes its
	 * theme and cell sizes into <style> elements it creates.
	 */
	char portpart[16] = "";
	if (port > 0)
		snprintf(portpart, sizeof portpart, ":%d", port);
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-cache\r\n"
			 "Content-Security-Policy: default-src 'none'; script-src 'self'; "
			 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
			 "connect-src wss://*.%s%s; base-uri 'none'; form-action 'none'; "
			 "frame-ancestors 'none'\r\n"
			 "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
			 "Cross-Origin-Opener-Policy: same-origin\r\nConnection: close\r\n\r\n",
			 f->type, f->len, hd->cfg.endpoint_domain, portpart);
	if (n < 0 || (size_t)n >= sizeof hdr || ingress_conn_write(c, hdr, (size_t)n) < 0) {
		ingress_conn_abort(c);
		return;
	}
	struct webterm_reply *w = calloc(1, sizeof *w);
	if (!w) {
		ingress_conn_abort(c);
		return;
	}
	w->c = c;
	w->f = f;
	w->off = is_head ? f->len : 0;
	ingress_conn_bind(c, &reply_ops, w);
	ingress_conn_deadline(c, WEBTERM_SEND_S);
	reply_pump(w);
}
