/*
 * workers.c - worker threads, a todo queue and a completion queue; an
 * eventfd counts completions for the event loop.
 */
#include "session/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WORKERS_MAX 32

struct workers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct work_item *todo, *todo_tail;
	struct work_item *done, *done_tail;
	pthread_t threads[WORKERS_MAX];
	int nthreads;
	int stop;
	int efd;
	work_fn run;
	void *ctx;
};

static void *worker_main(void *p)
{
	struct workers *w = p;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->todo) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		struct work_item *it = w->todo;
		w->todo = it->next;
		if (!w->todo)
			w->todo_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		w->run(w->ctx, it);
		pthread_mutex_lock(&w->mu);
		it->next = NULL;
		if (w->done_tail)
			w->done_tail->next = it;
		else
			w->done = it;
		w->done_tail = it;
		pthread_mutex_unlock(&w->mu);
		uint64_t one = 1;
		/* Only EAGAIN (counter saturated) can fail: still readable then. */
		if (write(w->efd, &one, sizeof one) < 0) {
		}
	}
}

struct workers *workers_create(int n, work_fn run, void *ctx, char *err, size_t errlen)
{
	struct workers *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->run = run;
	w->ctx = ctx;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			break;
		w->nthreads++;
	}
	if (!w->nthreads) {
		snprintf(err, errlen, "cannot start worker threads");
		close(w->efd);
		free(w);
		return NULL;
	}
	return w;
}

void workers_destroy(struct workers *w, work_fn done, void *ctx)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	workers_drain(w, done, ctx);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

void workers_submit(struct workers *w, struct work_item *it)
{
	pthread_mutex_lock(&w->mu);
	it->next = NULL;
	if (w->todo_tail)
		w->todo_tail->next = it;
	else
		w->todo = it;
	w->todo_tail = it;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int workers_fd(const struct workers *w)
{
	return w->efd;
}

int workers_drain(struct workers *w, work_fn done, void *ctx)
{
	uint64_t count;
	if (read(w->efd, &count, sizeof count) < 0) {
		/* EAGAIN: nothing counted; the queue below is the truth anyway. */
	}
	pthread_mutex_lock(&w->mu);
	struct work_item *list = w->done;
	w->done = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	int n = 0;
	while (list) {
		struct work_item *next = list->next;
		done(ctx, list);
		list = next;
		n++;
	}
	return n;
}
