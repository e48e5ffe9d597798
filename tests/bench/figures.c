/* figures.c - the bench clients' clock and figure lines (see figures.h). */
#include "tests/bench/figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int64_t fig_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double pct_us(const int64_t *s, long n, double p)
{
	long k = (long)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)s[k - 1] / 1000.0;
}

void fig_print_rtt(int64_t *s, long n)
{
	double sum = 0;

	qsort(s, (size_t)n, sizeof(*s), cmp_i64);
	for (long i = 0; i < n; i++)
		sum += (double)s[i];
	printf("rtt n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f "
	       "max_us=%.1f\n",
	       n, pct_us(s, n, 50), pct_us(s, n, 90), pct_us(s, n, 99), sum / (double)n / 1000.0,
	       (double)s[0] / 1000.0, (double)s[n - 1] / 1000.0);
}

void fig_print_bulk(uint64_t bytes, int64_t t_start, int64_t t_first, int64_t t_end)
{
	double secs = (double)(t_end - t_first) / 1e9;

	if (secs <= 0)
		secs = 1e-9;
	printf("bulk bytes=%llu secs=%.3f mbps=%.1f setup_ms=%.1f\n", (unsigned long long)bytes,
	       secs, (double)bytes / 1e6 / secs, (double)(t_first - t_start) / 1e6);
}
