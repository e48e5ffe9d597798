/*
 * proc.h - child processes for the engine: spawn with a clean environment,
 * chosen fds and stderr to a file; wait and kill with deadlines.
 */
#ifndef HEARTH_PROC_H
#define HEARTH_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_MAX_FDS 8

struct proc {
	pid_t pid;
	int pidfd;   /* -1 when pidfd_open is unavailable */
	int reaped;
	int status;  /* wait status once reaped */
	pid_t guard; /* proc_guard's watcher (0: none) */
};

/*
 * Start argv[0] (an absolute path) with env `envp`, stdin from /dev/null,
 * stdout and stderr appended to log_path (or /dev/null), and fds[i] as fd 3+i.
 * The child dies with its parent (PR_SET_PDEATHSIG). Returns 0, or -1 with
 * the reason in errbuf (including a failed exec).
 */
int proc_spawn(struct proc *p, char *const argv[], char *const envp[], const int *fds, int nfds,
	       const char *log_path, char *errbuf, size_t errlen);
/*
 * Keep the PR_SET_PDEATHSIG promise for a child that changes its uid (QEMU's
 * -runas; the kernel clears the death signal then): a small forked watcher
 * that SIGKILLs the child when the calling thread dies, and ends with the
 * child. proc_close ends and reaps it. 0, or -1 with the reason.
 */
int proc_guard(struct proc *p, char *errbuf, size_t errlen);
/* Reap if exited, within ms; 1 exited, 0 still running, -1 error. */
int proc_wait(struct proc *p, int ms);
/* SIGKILL and reap (bounded by ms). */
void proc_kill(struct proc *p, int ms);
/* Release the pidfd and end the guard (after reaping). */
void proc_close(struct proc *p);
/* "exited with status 1" / "killed by signal 9" / "running". */
void proc_describe(const struct proc *p, char *out, size_t n);
/* Run a helper to completion within ms; 0 when it exited 0, else -1 with its stderr tail. */
int proc_run(char *const argv[], const char *log_path, int ms, char *errbuf, size_t errlen);
/* The last `lines` lines of a text file (at most n-1 bytes, NUL-terminated). */
void proc_tail(const char *path, int lines, char *out, size_t n);
/* Resolve a program name through $PATH into out; 0 or -1. */
int proc_which(const char *name, char *out, size_t n);

#endif
