/* fuzz_wsproto.c - request heads and client frames from arbitrary bytes:
 * parsed lengths stay inside the input, frames inside their buffer; paths,
 * CLOSE payloads and UTF-8 checks agree with themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/utf8.h"
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
		/* A plain path has none of what it checks for. */
		if (!wsp_path_check(r.path)) {
			size_t pl = strcspn(r.path, "?");
			if (r.path[0] != '/' || memmem(r.path, pl, "//", 2) || memchr(r.path, ';', pl) ||
			    memmem(r.path, pl, "/./", 3) || memmem(r.path, pl, "/../", 4))
				abort();
		}
	}
	/* The input as a CLOSE payload and as text: the checks agree. */
	unsigned code;
	unsigned bad = wsp_close_check(data, size, &code);
	if (!bad && size >= 2 && !wsp_close_code_ok(code))
		abort();
	if (!bad && size > 2 && !utf8_valid(data + 2, size - 2))
		abort();
	struct utf8_check u;
	utf8_check_init(&u);
	size_t half = size / 2;
	int whole = utf8_valid(data, size);
	if ((utf8_check_feed(&u, data, half) == 0 && utf8_check_feed(&u, data + half, size - half) == 0 &&
	     utf8_check_done(&u)) != whole)
		abort();
	size_t pre = utf8_prefix(data, size, 125);
	if (pre > size || pre > 125 || !utf8_valid(data, pre) || (whole && size <= 125 && pre != size))
		abort();
	char reason[200];
	size_t rl = size < sizeof reason - 1 ? size : sizeof reason - 1;
	memcpy(reason, data, rl);
	reason[rl] = '\0';
	uint8_t cp[WSP_CLOSE_PAYLOAD_MAX];
	size_t cl = wsp_close_payload(cp, 1011, reason);
	if (cl < 2 || cl > WSP_CLOSE_PAYLOAD_MAX || wsp_close_check(cp, cl, &code) || code != 1011)
		abort();
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
