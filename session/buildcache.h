/*
 * buildcache.h - the step cache of image builds (<state>/buildcache/<key>/):
 * after each RUN/COPY/ADD step the builder VM is snapshotted into the
 * directory named by the step's key, the SHA-256 of the previous key and
 * everything the step depends on (its instruction, environment, user, working
 * directory, and for COPY/ADD the content hash of what it copies). The first
 * key covers the base image, the engine, the VM's size and its network
 * backend, which a restore must match. A snapshot's disk is backed by the
 * previous one's, so entries form chains and are never deleted one by one.
 */
#ifndef HEARTH_BUILDCACHE_H
#define HEARTH_BUILDCACHE_H

#include <stddef.h>

#define BUILDCACHE_KEY 65 /* hex SHA-256 + NUL */

/* key = SHA-256(prev (may be "") "\n" data) in hex. */
void buildcache_key(const char *prev, const void *data, size_t len, char key[BUILDCACHE_KEY]);
/* <state>/buildcache/<key> */
void buildcache_dir(const char *state_dir, const char *key, char *out, size_t n);
/* Is a complete snapshot stored under key? */
int buildcache_has(const char *state_dir, const char *key);

#endif
