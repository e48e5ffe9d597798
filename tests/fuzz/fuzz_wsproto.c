/* fuzz_wsproto.c - request heads and client frames from arbitrary bytes:
 * parsed lengths stay inside the input, frames inside their buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/wsproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wsp_request r;
	int n = wsp_parse_request((const char *)data, size, &r);
	if (n > 0) {
		if ((size_t)n > size || n > WSP_HEAD_MAX)
			abort();
		char out[64];
		(void)wsp_is_upgrade(&r);
		(void)wsp_find_protocol(r.protocols, "lambda-microvms.authentication.", out, sizeof out);
		(void)wsp_offers_protocol(r.protocols, "lambda-microvms");
		if (r.key[0] && strlen(r.key) < 60) {
			char acc[WSP_ACCEPT_LEN + 1];
			if (wsp_accept(r.key, acc) < 0)
				abort();
		}
	}
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	size_t off = 0;
	struct wsp_frame f;
	for (;;) {
		long m = wsp_frame_take(copy + off, size - off, 4096, &f);
		if (m <= 0)
			break;
		if ((size_t)m > size - off || f.payload < copy + off ||
		    f.payload + f.len > copy + off + (size_t)m || f.len > 4096)
			abort();
		off += (size_t)m;
	}
	free(copy);
	return 0;
}
