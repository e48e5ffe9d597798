/*
 * statelock.h - one hearthd per state directory: an exclusive flock on
 * <state>/hearthd.lock, held for the daemon's life, the file holding the
 * holder's PID. A second hearthd on the same directory is refused before it
 * touches the store or any VM (two daemons would re-adopt the same keepers
 * and end each other's VMs). The lock dies with the process, even on
 * kill -9; keepers never inherit it (O_CLOEXEC).
 */
#ifndef HEARTH_STATELOCK_H
#define HEARTH_STATELOCK_H

#include <stddef.h>
#include <sys/types.h>

/* The held lock's fd, or -1 with err naming the holder's PID when taken. */
int statelock_acquire(const char *state_dir, char *err, size_t errlen);

#endif
