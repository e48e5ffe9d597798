/*
 * snapcache.h - the image snapshots every run restores: one per image
 * version under <state>/snapshots/<image>@<version>/, built once (boot,
 * start command, the app of image.json started detached, ready hook or the
 * app's first port accepting, snapshot) on the first run that needs it while
 * other runs of the same version wait. Worker threads only.
 */
#ifndef HEARTH_SNAPCACHE_H
#define HEARTH_SNAPCACHE_H

#include <stddef.h>

struct catalog_entry;
struct vm_engine;
struct snapcache;

struct snapcache *snapcache_create(const struct vm_engine *eng, const char *snaps_dir);
void snapcache_destroy(struct snapcache *sc);
/* Image VMs get a NIC (in a NO_EGRESS namespace) so snapshots carry one. */
struct egress;
void snapcache_set_egress(struct snapcache *sc, struct egress *eg);
/* The snapshot directory of ce's version in out, built if missing: 0, or -1
 * with reason (STORE_REASON bytes). */
int snapcache_get(struct snapcache *sc, const struct catalog_entry *ce, char *out, size_t n,
		  char *reason);

/* The image's /validate hook on a test VM restored from snapdir: 0 when it
 * answered 200 or validate is disabled, -1 with reason (STORE_REASON bytes)
 * otherwise; the test VM is gone either way. snapcache_get already runs it
 * on every snapshot it builds, before the snapshot becomes current. */
int snapcache_validate(struct snapcache *sc, const struct catalog_entry *ce, const char *snapdir,
		       char *reason);

/*
 * The sealed memfd copy of snapdir's memory.bin that every VM restored from
 * this image snapshot maps (vmm/engine.h, mem_fd), made on first use and
 * shared: a new duplicate (close-on-exec, caller closes), 0 when the
 * snapshot maps no memory file (format 1, host engine), -1 with reason.
 */
int snapcache_mem_fd(struct snapcache *sc, const char *snapdir, char *reason);
/* For a restore of snapdir (a suspended VM's snapshot): the sealed memory
 * of the image snapshot its memory is a delta against (vmm/snapfile.h
 * mem_base), as snapcache_mem_fd; 0 when it has no such base; -1 with
 * reason, also when the base is not one of this cache's snapshots. */
int snapcache_base_fd(struct snapcache *sc, const char *snapdir, char *reason);
/* An unshared sealed copy of snapdir's memory.bin for one restore of a
 * snapshot other VMs may map too (the build step cache): as above, but made
 * each time and not kept. */
int snapcache_seal(const char *snapdir, char *reason);
/* Drop the copies of snapshots deleted or rebuilt since (image deletion). */
void snapcache_prune(struct snapcache *sc);

#endif
