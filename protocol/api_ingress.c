/* api_ingress.c - ingress connector names; see api_ingress.h. */
#include "api_ingress.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int flags;
} ingress_names[] = {
	{ "HTTP_INGRESS", API_INGRESS_HTTP },
	{ "SHELL_INGRESS", API_INGRESS_SHELL },
	{ "ALL_INGRESS", API_INGRESS_HTTP | API_INGRESS_SHELL },
	{ "NO_INGRESS", 0 },
};

static int name_flags(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof ingress_names / sizeof ingress_names[0]; i++)
		if (strlen(ingress_names[i].name) == n && memcmp(ingress_names[i].name, s, n) == 0)
			return ingress_names[i].flags;
	return -1;
}

/* A partition or region: [a-z0-9-]+. */
static int word_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int api_ingress_flags(const char *name)
{
	/* Fields of arn:P:lambda:R:aws:network-connector[:aws-network-connector]:NAME. */
	const char *f[9];
	size_t fl[9], nf = 0;
	const char *p = name;
	if (strncmp(name, "arn:", 4) != 0)
		return name_flags(name, strlen(name));
	for (;;) {
		const char *c = strchr(p, ':');
		if (nf == 9)
			return -1;
		f[nf] = p;
		fl[nf] = c ? (size_t)(c - p) : strlen(p);
		nf++;
		if (!c)
			break;
		p = c + 1;
	}
	if (nf != 7 && nf != 8)
		return -1;
#define FIELD_IS(i, lit) (fl[i] == sizeof lit - 1 && memcmp(f[i], lit, sizeof lit - 1) == 0)
	if (!word_ok(f[1], fl[1]) || !FIELD_IS(2, "lambda") || !word_ok(f[3], fl[3]) ||
	    !FIELD_IS(4, "aws") || !FIELD_IS(5, "network-connector") ||
	    (nf == 8 && !FIELD_IS(6, "aws-network-connector")))
		return -1;
#undef FIELD_IS
	return name_flags(f[nf - 1], fl[nf - 1]);
}

int api_ingress_canonical(const char *name, char *out, size_t cap)
{
	int n = strncmp(name, "arn:", 4) == 0
			? snprintf(out, cap, "%s", name)
			: snprintf(out, cap, "%s%s", API_INGRESS_ARN_PREFIX, name);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}
