/*
 * figures.h - what every bench client prints, so that hearth's lines and
 * its peer's (OpenSSH) come out of the same code: the clock, round-trip
 * percentiles and bulk throughput as one "key=value ..." line on stdout.
 */
#ifndef HEARTH_BENCH_FIGURES_H
#define HEARTH_BENCH_FIGURES_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t fig_now_ns(void);
/* "rtt n= p50_us= p90_us= p99_us= mean_us= min_us= max_us=" (sorts s). */
void fig_print_rtt(int64_t *s, long n);
/* "bulk bytes= secs= mbps= setup_ms=": rate from the first byte to the end. */
void fig_print_bulk(uint64_t bytes, int64_t t_start, int64_t t_first, int64_t t_end);

#endif
