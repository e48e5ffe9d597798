/* ring.c - the replay ring; see ring.h. */
#include "session/ring.h"

#include <stdlib.h>
#include <string.h>

int ring_init(struct ring *r, size_t cap)
{
	r->data = malloc(cap);
	r->cap = cap;
	r->end = 0;
	return r->data ? 0 : -1;
}

void ring_free(struct ring *r)
{
	free(r->data);
	r->data = NULL;
}

void ring_put(struct ring *r, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (n > r->cap) {
		r->end += n - r->cap;
		b += n - r->cap;
		n = r->cap;
	}
	size_t at = (size_t)(r->end % r->cap), first = r->cap - at;
	if (first > n)
		first = n;
	memcpy(r->data + at, b, first);
	memcpy(r->data, b + first, n - first);
	r->end += n;
}

uint64_t ring_start(const struct ring *r)
{
	return r->end > r->cap ? r->end - r->cap : 0;
}

void ring_attach(const struct ring *r, int has_want, uint64_t want, uint64_t *from,
		 uint64_t *lost)
{
	uint64_t start = ring_start(r);
	*lost = 0;
	if (!has_want)
		*from = start;
	else if (want > r->end)
		*from = r->end;
	else if (want < start) {
		*from = start;
		*lost = start - want;
	} else
		*from = want;
}

int ring_span(const struct ring *r, uint64_t from, const uint8_t *p[2], size_t len[2])
{
	if (from < ring_start(r) || from >= r->end)
		return 0;
	size_t n = (size_t)(r->end - from), at = (size_t)(from % r->cap), first = r->cap - at;
	p[0] = r->data + at;
	if (first >= n) {
		len[0] = n;
		return 1;
	}
	len[0] = first;
	p[1] = r->data;
	len[1] = n - first;
	return 2;
}
