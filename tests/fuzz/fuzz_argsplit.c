/* fuzz_argsplit.c - argsplit on arbitrary bytes, as a user could type them.
 * Checks: with the documented store size it never fails for space, every
 * word lies inside the store, and words are never longer than the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/argsplit.h"

#define MAXW 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size + MAXW + 1;
	char *store = malloc(cap), *words[MAXW + 1];
	size_t n = 99;
	if (!store)
		return 0;
	int r = argsplit((const char *)data, size, store, cap, words, MAXW, &n);
	if (r == ARGSPLIT_E_SPACE)
		abort();
	if (r != ARGSPLIT_OK && n != 0)
		abort();
	if (r == ARGSPLIT_OK) {
		size_t total = 0;
		if (n > MAXW || words[n] != NULL)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (words[i] < store || words[i] >= store + cap)
				abort();
			size_t l = strnlen(words[i], (size_t)(store + cap - words[i]));
			if (words[i] + l >= store + cap)
				abort();
			total += l;
		}
		if (total > size)
			abort();
	}
	/* a tighter store must fail cleanly, never overrun (ASan watches) */
	if (cap > 1) {
		char *small = malloc(cap / 2);
		if (small) {
			argsplit((const char *)data, size, small, cap / 2, words, MAXW, &n);
			free(small);
		}
	}
	free(store);
	return 0;
}
