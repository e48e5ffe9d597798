/*
 * keeper.h - one small process per running microVM ("hearthd --keeper").
 *
 * The engine's VM processes die with the thread that started them, so a VM
 * started by hearthd itself could not outlive hearthd. Instead hearthd starts
 * a keeper per VM (its child, in a session of its own): the keeper restores the
 * snapshot, relays the agent stream on <vmdir>/agent.sock (many clients,
 * frame-aligned; vmm/relay.h) and takes commands on <vmdir>/ctl.sock. A restarted
 * hearthd (even after kill -9) re-adopts a VM by talking to its keeper.
 * Traffic through agent.sock touches <vmdir>/activity (mtime, at most once a
 * second): hearthd's idle timer reads it without talking to the keeper.
 *
 * ctl.sock: one text line per request, one reply line:
 *   ping          -> "ok PID" (PID of the VM's engine process)
 *   suspend DIR   -> "ok" (VM suspended into DIR, complete and synced; keeper exits)
 *                    "err REASON" (the snapshot failed, e.g. a full disk: the VM
 *                    runs on where it was, the relay is back, nothing of it is
 *                    in DIR, which the caller may delete)
 *                    | "dead REASON" (the VM process died; keeper exits)
 *   stop          -> "ok" (VM stopped, keeper exits)
 *
 * The keeper's exit status says why it ended: 0 suspended or stopped, 1
 * start failed, 3 suspend failed and the VM could not go on, 4 the VM's
 * agent stream ended (the engine process died), 5 internal error.
 */
#ifndef HEARTH_KEEPER_H
#define HEARTH_KEEPER_H

#include <stddef.h>
#include <sys/types.h>

#define KEEPER_REPLY 1024

/* Entry point of "hearthd --keeper --dir VMDIR --id ID --snapshot DIR --engine NAME
 * [--tap-fd 4] [--mem-fd 5]". */
int keeper_main(int argc, char **argv);

/*
 * A keeper's identity: its PID and its start time (field 22 of
 * /proc/PID/stat, clock ticks after boot). A PID alone may name another
 * process after the keeper ended; hearthd signals only a process whose
 * start time matches (checked through a pidfd, so the check and the signal
 * concern the same process).
 */
struct keeper_id {
	pid_t pid;
	unsigned long long start; /* 0: unknown, never signalled */
};

/* Start time and state letter of a live or zombie process; -1 when gone. */
int keeper_proc_start(pid_t pid, unsigned long long *start, char *state);

/*
 * Start a keeper restoring snapdir into vmdir/run; waits (deadline) until the
 * VM runs and its agent has fresh entropy, its hostname (id) and the time.
 * tap_fd >= 0: the VM's tap (session/egress.h), handed to the keeper as fd 4
 * (the caller keeps and closes its own copy). mem_fd > 0: the image
 * snapshot's sealed memory (snapcache_mem_fd, vm_config.mem_fd), handed as
 * fd 5 the same way.
 * 0 with the keeper's identity and the engine's PID (QEMU), or -1 with reason.
 */
int keeper_spawn(const char *exe, const char *engine, const char *vmdir, const char *id,
		 const char *snapdir, int tap_fd, int mem_fd, int timeout_ms, struct keeper_id *out,
		 pid_t *engine_pid, char *reason, size_t rlen);
/* Send one command; 0 with the reply line (without newline), -1 when the
 * keeper is unreachable or did not answer in time. */
int keeper_cmd(const char *vmdir, const char *cmd, int timeout_ms, char *reply, size_t n);
/*
 * ping through <vmdir>/ctl.sock: 0 with the PID of the process that listens
 * there (SO_PEERCRED: the keeper, whatever the store says) and the engine's
 * PID from its answer; -1 when nobody answers "ok PID".
 */
int keeper_ping(const char *vmdir, int timeout_ms, pid_t *keeper_pid, pid_t *engine_pid);
/*
 * 1 when k is alive (same PID, same start time, not a zombie). An ended
 * keeper that is our child is reaped; *wstatus (may be NULL) gets its wait
 * status then, else -1 (not ours to wait for, or still alive).
 */
int keeper_alive(const struct keeper_id *k, int *wstatus);
/* SIGKILL k if, and only if, it is provably that process: 0 sent, -1 not. */
int keeper_kill(const struct keeper_id *k);
/* Reap an ended keeper that is our child (bounded wait; no-op for adopted
 * ones or a PID that is no longer k). */
void keeper_reap(const struct keeper_id *k, int timeout_ms);
/* Describe a wait status: "exited with status 4 (the VM's agent stream
 * ended)", "killed by signal 9", or "exit status unknown" for -1. */
void keeper_describe_exit(int wstatus, char *out, size_t n);
/* Connect to the VM's agent relay (blocking fd with CLOEXEC), or -1. */
int keeper_agent_connect(const char *vmdir, int timeout_ms);
/*
 * Connect to the agent's direct stream (PROTOCOL.md 1.9), <vmdir>/run/
 * VM_DIRECT_SOCK, or -1 when the VM has none (an older snapshot or agent:
 * the keeper removes the socket then). One host at a time: only hearthd's
 * agentlink uses it; everyone else goes through the relay.
 */
int keeper_direct_connect(const char *vmdir);

#endif
