/*
 * snapcache.h - the image snapshots every run restores: one per image
 * version under <state>/snapshots/<image>@<version>/, built once (boot,
 * start command, ready hook, snapshot) on the first run that needs it while
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

#endif
