/* fuzz_mcphttp.c - the MCP Streamable HTTP header checks from arbitrary
 * values: no read outside the string, a bearer token lies inside its value
 * and is never empty, an origin is loopback only if its authority, as a
 * Host, is too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mcphttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	if (!v)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	(void)mcphttp_accept(v);
	const char *t;
	size_t n;
	if (mcphttp_bearer(v, &t, &n) == 0 && (n == 0 || t < v || t + n > v + strlen(v)))
		abort();
	(void)mcphttp_host_loopback(v);
	(void)mcphttp_session_ok(v);
	(void)mcphttp_is_json(v);
	if (mcphttp_origin_loopback(v)) {
		const char *a = strstr(v, "://");
		if (!a)
			abort();
		char *h = strdup(a + 3);
		size_t hl = strlen(h);
		if (hl && h[hl - 1] == '/')
			h[hl - 1] = '\0';
		if (!mcphttp_host_loopback(h))
			abort();
		free(h);
	}
	free(v);
	return 0;
}
