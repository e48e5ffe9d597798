/* vmhost.c - endpoint host names to VM ids; see vmhost.h. */
#include "vmhost.h"

#include <string.h>

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int label_char(int c)
{
	c = lower(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* 1 when p[0..n) is one DNS label. */
static int label_ok(const char *p, size_t n)
{
	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!label_char((unsigned char)p[i]))
			return 0;
	return 1;
}

int vmhost_domain_valid(const char *d)
{
	size_t n = strnlen(d, VMHOST_DOMAIN_MAX + 1);
	if (n == 0 || n > VMHOST_DOMAIN_MAX)
		return 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || d[i] == '.') {
			if (!label_ok(d + start, i - start))
				return 0;
			start = i + 1;
		}
	return 1;
}

int vmhost_parse(const char *host, size_t len, const char *domain, int with_port, char *id,
		 size_t idlen)
{
	size_t dl = strlen(domain);
	if (with_port) {
		/* "name:digits": the port is not ours to judge beyond its shape. */
		const char *colon = memchr(host, ':', len);
		if (colon) {
			size_t pl = len - (size_t)(colon - host) - 1;
			if (pl == 0 || pl > 5)
				return -1;
			for (size_t i = 1; i <= pl; i++)
				if (colon[i] < '0' || colon[i] > '9')
					return -1;
			len = (size_t)(colon - host);
		}
	}
	/* A trailing dot names the same host (absolute form). */
	if (len && host[len - 1] == '.')
		len--;
	if (dl == 0 || len < dl + 2 || host[len - dl - 1] != '.')
		return -1;
	for (size_t i = 0; i < dl; i++)
		if (lower((unsigned char)host[len - dl + i]) != lower((unsigned char)domain[i]))
			return -1;
	size_t il = len - dl - 1;
	if (il > VMHOST_ID_MAX || il + 1 > idlen || !label_ok(host, il))
		return -1;
	for (size_t i = 0; i < il; i++)
		id[i] = (char)lower((unsigned char)host[i]);
	id[il] = '\0';
	return 0;
}
