/* idmsg.c - identity requests and answers; see idmsg.h. */
#include "idmsg.h"

#include <string.h>

void idmsg_reader_init(struct idmsg_reader *r, uint8_t *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->have = 0;
}

int idmsg_feed(struct idmsg_reader *r, const uint8_t *in, size_t len, size_t *used,
	       struct idmsg *m)
{
	size_t off = 0;
	if (r->have >= IDMSG_HDR && r->have == IDMSG_HDR + (size_t)get_be16(r->buf + 5))
		r->have = 0; /* the message returned by the last call */
	for (;;) {
		size_t need = IDMSG_HDR;
		if (r->have >= IDMSG_HDR)
			need += get_be16(r->buf + 5);
		*used = off;
		if (need > r->cap)
			return -1;
		if (r->have >= IDMSG_HDR && r->have == need) {
			m->id = get_be32(r->buf);
			m->status = r->buf[4];
			m->len = get_be16(r->buf + 5);
			m->body = r->buf + IDMSG_HDR;
			return 1;
		}
		if (off == len)
			return 0;
		size_t k = need - r->have < len - off ? need - r->have : len - off;
		memcpy(r->buf + r->have, in + off, k);
		r->have += k;
		off += k;
	}
}

int idmsg_put(struct buf *b, uint32_t id, uint8_t status, const void *p, size_t n)
{
	uint8_t *w;
	if (n > IDMSG_MAX_BODY || buf_room(b) < IDMSG_HDR + n || !(w = buf_reserve(b, IDMSG_HDR + n)))
		return -1;
	put_be32(w, id);
	w[4] = status;
	put_be16(w + 5, (uint16_t)n);
	if (n)
		memcpy(w + IDMSG_HDR, p, n);
	buf_commit(b, IDMSG_HDR + n);
	return 0;
}

int idmsg_audience_ok(const void *p, size_t n)
{
	const uint8_t *s = p;
	if (n < 1 || n > IDMSG_AUD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}
