/*
 * loop.h - hearthd's own parts of the libwebsockets event loop: a vhost
 * that listens nowhere and carries hearthd's protocol, file descriptors
 * watched for readability (the workers' completion eventfd), and a
 * repeating timer. Everything runs on the event-loop thread.
 */
#ifndef HEARTH_LOOP_H
#define HEARTH_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct lws_context;
struct loop;

typedef void (*loop_fn)(void *ctx);

/* Add hearthd's vhost to the context; NULL with err. */
struct loop *loop_create(struct lws_context *lws, char *err, size_t errlen);
/* Call fn(ctx) on the loop whenever fd is readable (fd stays the caller's). */
int loop_watch(struct loop *l, int fd, loop_fn fn, void *ctx, char *err, size_t errlen);
/* Call fn(ctx) every period_ms (the first call after one period). */
void loop_every(struct loop *l, int64_t period_ms, loop_fn fn, void *ctx);
/* Stop the timer (before lws_context_destroy). */
void loop_stop(struct loop *l);
/* Free (after lws_context_destroy, which ends the watches). */
void loop_destroy(struct loop *l);

#endif
