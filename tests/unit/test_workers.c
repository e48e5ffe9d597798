/* test_workers.c - the worker pool and its completion queue (session/workers.c) */
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "session/workers.h"
#include "test.h"

struct item {
	struct work_item w; /* first */
	int n;
	int ran;
};

static void run(void *ctx, struct work_item *it)
{
	(void)ctx;
	struct item *i = (struct item *)it;
	usleep((useconds_t)(1000 * (i->n % 3)));
	i->ran = 1;
}

static int seen[64], nseen;

static void done(void *ctx, struct work_item *it)
{
	(void)ctx;
	struct item *i = (struct item *)it;
	if (i->ran && nseen < 64)
		seen[nseen++] = i->n;
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

TEST(completions_wake_the_loop_and_drain_once)
{
	char err[128];
	struct item items[40];
	struct workers *w = workers_create(4, run, NULL, err, sizeof err);
	CHECK(w != NULL);
	CHECK(!readable(workers_fd(w), 0));
	nseen = 0;
	for (int i = 0; i < 40; i++) {
		items[i] = (struct item){ .n = i };
		workers_submit(w, &items[i].w);
	}
	int got = 0;
	for (int tries = 0; got < 40 && tries < 500; tries++) {
		if (readable(workers_fd(w), 20))
			got += workers_drain(w, done, NULL);
	}
	CHECK_EQ(got, 40);
	CHECK_EQ(nseen, 40);
	/* Each item came back exactly once. */
	int count[40] = { 0 };
	for (int i = 0; i < nseen; i++)
		count[seen[i]]++;
	for (int i = 0; i < 40; i++)
		CHECK_EQ(count[i], 1);
	/* Drained: no longer readable, nothing more to drain. */
	CHECK(!readable(workers_fd(w), 0));
	CHECK_EQ(workers_drain(w, done, NULL), 0);
	workers_destroy(w, done, NULL);
}

TEST(destroy_finishes_queued_work_and_hands_it_back)
{
	char err[128];
	struct item items[10];
	struct workers *w = workers_create(1, run, NULL, err, sizeof err);
	CHECK(w != NULL);
	nseen = 0;
	for (int i = 0; i < 10; i++) {
		items[i] = (struct item){ .n = i };
		workers_submit(w, &items[i].w);
	}
	workers_destroy(w, done, NULL);
	CHECK_EQ(nseen, 10);
	/* One worker: completion order is submission order. */
	for (int i = 0; i < 10; i++)
		CHECK_EQ(seen[i], i);
}

TEST_MAIN(T(completions_wake_the_loop_and_drain_once),
	  T(destroy_finishes_queued_work_and_hands_it_back))
