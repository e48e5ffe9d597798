/*
 * dfjson.h - the exec form of a Dockerfile instruction: a JSON array of
 * strings (pure, bounded by its input). Anything else, including a \u0000
 * that a C string cannot hold, is "not exec form" and the caller falls back
 * to the shell form as the reference says.
 */
#ifndef HEARTH_DFJSON_H
#define HEARTH_DFJSON_H

#include <stddef.h>

/* 0 with *out (n strings, NULL-terminated, each malloc'd) or -1. */
int dfjson_strarray(const char *s, size_t len, char ***out, size_t *n);
void dfjson_free(char **v, size_t n);

#endif
