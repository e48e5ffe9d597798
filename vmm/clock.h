/* clock.h - monotonic milliseconds and deadlines (header-only). */
#ifndef HEARTH_CLOCK_H
#define HEARTH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Absolute deadline from a relative budget in ms. */
static inline int64_t clock_deadline(int ms)
{
	return clock_ms() + (ms < 0 ? 0 : ms);
}

/* Milliseconds left until an absolute deadline (never negative, fits poll()). */
static inline int clock_left(int64_t deadline)
{
	int64_t l = deadline - clock_ms();
	if (l < 0)
		return 0;
	return l > 0x7fffffff ? 0x7fffffff : (int)l;
}

#endif
