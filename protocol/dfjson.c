/* dfjson.c - a JSON array of strings, as Go's json.Unmarshal into []string. */
#include "protocol/dfjson.h"

#include <stdlib.h>
#include <string.h>

static size_t ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static int hex4(const char *s, size_t len, size_t i, unsigned *v)
{
	*v = 0;
	if (i + 4 > len)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		char c = s[i + k];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		*v = *v * 16 + d;
	}
	return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One string starting at s[*i] == '"'; the decoded text never outgrows its source. */
static char *string(const char *s, size_t len, size_t *i)
{
	size_t p = *i + 1;
	char *o = malloc(len - *i + 1);
	size_t n = 0;
	if (!o)
		return NULL;
	while (p < len && s[p] != '"') {
		unsigned char c = (unsigned char)s[p];
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			o[n++] = (char)c;
			p++;
			continue;
		}
		if (++p >= len)
			goto bad;
		char e = s[p++];
		const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
		const char *k = e ? strchr(from, e) : NULL;
		if (k) {
			o[n++] = to[k - from];
			continue;
		}
		if (e != 'u')
			goto bad;
		unsigned cp, lo;
		if (hex4(s, len, p, &cp) < 0)
			goto bad;
		p += 4;
		if (cp >= 0xD800 && cp < 0xDC00 && p + 1 < len && s[p] == '\\' && s[p + 1] == 'u' &&
		    hex4(s, len, p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			p += 6;
		} else if (cp >= 0xD800 && cp < 0xE000) {
			cp = 0xFFFD; /* a lone surrogate, as Go decodes it */
		}
		if (cp == 0)
			goto bad;
		/* 6 source bytes give at most 4 (12 give 4 for a pair) */
		n += utf8_put(o + n, cp);
	}
	if (p >= len)
		goto bad;
	o[n] = '\0';
	*i = p + 1;
	return o;
bad:
	free(o);
	return NULL;
}

void dfjson_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int dfjson_strarray(const char *s, size_t len, char ***out, size_t *nout)
{
	size_t i = ws(s, len, 0), n = 0, cap = 0;
	char **v = NULL;
	*out = NULL;
	*nout = 0;
	if (i >= len || s[i] != '[')
		return -1;
	i = ws(s, len, i + 1);
	if (i < len && s[i] == ']') {
		i++;
	} else {
		for (;;) {
			if (i >= len || s[i] != '"')
				goto bad;
			char *str = string(s, len, &i);
			if (!str)
				goto bad;
			if (n + 2 > cap) {
				size_t nc = cap ? cap * 2 : 8;
				char **nv = realloc(v, nc * sizeof *nv);
				if (!nv) {
					free(str);
					goto bad;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = str;
			i = ws(s, len, i);
			if (i < len && s[i] == ',') {
				i = ws(s, len, i + 1);
				continue;
			}
			if (i < len && s[i] == ']') {
				i++;
				break;
			}
			goto bad;
		}
	}
	if (ws(s, len, i) != len)
		goto bad;
	if (!v && !(v = malloc(sizeof *v)))
		return -1;
	v[n] = NULL;
	*out = v;
	*nout = n;
	return 0;
bad:
	dfjson_free(v, n);
	return -1;
}
