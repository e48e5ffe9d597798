/* fuzz_httpreq.c - request heads, response heads and bodies from arbitrary bytes:
 * parsed lengths stay inside the input, the rewritten head inside its buffer
 * and never longer than the head, no proxy header or lambda-microvms
 * subprotocol survives the rewrite, and feeding a body byte by byte takes
 * exactly what feeding it at once does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *find_ci(const char *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(h + i, needle, k) == 0)
			return h + i;
	return NULL;
}

/* 1 when a Sec-WebSocket-Protocol line of the head has an entry starting lambda-microvms. */
static int leaks_protocol(const char *h, size_t n)
{
	const char *end = h + n;
	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		size_t ll = eol ? (size_t)(eol - h) : (size_t)(end - h);
		if (ll > 23 && strncasecmp(h, "sec-websocket-protocol:", 23) == 0) {
			for (size_t i = 23; i + 15 <= ll; i++) {
				if (strncasecmp(h + i, "lambda-microvms", 15) != 0)
					continue;
				size_t j = i;
				while (j > 22 && (h[j - 1] == ' ' || h[j - 1] == '\t'))
					j--;
				if (j - 1 == 22 || h[j - 1] == ',')
					return 1;
			}
		}
		h += ll + 1;
	}
	return 0;
}

static void bodies(const uint8_t *p, size_t n, enum httpreq_framing f, uint64_t len)
{
	struct httpreq_body a, b;
	httpreq_body_init(&a, f, len);
	httpreq_body_init(&b, f, len);
	long whole = httpreq_body_feed(&a, p, n);
	if (whole > (long)n)
		abort();
	long bytewise = 0;
	for (size_t i = 0; i < n && !b.done; i++) {
		long k = httpreq_body_feed(&b, p + i, 1);
		if (k < 0) {
			bytewise = -1;
			break;
		}
		if (k > 1)
			abort();
		bytewise += k;
	}
	if ((whole < 0) != (bytewise < 0) ||
	    (whole >= 0 && (whole != bytewise || a.done != b.done)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[HTTPREQ_HEAD_MAX];
	struct httpreq r;
	int n = httpreq_parse((const char *)data, size, &r, out, sizeof out);
	if (n > 0) {
		if ((size_t)n > size || n > HTTPREQ_HEAD_MAX || r.out_len > (size_t)n ||
		    r.out_len < 4 || memcmp(out + r.out_len - 4, "\r\n\r\n", 4) != 0)
			abort();
		/* A header name at a line start: "\nx-aws-proxy-" never survives. */
		if (find_ci(out, r.out_len, "\nx-aws-proxy-") || leaks_protocol(out, r.out_len) ||
		    r.port > 65535 || r.ws_port > 65535)
			abort();
		/* The rewritten head parses again to the same decisions. */
		static char again[HTTPREQ_HEAD_MAX];
		struct httpreq r2;
		if (httpreq_parse(out, r.out_len, &r2, again, sizeof again) != (int)r.out_len ||
		    r2.framing != r.framing || r2.length != r.length ||
		    r2.keep_alive != r.keep_alive || r2.upgrade != r.upgrade || r2.port != 0 ||
		    r2.ws_port != 0 || r2.out_len != r.out_len ||
		    memcmp(again, out, r.out_len) != 0)
			abort();
		bodies(data + n, size - (size_t)n, r.framing, r.length);
	} else if (n < HTTPREQ_E_CODING) {
		abort();
	}
	struct httpreq_resp rs;
	int m = httpreq_parse_response((const char *)data, size, size & 1, &rs);
	if (m > 0) {
		if ((size_t)m > size || m > HTTPREQ_RESP_HEAD_MAX || rs.status < 100 ||
		    rs.status > 999)
			abort();
		bodies(data + m, size - (size_t)m, rs.framing, rs.length);
	}
	bodies(data, size, HTTPREQ_BODY_CHUNKED, 0);
	return 0;
}
