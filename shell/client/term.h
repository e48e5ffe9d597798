/*
 * term.h - the local terminal: raw mode, size, restoring on exit, writing
 * all of a buffer, and signals turned into bytes on a pipe so that a poll
 * loop sees them (SIGWINCH for a resize, SIGINT/SIGTERM/SIGHUP to pass on).
 */
#ifndef HEARTH_TERM_H
#define HEARTH_TERM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Put fd into raw mode; remembers the old mode for term_restore. 0 or -1. */
int term_raw(int fd);
/* Restore the mode saved by term_raw (safe to call more than once, or without term_raw). */
void term_restore(void);
/* Current window size of fd; falls back to 24x80 when fd is not a tty. */
void term_size(int fd, uint16_t *rows, uint16_t *cols);

/* Write all n bytes to fd, waiting out EINTR and a full non-blocking fd. 0 or -1 (errno). */
int term_write_all(int fd, const uint8_t *p, size_t n);

#define TERM_SIG_MAX 4

/*
 * Catch sigs[0..n) (n <= TERM_SIG_MAX): each delivery writes the signal
 * number as one byte to a non-blocking pipe whose read end is term_sig_fd().
 * 0, or -1 with errno (nothing installed). One set at a time.
 */
int term_sig_open(const int *sigs, size_t n);
/* The read end to poll for POLLIN; -1 when closed. */
int term_sig_fd(void);
/* Signal numbers caught since the last call, at most cap; 0 when none. */
ssize_t term_sig_read(uint8_t *out, size_t cap);
/* Put back the handlers term_sig_open replaced and close the pipe. */
void term_sig_close(void);

#endif
