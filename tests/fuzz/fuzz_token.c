/* fuzz_token.c - token_verify on arbitrary bytes; a verified token must
 * re-sign to exactly the same bytes (one encoding per claim set). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/token.h"

static const uint8_t key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_claims c;
	if (token_verify(key, sizeof key, (const char *)data, size, 1000, &c) == TOKEN_OK) {
		char again[TOKEN_MAX_LEN + 1];
		int n = token_sign(key, sizeof key, &c, again, sizeof again);
		if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
			abort();
	}
	/* Wrap the input as a correctly signed payload so the payload decoder
	 * (reached only after the signature check) sees arbitrary bytes too. */
	char tok[TOKEN_MAX_LEN * 2];
	memcpy(tok, TOKEN_PREFIX, 5);
	int n = token_b64url_encode(data, size, tok + 5, TOKEN_MAX_LEN);
	if (n >= 0) {
		uint8_t mac[TOKEN_MAC_LEN];
		size_t sl = 5 + (size_t)n;
		if (token_mac(key, sizeof key, tok, sl, mac) == 0) {
			tok[sl] = '.';
			int m = token_b64url_encode(mac, sizeof mac, tok + sl + 1, sizeof tok - sl - 1);
			if (m > 0)
				token_verify(key, sizeof key, tok, sl + 1 + (size_t)m, 1000, &c);
		}
	}
	return 0;
}
