/*
 * buildvm.h - one builder microVM of an image build, driven from the
 * build's worker thread: booted from a managed base or restored from a step
 * cache snapshot, with a NIC under the image's egress policy, and a blocking
 * agent client that runs one channel at a time (an exec, a FILES put or get)
 * while it serves the guest's DNS channel itself (the builder VM is not a
 * lifecycle VM, so session/dns.c does not see it). Every wait has a deadline
 * and polls the build's cancel flag.
 */
#ifndef HEARTH_BUILDVM_H
#define HEARTH_BUILDVM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mux.h"

struct hearthd;
struct vm_engine;
struct buildvm;

struct buildvm_spec {
	const char *id;        /* VM and egress id (short: it names a namespace) */
	const char *run_dir;   /* the engine's files */
	const char *kernel, *initrd, *disk, *cmdline; /* boot (initrd/disk may be NULL) */
	unsigned mem_mib, vcpus;
	const char *egress;    /* egressNetworkConnectors JSON ("" = the default) */
	const atomic_int *cancel;
};

/* Output of a channel: stream 1 stdout, 2 stderr. */
typedef void (*buildvm_out_fn)(void *ctx, int stream, const uint8_t *p, size_t n);

struct buildvm_io {
	int in_fd;          /* stdin from this fd until its end (-1: none) */
	int out_fd;         /* stdout to this fd (-1: to out) */
	uint64_t out_max;   /* bytes at most to out_fd (then the channel fails) */
	buildvm_out_fn out; /* stderr (and stdout without out_fd); may be NULL */
	void *ctx;
	int timeout_ms;
};

/* Boot (snap NULL) or restore snap. NULL with err. */
struct buildvm *buildvm_start(struct hearthd *hd, const struct vm_engine *eng,
			      const struct buildvm_spec *s, const char *snap, char *err,
			      size_t errlen);
/* Stop the VM, its network, free (NULL: nothing). */
void buildvm_stop(struct buildvm *bv);
/*
 * Run one channel (o: MUX_KIND_EXEC with ARGV or FILES) to its end. 0 with
 * *code (a signal: 128 + n), or -1 with err: could not start, timed out,
 * cancelled (*cancelled set), the agent went away.
 */
int buildvm_run(struct buildvm *bv, const struct mux_open *o, const struct buildvm_io *io,
		int *code, int *cancelled, char *err, size_t errlen);
/* Snapshot into dir (the VM goes on). 0 or -1 with err. */
int buildvm_snapshot(struct buildvm *bv, const char *dir, char *err, size_t errlen);
/* Does the engine snapshot dir hold a complete snapshot? */
int buildvm_snapshot_complete(const char *dir);

#endif
