/*
 * engine.h - the VM engine interface hearthd uses (engine-neutral).
 *
 * An engine boots a guest from a kernel (+ initramfs and/or disk), snapshots
 * it to a directory, restores a snapshot into any number of independent VMs,
 * pauses/resumes vCPUs, suspends (snapshot + end the process) and stops it.
 * Each VM exposes its agent channel as a connected stream file descriptor
 * carrying the protocol in protocol/mux.h.
 *
 * Contracts:
 *  - Every call takes a deadline in milliseconds and returns within it
 *    (plus a small constant): a dead or stuck engine process is reported as an
 *    error, never waited on forever.
 *  - Errors return -1 and fill `err` with the reason (the engine's last stderr
 *    lines, the monitor's error); nothing is printed.
 *  - All files of a VM (overlay disks, logs) live in cfg->run_dir; stop
 *    removes every file the engine created there (and the directory when the
 *    engine created it).
 *  - A snapshot directory is self-contained except for the image files it
 *    names (kernel, initrd, base disk) and, after a resume, the snapshot it
 *    was resumed from (its disk is the backing file of the new one).
 *  - Memory (snapshot format 2, vmm/snapfile.h, vmm/ramfile.h): a VM's RAM is
 *    a private copy-on-write mapping of a snapshot's memory.bin, so restore
 *    reads none of it up front (time independent of the memory size) and
 *    VMs restored from one snapshot share its clean pages in the page
 *    cache; memory.bin is never written through that mapping, so clones
 *    stay independent. memory.bin is checked by size only (its device state
 *    and disk are hashed). A restored VM holds its memory.bin open until it
 *    ends: deleting the name frees nothing meanwhile.
 *  - Suspend writes a new memory.bin (the base's data extents copied in the
 *    kernel, holes kept, plus the pages the VM wrote), except after a resume
 *    from a suspend snapshot: then memory.bin is a hard link to that
 *    snapshot's and memory.delta holds only the pages written since the
 *    resume, applied to the shared file when the new snapshot is restored.
 *    So a suspend snapshot is good until a later suspend of the VM resumed
 *    from it has itself been restored (then only the newest is); until then
 *    it stays the fallback if that suspend dies halfway. Never restore one
 *    suspend snapshot into two live VMs. snapshot() never links: its result
 *    (an image snapshot) may be restored any number of times.
 *  - An image snapshot restored into many VMs must not be mapped from its
 *    file: QEMU 7.2 opens mem-path O_RDWR even with share=off (as root,
 *    before -runas), so a guest escaping into one QEMU could rewrite what
 *    every sibling maps. Pass it as cfg->mem_fd instead: a memfd copy of
 *    memory.bin sealed against writes (ramfile_seal), one per image snapshot,
 *    shared by all its VMs. The kernel refuses write(), fallocate punching,
 *    truncation and shared-writable mappings through every descriptor of it,
 *    so only private copy-on-write mappings remain. Cost: one shmem copy of
 *    the image's used memory (not reclaimable without swap) while its holder
 *    (hearthd) keeps it, growing by the holes clones fault in, at most to the
 *    RAM size. A suspend snapshot's memory.bin maps only into the one VM
 *    restored from it: mapped from the file, a writable descriptor reaches
 *    nothing but that VM's own memory.
 *  - On tmpfs a mapped hole is allocated when first touched (SIGBUS when the
 *    tmpfs is full): memory files written there have every page allocated,
 *    and a VM booted in a tmpfs run_dir uses anonymous RAM (format 1).
 *  - The disk chain is bounded: a restore whose chain holds more than 3
 *    qcow2 files streams it (QMP block-stream) into its new overlay while
 *    the VM runs, so the overlay backs onto the base disk directly; a stream
 *    still running at the next snapshot is cancelled first (what it copied
 *    stays valid). The manifest records the chain's depth. The older
 *    snapshot files are no longer needed by later snapshots once streamed.
 *  - Format 1 snapshots (QEMU's migration stream, read whole) still restore,
 *    and a VM restored from one snapshots in format 1; HEARTH_SNAP_EAGER=1 at
 *    boot makes format 1 (benchmarks compare the two).
 *  - Where the engine supports it, the agent also serves a direct stream
 *    (PROTOCOL.md 1.9) on the unix listening socket <run_dir>/VM_DIRECT_SOCK,
 *    one host at a time: hearthd's own sessions reach the agent there without
 *    a relay. A VM restored from a snapshot made without it has none.
 *  - After boot/restore the agent has not been greeted: the caller runs the
 *    HELLO and, after a restore, gives the guest fresh entropy and a hostname
 *    (vmm/agentctl.h does both).
 *  - The engine process is the VM's parent and reaps it itself: do not reap
 *    with waitpid(-1) elsewhere. The VM gets SIGKILL when the thread that
 *    started it exits (PR_SET_PDEATHSIG; for a QEMU that drops to its own
 *    uid, which clears that signal, a forked guard process, vmm/proc.h), so
 *    no VM outlives a crashed daemon or keeper.
 *  - Calls on one vm must not run concurrently; different vms are independent.
 *  - vmm/ knows nothing of sessions, users or tokens.
 *  - Paths (run_dir, snapshot dirs, images) may hold any character but a
 *    control character (refused with an error: no QEMU option, keeper command
 *    line or manifest carries a newline safely); a ',' is doubled where a path
 *    enters a QEMU option string.
 *  - Run as root, the engine starts each QEMU under a uid:gid of its own
 *    (QEMU's -runas, no supplementary groups, after it opened its files),
 *    always with QEMU's seccomp sandbox on; QEMU then opens nothing by path
 *    (new disk overlays are handed over as fds), so run dirs stay 0700 root.
 *    Not root: QEMU runs as the caller.
 *  - The guest's serial console goes to <run_dir>/console.log, rotated at
 *    VM_CONSOLE_LOG_MAX bytes into console.log.1: at most twice that per VM.
 */
#ifndef HEARTH_ENGINE_H
#define HEARTH_ENGINE_H

#include <stddef.h>
#include <sys/types.h>

#define VM_ERR_LEN 1024
#define VM_DIRECT_SOCK "direct.sock" /* in run_dir: the agent's direct stream */
#define VM_CONSOLE_LOG "console.log" /* in run_dir: the serial console (rotated) */
#define VM_CONSOLE_LOG_MAX (1024 * 1024) /* bytes per console.log (and per .1) */

struct vm_err {
	char msg[VM_ERR_LEN];
};

enum vm_accel { VM_ACCEL_AUTO = 0, VM_ACCEL_KVM, VM_ACCEL_TCG };

struct vm_config {
	const char *id;         /* VM identifier (used in file names and the guest hostname) */
	const char *run_dir;    /* private directory for this VM's files; created if missing */
	const char *kernel;     /* guest kernel */
	const char *initrd;     /* optional initramfs */
	const char *disk;       /* optional base disk image (raw; read-only backing of a qcow2 overlay) */
	const char *cmdline;    /* extra kernel command line */
	unsigned mem_mib;       /* guest memory (0: 128) */
	unsigned vcpus;         /* 0: 1 */
	enum vm_accel accel;    /* AUTO: HEARTH_ACCEL, else vm_accel_detect() */
	int net;                /* VM_NET_*: the network device (boot; restore checks it) */
	int tap_fd;             /* VM_NET_TAP: an open tap (IFF_VNET_HDR), duplicated for QEMU */
	/* Restore, format 2: > 0 is a sealed memfd holding the snapshot's
	 * memory.bin (vmm/ramfile.h ramfile_seal), duplicated for QEMU, whose
	 * guest RAM then maps it instead of the file; 0 (never a memfd here):
	 * the file. Checked: sealed, the snapshot's memory size, no delta. */
	int mem_fd;
};

/* Network backends; a snapshot records its own and restore refuses another. */
enum { VM_NET_NONE = 0, VM_NET_USER = 1, VM_NET_TAP = 2 };
#define VM_GUEST_MAC "52:54:00:68:74:01" /* the virtio-net device's, same in every VM */

struct vm; /* one running or paused VM instance */

/* The "guest" is a process on the host (engine "host"): it shares the host's
 * hostname, clock and RNG, so nothing may be pushed into it after a restore. */
#define VM_ENGINE_HOST_PROCESS 1u

struct vm_engine {
	const char *name;
	unsigned flags; /* VM_ENGINE_* */
	int (*boot)(const struct vm_config *cfg, int deadline_ms, struct vm **out, struct vm_err *err);
	/* Snapshot memory + device state + disk into dir (created; must not hold a
	 * snapshot yet), consistently. The VM is left paused and keeps running on a
	 * new overlay over the snapshot's disk after resume. */
	int (*snapshot)(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err);
	/* Snapshot into dir, then end the VM (as stop does): no host memory is held
	 * while suspended. A transaction: memory, device state, disk and manifest
	 * are written and synced (files and directories) while the VM is paused,
	 * and only then does the VM process end. On success vm is freed; resume =
	 * restore(dir). On failure (a full disk, a migration error...) what was
	 * written is removed and the VM continues where it was (running, if it
	 * was), nothing of it depends on dir (the caller may delete dir), unless
	 * its process died: then every further call fails and stop frees it. */
	int (*suspend)(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err);
	/* Restore a snapshot directory into a new, independent VM with its own
	 * overlay. From cfg only id, run_dir, accel, net, tap_fd and mem_fd are used: the
	 * kernel, disk, memory, vCPUs and devices come from the snapshot, and
	 * cfg->net must name the snapshot's network backend. A truncated or corrupt
	 * snapshot is refused before anything runs. */
	int (*restore)(const struct vm_config *cfg, const char *snapdir, int deadline_ms,
		       struct vm **out, struct vm_err *err);
	int (*pause)(struct vm *vm, int deadline_ms, struct vm_err *err);
	int (*resume)(struct vm *vm, int deadline_ms, struct vm_err *err);
	/* Stop the VM and free it, always (even on error); removes its files. */
	int (*stop)(struct vm *vm, int deadline_ms, struct vm_err *err);
	/* Connected stream fd to the guest agent (owned by the vm; valid until stop). */
	int (*agent_fd)(struct vm *vm);
	pid_t (*pid)(struct vm *vm);
};

/* "qemu" (the default when name is NULL) or "host" (vmm/host.c: no VM, for
 * development and benchmarks); NULL when unknown. */
const struct vm_engine *vm_engine_find(const char *name);
/* KVM when /proc/cpuinfo shows vmx|svm and /dev/kvm opens, else TCG. */
enum vm_accel vm_accel_detect(void);
/* cfg->accel resolved: HEARTH_ACCEL=kvm|tcg overrides AUTO. */
enum vm_accel vm_accel_resolve(enum vm_accel want);

#endif
