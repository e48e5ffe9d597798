/* fuzz_wsclient.c - what a server may answer, from arbitrary bytes: the
 * upgrade answer head (parsed lengths stay inside the input, fields stay
 * NUL-terminated), then server frames and CLOSE payloads inside their buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/wsclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wsc_response r;
	size_t off = 0;
	int n = wsc_parse_response((const char *)data, size, &r);
	if (n > 0) {
		struct wsc_request req = { .host = "h", .path = "/",
					   .key = "dGhlIHNhbXBsZSBub25jZQ==" };
		req.protocols[0] = "lambda-microvms";
		req.protocols[1] = "hearth.v1";
		req.nprotocols = 2;
		if ((size_t)n > size || n > WSC_HEAD_MAX || strlen(r.protocol) >= sizeof r.protocol ||
		    strlen(r.accept) >= sizeof r.accept)
			abort();
		if (strlen(wsc_verdict_str(wsc_verify(&r, &req))) == 0)
			abort();
		off = (size_t)n;
	}
	struct wsc_frame f;
	for (;;) {
		long m = wsc_frame_take(data + off, size - off, 4096, &f);
		if (m <= 0)
			break;
		if ((size_t)m > size - off || f.payload < data + off ||
		    f.payload + f.len > data + off + (size_t)m || f.len > 4096)
			abort();
		if (f.opcode == WSC_CLOSE) {
			uint16_t code;
			const uint8_t *reason;
			size_t rlen;
			if (wsc_close_parse(f.payload, f.len, &code, &reason, &rlen) == 0 &&
			    (reason < f.payload || reason + rlen > f.payload + f.len))
				abort();
		}
		off += (size_t)m;
	}
	return 0;
}
