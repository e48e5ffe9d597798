/*
 * clock.c - hearthd's two clocks: wall seconds for what is stored and shown
 * (startedAt, idle stamps), monotonic milliseconds for deadlines.
 */
#include "session/hearthd.h"

#include <time.h>

#include "vmm/clock.h"

int64_t hd_now(void)
{
	return (int64_t)time(NULL);
}

int64_t hd_now_ms(void)
{
	return clock_ms();
}
