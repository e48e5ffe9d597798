/* fuzz_httpresp.c - httpresp_parse on arbitrary bytes, as a server could send
 * them. Checks: results stay in bounds, and a response that parses is framed
 * exactly: its own bytes parse to the same body, one byte less is incomplete. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/httpresp.h"

#define CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[CAP], again[CAP];
	struct httpresp r, r2;
	for (int mode = 0; mode < 3; mode++) {
		int eof = mode == 1, head = mode == 2;
		enum httpresp_result res = httpresp_parse(data, size, eof, head, body, CAP, &r);
		if (res == HTTPRESP_ERROR) {
			if (!r.why)
				abort();
			continue;
		}
		if (res != HTTPRESP_OK)
			continue;
		if (r.consumed > size || r.body_len > CAP || r.status < 100 || r.status > 999 ||
		    memchr(r.error_type, 0, sizeof r.error_type) == NULL)
			abort();
		if (eof)
			continue;
		if (httpresp_parse(data, r.consumed, 0, head, again, CAP, &r2) != HTTPRESP_OK ||
		    r2.body_len != r.body_len || r2.status != r.status ||
		    memcmp(again, body, r.body_len) != 0)
			abort();
		if (r.consumed > 0 &&
		    httpresp_parse(data, r.consumed - 1, 0, head, again, CAP, &r2) != HTTPRESP_INCOMPLETE)
			abort();
	}
	return 0;
}
