/*
 * ring.h - a shell's output replay ring (pure, no I/O): the last `cap`
 * bytes of a stream whose bytes are numbered from 0 (offsets), and the
 * arithmetic of attaching at an offset (PROTOCOL.md 2.3).
 */
#ifndef HEARTH_RING_H
#define HEARTH_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring {
	uint8_t *data;
	size_t cap;
	uint64_t end; /* offset of the next byte; bytes [end - kept, end) are held */
};

/* 0, or -1 when out of memory. */
int ring_init(struct ring *r, size_t cap);
void ring_free(struct ring *r);
/* Append n bytes (only the last cap of them are kept when n > cap). */
void ring_put(struct ring *r, const void *p, size_t n);
/* Offset of the oldest byte held. */
uint64_t ring_start(const struct ring *r);
static inline uint64_t ring_end(const struct ring *r) { return r->end; }
/*
 * Where a viewer that has seen everything before `want` starts (has_want 0:
 * replay the whole ring): *from is the first byte it gets, *lost how many
 * bytes between want and *from are no longer held. A want past the end
 * starts at the end.
 */
void ring_attach(const struct ring *r, int has_want, uint64_t want, uint64_t *from,
		 uint64_t *lost);
/*
 * The held bytes from offset `from` (ring_start <= from <= ring_end) as up
 * to two pieces; returns the number of pieces (0..2).
 */
int ring_span(const struct ring *r, uint64_t from, const uint8_t *p[2], size_t len[2]);

#endif
