/* fuzz_sigv4.c - the SigV4 check on arbitrary requests. The input is
 * "METHOD\nPATH\nQUERY\nName: value\n...\n\nBODY". Parsing and verifying
 * never read outside the request, and a request hearth signs itself always
 * verifies (signing and checking agree on every canonical form). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/sigv4.h"

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret-0000"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *next_line(char **p, char *end)
{
	char *s = *p;
	if (s >= end)
		return NULL;
	char *nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		nl = end;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *p = copy, *end = copy + size;
	struct httpmsg_request r;
	memset(&r, 0, sizeof r);
	r.method = next_line(&p, end);
	r.raw_path = next_line(&p, end);
	r.raw_query = next_line(&p, end);
	if (!r.method || !r.raw_path || !r.raw_query)
		goto out;
	r.path = r.target = r.raw_path;
	char *line;
	int has_auth = 0;
	while ((line = next_line(&p, end)) && *line && r.nheaders < HTTPMSG_HEADERS_MAX - 1) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		has_auth |= strcasecmp(line, "authorization") == 0;
		r.headers[r.nheaders].name = line;
		r.headers[r.nheaders].value = v;
		r.nheaders++;
	}
	if (p < end) {
		r.body = (const uint8_t *)p;
		r.body_len = (size_t)(end - p);
	}
	struct sigv4_auth au;
	char why[512], creq[4096];
	if (sigv4_parse(&r, &au, why, sizeof why) == SIGV4_OK) {
		sigv4_check_time(&au, 1440938160, why, sizeof why);
		sigv4_verify(&r, &au, SECRET, why, sizeof why);
		sigv4_canonical_request(&r, &au, creq, sizeof creq);
	}
	const char *date = httpmsg_get(&r, "x-amz-date");
	char authz[4096];
	if (date && !has_auth && !strstr(r.raw_query, "X-Amz-Algorithm") &&
	    sigv4_sign(&r, "AKIDFUZZ", SECRET, "us-east-1", "lambda", date, authz,
		       sizeof authz) == 0) {
		r.headers[r.nheaders].name = "Authorization";
		r.headers[r.nheaders].value = authz;
		r.nheaders++;
		if (sigv4_parse(&r, &au, why, sizeof why) != SIGV4_OK ||
		    sigv4_verify(&r, &au, SECRET, why, sizeof why) != SIGV4_OK)
			abort();
	}
out:
	free(copy);
	return 0;
}
