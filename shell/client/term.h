/* term.h - the local terminal: raw mode, size, restoring on exit. */
#ifndef HEARTH_TERM_H
#define HEARTH_TERM_H

#include <stdint.h>

/* Put fd into raw mode; remembers the old mode for term_restore. 0 or -1. */
int term_raw(int fd);
/* Restore the mode saved by term_raw (safe to call more than once). */
void term_restore(void);
/* Current window size of fd; falls back to 24x80 when fd is not a tty. */
void term_size(int fd, uint16_t *rows, uint16_t *cols);

#endif
