/*
 * workers.h - a fixed pool of worker threads and its completion queue.
 *
 * Items are submitted from the event loop, run on a worker (run callback),
 * and come back on the completion queue; each completion also makes
 * workers_fd() readable (an eventfd), which hearthd's event loop watches
 * (session/loop.h) and answers with workers_drain() on its own thread.
 * The pool lives as long as the process: the engine's processes die with
 * the thread that started them.
 */
#ifndef HEARTH_WORKERS_H
#define HEARTH_WORKERS_H

#include <stddef.h>

/* Embed first in each item. */
struct work_item {
	struct work_item *next;
};

typedef void (*work_fn)(void *ctx, struct work_item *it);

struct workers;

/* n threads running run(ctx, item); NULL on failure with err set. */
struct workers *workers_create(int n, work_fn run, void *ctx, char *err, size_t errlen);
/* Wait for running and queued items, stop the threads, hand every
 * completion left to done(ctx, item), free the pool. */
void workers_destroy(struct workers *w, work_fn done, void *ctx);
void workers_submit(struct workers *w, struct work_item *it);
/* The fd that turns readable when completions wait (never blocks). */
int workers_fd(const struct workers *w);
/* Take every completion in completion order and call done(ctx, item) on each
 * (on the calling thread). Returns how many. */
int workers_drain(struct workers *w, work_fn done, void *ctx);

#endif
