/*
 * awsini.c - read the profiles of an AWS shared-credentials or config file.
 */
#include "protocol/awsini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int awsini_path(const char *file_env, const char *home, const char *base, char *out,
		size_t outlen)
{
	if (file_env && *file_env)
		return snprintf(out, outlen, "%s", file_env) < (int)outlen ? 0 : -1;
	if (!home || !*home)
		return -1;
	return snprintf(out, outlen, "%s/.aws/%s", home, base) < (int)outlen ? 0 : -1;
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Copy [s, s+n) into out (outlen) or flag it too long. */
static void put(char *out, size_t outlen, const char *s, size_t n, int *too_long)
{
	if (n >= outlen) {
		*too_long = 1;
		out[0] = '\0';
		return;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* One line [l, l+n) trimmed. */
static void trim(const char **l, size_t *n)
{
	while (*n && blank(**l)) {
		(*l)++;
		(*n)--;
	}
	while (*n && blank((*l)[*n - 1]))
		(*n)--;
}

/* Is [l, l+n) a "[name]" line? Then name in [*ns, *ns+*nl). */
static int section(const char *l, size_t n, const char **ns, size_t *nl)
{
	if (n < 2 || l[0] != '[' || l[n - 1] != ']')
		return 0;
	*ns = l + 1;
	*nl = n - 2;
	trim(ns, nl);
	return 1;
}

int awsini_next(const char *text, size_t len, size_t *pos, struct awsini_profile *out)
{
	int in = 0;
	size_t i = *pos;
	memset(out, 0, sizeof *out);
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		const char *l = text + i, *ns;
		size_t n = e - i, nsl;
		trim(&l, &n);
		if (section(l, n, &ns, &nsl)) {
			if (in)
				break; /* the next section starts here */
			in = 1;
			put(out->name, sizeof out->name, ns, nsl, &out->too_long);
		} else if (in && n && l[0] != '#' && l[0] != ';') {
			const char *eq = memchr(l, '=', n);
			if (eq) {
				const char *k = l, *v = eq + 1;
				size_t kl = (size_t)(eq - l), vl = n - kl - 1;
				trim(&k, &kl);
				trim(&v, &vl);
				if (kl == 17 && memcmp(k, "aws_access_key_id", 17) == 0)
					put(out->key_id, sizeof out->key_id, v, vl, &out->too_long);
				else if (kl == 21 && memcmp(k, "aws_secret_access_key", 21) == 0)
					put(out->secret, sizeof out->secret, v, vl, &out->too_long);
				else if (kl == 6 && memcmp(k, "region", 6) == 0)
					put(out->region, sizeof out->region, v, vl, &out->too_long);
			}
		}
		i = e + (e < len);
	}
	*pos = i;
	return in;
}

int awsini_find(const char *text, size_t len, const char *name, struct awsini_profile *out)
{
	size_t pos = 0;
	while (awsini_next(text, len, &pos, out))
		if (strcmp(out->name, name) == 0)
			return 1;
	memset(out, 0, sizeof *out);
	return 0;
}

char *awsini_set_section(const char *text, const char *name, const char *body,
			int keep_existing)
{
	size_t tl = strlen(text), start = tl, end = tl, nl = strlen(name);
	if (nl == 0 || nl >= AWSINI_NAME_MAX || strpbrk(name, "[]\n"))
		return NULL;
	/* Find the section as awsini_next names it, and where the next one starts. */
	for (size_t i = 0; i < tl;) {
		const char *eol = memchr(text + i, '\n', tl - i);
		size_t e = eol ? (size_t)(eol - text) : tl;
		const char *l = text + i, *ns;
		size_t n = e - i, nsl;
		trim(&l, &n);
		if (section(l, n, &ns, &nsl)) {
			if (start == tl && nsl == nl && memcmp(ns, name, nl) == 0)
				start = i;
			else if (start != tl && end == tl)
				end = i;
		}
		i = e + (e < tl);
	}
	if (start != tl && keep_existing)
		return strdup(text);
	size_t bl = strlen(body);
	char *out = malloc(tl + nl + bl + 6);
	if (!out)
		return NULL;
	size_t o = start;
	memcpy(out, text, start);
	if (o && out[o - 1] != '\n')
		out[o++] = '\n';
	out[o++] = '[';
	memcpy(out + o, name, nl);
	o += nl;
	out[o++] = ']';
	out[o++] = '\n';
	memcpy(out + o, body, bl);
	o += bl;
	if (bl && body[bl - 1] != '\n')
		out[o++] = '\n';
	if (start != tl) {
		memcpy(out + o, text + end, tl - end);
		o += tl - end;
	}
	out[o] = '\0';
	return out;
}
