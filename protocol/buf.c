/* buf.c - bounded byte buffers; see buf.h for the contract. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

size_t buf_room(const struct buf *b)
{
	return b->max - buf_used(b);
}

void buf_consume(struct buf *b, size_t n)
{
	size_t used = buf_used(b);

	if (n > used)
		n = used;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

uint8_t *buf_reserve(struct buf *b, size_t n)
{
	size_t used = buf_used(b), want, ncap;
	uint8_t *nd;

	if (n > b->max || used > b->max - n)
		return NULL;
	if (b->cap - b->len >= n)
		return b->data + b->len;
	/* Compact first: moving the unread tail is cheaper than growing. */
	if (b->off > 0 && b->cap - used >= n) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		return b->data + b->len;
	}
	want = used + n;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	nd = malloc(ncap);
	if (nd == NULL)
		return NULL;
	if (used)
		memcpy(nd, b->data + b->off, used);
	free(b->data);
	b->data = nd;
	b->cap = ncap;
	b->off = 0;
	b->len = used;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	b->len += n;
}

int buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *d = buf_reserve(b, n);

	if (d == NULL)
		return BUF_E_FULL;
	if (n)
		memcpy(d, p, n);
	b->len += n;
	return BUF_OK;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2];

	put_be16(t, v);
	return buf_put(b, t, sizeof(t));
}

int buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4];

	put_be32(t, v);
	return buf_put(b, t, sizeof(t));
}

int buf_put_u64(struct buf *b, uint64_t v)
{
	uint8_t t[8];

	put_be64(t, v);
	return buf_put(b, t, sizeof(t));
}

int buf_put_str16(struct buf *b, const char *s, size_t n)
{
	if (n > 0xffff)
		return BUF_E_FULL;
	if (buf_room(b) < 2 + n)
		return BUF_E_FULL;
	if (buf_put_u16(b, (uint16_t)n) != BUF_OK)
		return BUF_E_FULL;
	return buf_put(b, s, n);
}

int rd_bytes(struct rd *r, size_t n, const uint8_t **p)
{
	if (r->len < n)
		return BUF_E_SHORT;
	if (p)
		*p = r->p;
	r->p += n;
	r->len -= n;
	return BUF_OK;
}

int rd_u8(struct rd *r, uint8_t *v)
{
	const uint8_t *p;

	if (rd_bytes(r, 1, &p) != BUF_OK)
		return BUF_E_SHORT;
	*v = p[0];
	return BUF_OK;
}

int rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *p;

	if (rd_bytes(r, 2, &p) != BUF_OK)
		return BUF_E_SHORT;
	*v = get_be16(p);
	return BUF_OK;
}

int rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;

	if (rd_bytes(r, 4, &p) != BUF_OK)
		return BUF_E_SHORT;
	*v = get_be32(p);
	return BUF_OK;
}

int rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *p;

	if (rd_bytes(r, 8, &p) != BUF_OK)
		return BUF_E_SHORT;
	*v = get_be64(p);
	return BUF_OK;
}

void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}
