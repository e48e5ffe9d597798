/*
 * detachkey.h - the detach sequence of `hearth attach` and `hearth shell`:
 * Ctrl-] then `d` leaves the shell running; Ctrl-] twice sends one Ctrl-];
 * Ctrl-] then any other key sends both.
 */
#ifndef HEARTH_DETACHKEY_H
#define HEARTH_DETACHKEY_H

#include <stddef.h>
#include <stdint.h>

#define DETACHKEY 0x1d /* Ctrl-] */

struct detachkey {
	int prefix;   /* saw DETACHKEY, waiting for the next key */
	int detached; /* the sequence was typed */
};

/*
 * Keystrokes in[0..n) to send, into out (cap bytes; n + 1 holds any input,
 * a Ctrl-] held over from the last call included). Stops at the detach
 * sequence, setting k->detached and dropping the rest. Returns the bytes in out.
 */
size_t detachkey_filter(struct detachkey *k, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
