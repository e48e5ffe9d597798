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
 */
#ifndef HEARTH_KEEPER_H
#define HEARTH_KEEPER_H

#include <stddef.h>
#include <sys/types.h>

#define KEEPER_REPLY 1024

/* Entry point of "hearthd --keeper --dir VMDIR --id ID --snapshot DIR --engine NAME". */
int keeper_main(int argc, char **argv);

/*
 * Start a keeper restoring snapdir into vmdir/run; waits (deadline) until the
 * VM runs and its agent has fresh entropy, its hostname (id) and the time.
 * Returns the keeper's pid, or -1 with reason.
 */
pid_t keeper_spawn(const char *exe, const char *engine, const char *vmdir, const char *id,
		   const char *snapdir, int timeout_ms, char *reason, size_t rlen);
/* Send one command; 0 with the reply line (without newline), -1 when the
 * keeper is unreachable or did not answer in time. */
int keeper_cmd(const char *vmdir, const char *cmd, int timeout_ms, char *reply, size_t n);
/* 1 when pid is a live (not zombie) process; reaps it when it is our ended child. */
int keeper_alive(pid_t pid);
/* Reap an ended keeper that is our child (bounded wait; no-op for adopted ones). */
void keeper_reap(pid_t pid, int timeout_ms);
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
