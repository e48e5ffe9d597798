/*
 * keyfile.h - the per-installation signing key (<state>/token.key, 0600).
 */
#ifndef HEARTH_KEYFILE_H
#define HEARTH_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* Load the key, creating it with fresh randomness on first use. */
int keyfile_load(const char *path, uint8_t *key, size_t keylen, char *err, size_t errlen);

#endif
