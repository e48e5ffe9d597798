/*
 * api_hook.c - hook request encoding and response status parsing.
 */
#include "api_hook.h"

#include <stdio.h>
#include <string.h>

int api_hook_request(struct buf *b, const char *hook, const void *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "POST " API_HOOK_PATH "%s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 hook, len);
	if (n < 0 || (size_t)n >= sizeof head)
		return -1;
	if (buf_put(b, head, (size_t)n) != BUF_OK)
		return -1;
	if (len && buf_put(b, body, len) != BUF_OK)
		return -1;
	return 0;
}

int api_hook_status(const char *p, size_t n, int *status)
{
	static const char pre[] = "HTTP/1.";
	size_t pl = sizeof pre - 1;
	size_t cmp = n < pl ? n : pl;
	if (memcmp(p, pre, cmp) != 0)
		return -1;
	/* "HTTP/1.x NNN" then a reason phrase and CRLF; a line is at most 1 KiB. */
	const char *eol = memchr(p, '\n', n);
	if (!eol)
		return n > 1024 ? -1 : 0;
	size_t len = (size_t)(eol - p);
	if (len < pl + 5 || (p[pl] != '0' && p[pl] != '1') || p[pl + 1] != ' ')
		return -1;
	int s = 0;
	for (size_t i = pl + 2; i < pl + 5; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		s = s * 10 + (p[i] - '0');
	}
	if (s < 100 || (len > pl + 5 && p[pl + 5] != ' ' && p[pl + 5] != '\r'))
		return -1;
	*status = s;
	return 1;
}
