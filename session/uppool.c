/*
 * uppool.c - idle upstream channels per VM and port; see uppool.h.
 *
 * One list, newest first: take pops the newest match (the warmest
 * connection), the sweep closes from the oldest. The pool owns an idle
 * channel's callbacks (pool_ops): any frame but window credit, or the link
 * going down, ends it.
 */
#include "session/uppool.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mux.h"
#include "protocol/token.h"

#define UPPOOL_SWEEP_MS 500

struct up_idle {
	struct up_idle *next;
	struct agentlink_chan *ch;
	char vm_id[TOKEN_MAX_ID + 1];
	unsigned port;
	int64_t since_ms;
};

static struct {
	struct up_idle *list;
	unsigned n;
	struct hearthd *hd;
	int sweeping;
	lws_sorted_usec_list_t sul;
} up;

static void up_unlink(struct up_idle *e)
{
	for (struct up_idle **pp = &up.list; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			up.n--;
			return;
		}
}

/* Forget e; close its channel unless the link already ended it. */
static void up_drop(struct up_idle *e, int close)
{
	up_unlink(e);
	if (close)
		agentlink_close(e->ch);
	free(e);
}

static void pool_frame(void *owner, const struct mux_frame *f)
{
	/* Credit for what we sent is all an idle connection may hear. */
	if (f->hdr.type != MUX_WINDOW)
		up_drop(owner, 1);
}

static void pool_down(void *owner, const char *reason)
{
	(void)reason;
	up_drop(owner, 1);
}

static void pool_writable(void *owner)
{
	(void)owner;
}

static const struct agentlink_ops pool_ops = { pool_frame, pool_down, pool_writable };

static void up_sweep(lws_sorted_usec_list_t *sul)
{
	int64_t now = hd_now_ms();
	for (struct up_idle *e = up.list, *next; e; e = next) {
		next = e->next;
		if (now - e->since_ms >= UPPOOL_IDLE_MS)
			up_drop(e, 1);
	}
	up.sweeping = up.list != NULL;
	if (up.sweeping)
		lws_sul_schedule(up.hd->lws, 0, sul, up_sweep, UPPOOL_SWEEP_MS * LWS_US_PER_MS);
}

struct agentlink_chan *uppool_take(const char *vm_id, unsigned port)
{
	for (struct up_idle *e = up.list; e; e = e->next) {
		if (e->port != port || strcmp(e->vm_id, vm_id))
			continue;
		struct agentlink_chan *c = e->ch;
		up_drop(e, 0);
		if (agentlink_reusable(c))
			return c;
		agentlink_close(c);
		return NULL;
	}
	return NULL;
}

void uppool_put(struct hearthd *hd, struct agentlink_chan *c, const char *vm_id, unsigned port)
{
	unsigned same = 0, vm = 0;
	for (struct up_idle *e = up.list; e; e = e->next)
		if (!strcmp(e->vm_id, vm_id)) {
			vm++;
			same += e->port == port;
		}
	struct up_idle *e = NULL;
	/* Idle channels take at most half of what the VM's link allows: the
	 * rest stays for requests in flight and new opens. */
	if (!agentlink_reusable(c) || same >= UPPOOL_PER_KEY || vm >= agentlink_chan_limit(c) / 2 ||
	    strlen(vm_id) > TOKEN_MAX_ID ||
	    !(e = calloc(1, sizeof *e))) {
		agentlink_close(c);
		return;
	}
	e->ch = c;
	memcpy(e->vm_id, vm_id, strlen(vm_id) + 1);
	e->port = port;
	e->since_ms = hd_now_ms();
	e->next = up.list;
	up.list = e;
	up.n++;
	agentlink_rebind(c, &pool_ops, e);
	up.hd = hd;
	if (!up.sweeping) {
		up.sweeping = 1;
		lws_sul_schedule(hd->lws, 0, &up.sul, up_sweep, UPPOOL_SWEEP_MS * LWS_US_PER_MS);
	}
}

unsigned uppool_count(void)
{
	return up.n;
}
