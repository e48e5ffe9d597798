/*
 * loop.c - a non-listening vhost with one raw-file protocol: each watched fd
 * is a dup() adopted into lws (lws closes its copy), and a sorted-usec timer.
 */
#include "session/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOOP_PROTOCOL "hearthd-loop"
#define LOOP_MAX_WATCH 8

struct loop_watch {
	loop_fn fn;
	void *ctx;
};

struct loop {
	struct lws_context *lws;
	struct lws_vhost *vh;
	struct loop_watch watch[LOOP_MAX_WATCH];
	int nwatch;
	lws_sorted_usec_list_t sul;
	int64_t period_ms;
	loop_fn tick;
	void *tick_ctx;
	int ticking;
};

static int loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct loop_watch *w;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		w = lws_get_opaque_user_data(wsi);
		if (w)
			w->fn(w->ctx);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols loop_protocols[] = {
	{ LOOP_PROTOCOL, loop_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

struct loop *loop_create(struct lws_context *lws, char *err, size_t errlen)
{
	struct loop *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.vhost_name = LOOP_PROTOCOL;
	info.protocols = loop_protocols;
	l->lws = lws;
	l->vh = lws_create_vhost(lws, &info);
	if (!l->vh) {
		snprintf(err, errlen, "cannot create the event loop's vhost");
		free(l);
		return NULL;
	}
	return l;
}

int loop_watch(struct loop *l, int fd, loop_fn fn, void *ctx, char *err, size_t errlen)
{
	if (l->nwatch >= LOOP_MAX_WATCH) {
		snprintf(err, errlen, "too many watched descriptors");
		return -1;
	}
	int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mine < 0) {
		snprintf(err, errlen, "dup: %s", strerror(errno));
		return -1;
	}
	struct loop_watch *w = &l->watch[l->nwatch];
	w->fn = fn;
	w->ctx = ctx;
	lws_sock_file_fd_type u;
	u.filefd = (lws_filefd_type)mine;
	struct lws *wsi =
		lws_adopt_descriptor_vhost(l->vh, LWS_ADOPT_RAW_FILE_DESC, u, LOOP_PROTOCOL, NULL);
	if (!wsi) {
		close(mine);
		snprintf(err, errlen, "cannot watch fd %d in the event loop", fd);
		return -1;
	}
	lws_set_opaque_user_data(wsi, w);
	l->nwatch++;
	return 0;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct loop *l = lws_container_of(sul, struct loop, sul);
	l->tick(l->tick_ctx);
	lws_sul_schedule(l->lws, 0, &l->sul, on_tick, l->period_ms * LWS_US_PER_MS);
}

void loop_every(struct loop *l, int64_t period_ms, loop_fn fn, void *ctx)
{
	l->period_ms = period_ms;
	l->tick = fn;
	l->tick_ctx = ctx;
	l->ticking = 1;
	lws_sul_schedule(l->lws, 0, &l->sul, on_tick, period_ms * LWS_US_PER_MS);
}

void loop_stop(struct loop *l)
{
	if (l && l->ticking)
		lws_sul_cancel(&l->sul);
	if (l)
		l->ticking = 0;
}

void loop_destroy(struct loop *l)
{
	free(l);
}
