/*
 * h2up.h - HTTP/2 towards the application (PROTOCOL.md 3.4): h2c with prior
 * knowledge over ONE agent tcp channel per client connection, VM and port,
 * on an nghttp2 client session. h2srv.c chooses it for a stream that asks
 * for it (x-aws-proxy-force-h2: true, or a gRPC content type) and maps its
 * client stream one to one onto an upstream stream here.
 *
 * Flow control: request DATA is pulled from the owner (ops->body) only as
 * the app's stream window and the agent channel's credit allow; response
 * DATA goes to the owner (ops->data) and the app's stream window reopens
 * only when the owner says the client took it (h2up_consume). The agent
 * channel itself is credited as nghttp2 reads its bytes: nghttp2's windows
 * bound what is buffered.
 *
 * An app that speaks TLS itself is detected (it answers the h2c preface
 * with a TLS record, or closes without a byte): the channel is opened again
 * with a TLS client (OpenSSL, ALPN h2, no verification: the certificate is
 * the guest's own) and what was sent in clear goes again inside it.
 */
#ifndef HEARTH_H2UP_H
#define HEARTH_H2UP_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

#include "session/hearthd.h"

#define H2UP_FIELDS_MAX 64             /* fields of one response head or trailer block */
#define H2UP_FIELDS_BYTES (16u * 1024) /* ... and their bytes */
#define H2UP_STREAM_WINDOW (256u * 1024)
#define H2UP_CONN_WINDOW (1024u * 1024)
#define H2UP_REPLAY_MAX (64u * 1024)   /* cleartext kept to resend inside TLS */

/* A bounded list of fields (names, values copied in). */
struct h2up_fields {
	char buf[H2UP_FIELDS_BYTES];
	size_t len;
	nghttp2_nv nv[H2UP_FIELDS_MAX];
	size_t n;
};
void h2up_fields_init(struct h2up_fields *f);
/* 0, or -1 when over a bound (the field is not added). */
int h2up_fields_add(struct h2up_fields *f, const uint8_t *name, size_t nlen, const uint8_t *value,
		    size_t vlen);

/* What an upstream stream tells its owner (h2srv's client stream). */
struct h2up_ops {
	/* The final response head (":status" first); end: END_STREAM came with it. */
	void (*head)(void *o, const nghttp2_nv *nv, size_t n, int end);
	/* Response content; 0, or -1 (the owner could not take it: reset). */
	int (*data)(void *o, const uint8_t *p, size_t n);
	/* The response ended (END_STREAM): with its trailers, or n == 0. */
	void (*trailers)(void *o, const nghttp2_nv *nv, size_t n);
	/* The upstream stream is gone: code 0 after a whole response, else the
	 * app's RST_STREAM code (why NULL: pass it on), or INTERNAL_ERROR with
	 * why, text for a 502 when no head came (the channel failed, the app
	 * ended the stream without a head). The owner's handle is dead after. */
	void (*closed)(void *o, uint32_t code, const char *why);
	/* Request content: up to len bytes into b, NGHTTP2_ERR_DEFERRED while
	 * none (h2up_resume wakes it), NGHTTP2_DATA_FLAG_EOF in *flags at the
	 * end (with NGHTTP2_DATA_FLAG_NO_END_STREAM when the owner then
	 * submits trailers with h2up_trailers). */
	ssize_t (*body)(void *o, uint8_t *b, size_t len, uint32_t *flags);
};

/* Per client connection: what the upstreams say about the connection. */
struct h2up_conn_ops {
	void (*flush)(void *ctx);                 /* client output may be pending */
	void (*goaway)(void *ctx, uint32_t code); /* an app sent GOAWAY */
};

struct h2up;

/*
 * The live upstream of this client connection for vm_id:port, or a new
 * one (its agent channel opened). *list is the connection's list; NULL
 * with err when the channel cannot be opened.
 */
struct h2up *h2up_get(struct h2up **list, struct hearthd *hd, const char *vm_id,
		      unsigned port, const struct h2up_conn_ops *cops, void *ctx, char *err,
		      size_t errlen);
/* A request: nv (pseudo fields first); has_body: ops->body is pulled.
 * Returns the upstream stream id, or -1. */
int32_t h2up_submit(struct h2up *u, const nghttp2_nv *nv, size_t n, int has_body,
		    const struct h2up_ops *ops, void *owner);
void h2up_resume(struct h2up *u, int32_t id);
/* Request trailers (from ops->body, after NO_END_STREAM). */
int h2up_trailers(struct h2up *u, int32_t id, const nghttp2_nv *nv, size_t n);
/* The client took n response bytes of this stream. */
void h2up_consume(struct h2up *u, int32_t id, size_t n);
/* The owner is gone: RST_STREAM code to the app (no more callbacks). */
void h2up_reset(struct h2up *u, int32_t id, uint32_t code);
/* The client sent GOAWAY: tell every app of the connection. */
void h2up_goaway_all(struct h2up *list);
/* Free the connection's upstreams (no callbacks). */
void h2up_free_all(struct h2up **list);

#endif
