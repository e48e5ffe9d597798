/* fuzz_h2map.c - h2 fields from arbitrary bytes become an HTTP/1.1 head that stays in
 * its buffer, has exactly one line end per line (no field can add a line) and that
 * the proxy's own parser accepts; response heads the proxy's parser accepts split
 * into fields that stay inside the head. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/h2map.h"
#include "protocol/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct h2map m;
static char out[HTTPREQ_HEAD_MAX + 64], rw[HTTPREQ_HEAD_MAX + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Request: fields as <1-byte name length><1-byte value length><name><value>. */
	h2map_init(&m);
	unsigned lines = 0;
	size_t i = 1;
	while (i + 2 <= size) {
		size_t nl = data[i], vl = data[i + 1];
		i += 2;
		if (i + nl + vl > size)
			break;
		(void)h2map_wants_h2(data + i, nl, data + i + nl, vl); /* reads only its bytes */
		if (h2map_add(&m, data + i, nl, data + i + nl, vl) == H2MAP_OK && nl && data[i] != ':')
			lines++;
		i += nl + vl;
	}
	int n = h2map_head(&m, size && (data[0] & 1), out, sizeof out);
	if (n > 0) {
		if ((size_t)n >= sizeof out || out[n] != '\0')
			abort();
		unsigned crlf = 0;
		for (int k = 0; k < n; k++) {
			if (out[k] == '\n' && (k == 0 || out[k - 1] != '\r'))
				abort();
			if (out[k] == '\r' && out[k + 1] != '\n')
				abort();
			crlf += out[k] == '\n';
		}
		/* request line, Host, the fields, maybe Transfer-Encoding, blank line */
		if (crlf < lines + 3 || crlf > lines + 4)
			abort();
		struct httpreq r;
		int p = httpreq_parse(out, (size_t)n, &r, rw, sizeof rw);
		if (p > n)
			abort();
	}
	/* Response heads. */
	struct httpreq_resp rs;
	int hl = httpreq_parse_response((const char *)data, size, 0, &rs);
	if (hl > 0) {
		static char names[HTTPREQ_RESP_HEAD_MAX];
		static struct h2map_field f[128];
		int k = h2map_response_fields((const char *)data, (size_t)hl, names, sizeof names, f, 128);
		for (int j = 0; j < k; j++)
			if (f[j].value < (const char *)data || f[j].value + f[j].vlen > (const char *)data + hl ||
			    f[j].name < names || f[j].name + f[j].nlen > names + sizeof names)
				abort();
	}
	return 0;
}
