/*
 * buf.h - bounded byte buffers and bounds-checked readers (pure, no I/O).
 *
 * Contract: a struct buf grows on demand but never past its `max`; every
 * put either writes all of its bytes or none and returns BUF_E_FULL.
 * A struct rd is a read cursor over caller-owned bytes; every get checks the
 * remaining length first and returns BUF_E_SHORT without moving on failure.
 * All integers on the wire are big-endian.
 */
#ifndef HEARTH_BUF_H
#define HEARTH_BUF_H

#include <stddef.h>
#include <stdint.h>

enum {
	BUF_OK = 0,
	BUF_E_FULL = -1,  /* would exceed max, or out of memory */
	BUF_E_SHORT = -2, /* fewer bytes remain than asked for */
};

struct buf {
	uint8_t *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of valid bytes */
	size_t cap; /* allocated size */
	size_t max; /* hard limit on cap */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Bytes waiting to be consumed. */
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
static inline const uint8_t *buf_ptr(const struct buf *b) { return b->data + b->off; }
/* Room left before max (counting space that compaction would free). */
size_t buf_room(const struct buf *b);
/* Mark n bytes at the front as consumed (n is clamped to buf_used). */
void buf_consume(struct buf *b, size_t n);
/* Make room for n more bytes; returns a pointer to write them or NULL. */
uint8_t *buf_reserve(struct buf *b, size_t n);
/* Commit n bytes written into the area returned by buf_reserve. */
void buf_commit(struct buf *b, size_t n);

int buf_put(struct buf *b, const void *p, size_t n);
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u16(struct buf *b, uint16_t v);
int buf_put_u32(struct buf *b, uint32_t v);
int buf_put_u64(struct buf *b, uint64_t v);
/* A string with a u16 length prefix. */
int buf_put_str16(struct buf *b, const char *s, size_t n);

struct rd {
	const uint8_t *p;
	size_t len;
};

static inline struct rd rd_make(const void *p, size_t len)
{
	struct rd r = { (const uint8_t *)p, len };
	return r;
}
int rd_u8(struct rd *r, uint8_t *v);
int rd_u16(struct rd *r, uint16_t *v);
int rd_u32(struct rd *r, uint32_t *v);
int rd_u64(struct rd *r, uint64_t *v);
/* Point *p at the next n bytes and skip them. */
int rd_bytes(struct rd *r, size_t n, const uint8_t **p);

void put_be16(uint8_t *p, uint16_t v);
void put_be32(uint8_t *p, uint32_t v);
void put_be64(uint8_t *p, uint64_t v);
uint16_t get_be16(const uint8_t *p);
uint32_t get_be32(const uint8_t *p);
uint64_t get_be64(const uint8_t *p);

#endif
