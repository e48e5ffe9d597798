/*
 * buildcache.h - the step cache of image builds (<state>/buildcache/<key>/):
 * after each RUN/COPY/ADD step the builder VM is snapshotted into the
 * directory named by the step's key, the SHA-256 of the previous key and
 * everything the step depends on (its instruction, environment, user, working
 * directory, and for COPY/ADD the content hash of what it copies). The first
 * key covers the base image, the engine, the VM's size and its network
 * backend, which a restore must match. A snapshot's disk is backed by the
 * previous one's, so entries form chains: an entry is removed only when no
 * other entry backs onto it (buildcache_evict), least recently used first,
 * and never one used since the oldest running build started (the builder
 * marks what it uses with buildcache_touch).
 */
#ifndef HEARTH_BUILDCACHE_H
#define HEARTH_BUILDCACHE_H

#include <stddef.h>
#include <stdint.h>

#define BUILDCACHE_KEY 65 /* hex SHA-256 + NUL */

/* key = SHA-256(prev (may be "") "\n" data) in hex. */
void buildcache_key(const char *prev, const void *data, size_t len, char key[BUILDCACHE_KEY]);
/* <state>/buildcache/<key> */
void buildcache_dir(const char *state_dir, const char *key, char *out, size_t n);
/* Is a complete snapshot stored under key? */
int buildcache_has(const char *state_dir, const char *key);

/* Mark the entry used now (eviction keeps the most recently used). */
void buildcache_touch(const char *state_dir, const char *key);

struct buildcache_stats {
	unsigned entries, evicted; /* entries found, entries removed */
	uint64_t bytes, freed;     /* bytes the cache held, bytes freed */
};

/*
 * Bring the cache down to at most max_bytes: remove incomplete entries (left
 * by a failed snapshot) that nothing backs onto, then the least recently used
 * entries that no other entry's disk backs onto, one at a time (a removal can
 * make its parent removable), until the rest fits. An entry used (touched or
 * made) at or after keep_ns (CLOCK_REALTIME ns; INT64_MAX: none) stays, and
 * so do the entries it backs onto: the running builds' own. Bytes count files
 * with a single link (a hard link shared with a built image frees nothing).
 * The caller serializes this with its own lookups and touches. 0, or -1 with
 * err.
 */
int buildcache_evict(const char *state_dir, uint64_t max_bytes, int64_t keep_ns,
		     struct buildcache_stats *st, char *err, size_t errlen);

#endif
