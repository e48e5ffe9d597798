/* detachkey.c - the Ctrl-] d detach sequence; see detachkey.h. */
#include "shell/client/detachkey.h"

size_t detachkey_filter(struct detachkey *k, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && !k->detached; i++) {
		if (k->prefix) {
			if (in[i] == 'd') {
				k->prefix = 0;
				k->detached = 1;
				break;
			}
			if (o + (in[i] == DETACHKEY ? 1 : 2) > cap)
				break; /* out is full: the rest is the caller's mistake */
			k->prefix = 0;
			out[o++] = DETACHKEY;
			if (in[i] == DETACHKEY)
				continue;
		} else if (in[i] == DETACHKEY) {
			k->prefix = 1;
			continue;
		} else if (o >= cap) {
			break;
		}
		out[o++] = in[i];
	}
	return o;
}
