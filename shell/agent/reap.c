/*
 * reap.c - collect every child (and, as PID 1 or subreaper, every orphan)
 * and deliver SIGKILL to process groups that outlived their channel's CLOSE
 * by the grace period.
 */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

static void reap_forget(struct agent *a, pid_t pid)
{
	for (unsigned i = 0; i < a->nreap; i++) {
		if (a->reap[i].pid == pid) {
			a->reap[i] = a->reap[--a->nreap];
			return;
		}
	}
}

void reap_children(struct agent *a)
{
	int st;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		chan_child_exited(a, pid, st);
		reap_forget(a, pid);
	}
}

void reap_kill_later(struct agent *a, pid_t pgid, int64_t when)
{
	if (a->nreap >= REAP_MAX) {
		kill(-pgid, SIGKILL); /* no room to wait: no grace */
		return;
	}
	a->reap[a->nreap].pid = pgid;
	a->reap[a->nreap].kill_at = when;
	a->nreap++;
}

void reap_run_kills(struct agent *a, int64_t now)
{
	for (unsigned i = 0; i < a->nreap; i++) {
		struct reap_entry *e = &a->reap[i];

		if (e->kill_at && now >= e->kill_at) {
			kill(-e->pid, SIGKILL);
			e->kill_at = 0; /* stays listed until reaped */
		}
	}
}

int64_t reap_next_deadline(const struct agent *a)
{
	int64_t best = 0;

	for (unsigned i = 0; i < a->nreap; i++) {
		int64_t d = a->reap[i].kill_at;

		if (d && (best == 0 || d < best))
			best = d;
	}
	return best;
}
