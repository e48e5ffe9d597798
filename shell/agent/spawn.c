/*
 * spawn.c - everything a shell or exec child needs besides its fds: the
 * target user (from /etc/passwd), a fresh environment, the working directory,
 * and the credential switch done in the child. Failures in the child are
 * reported to the parent through a close-on-exec pipe, so OPEN can answer
 * OPEN_FAIL instead of a channel that dies at once.
 */
#include "agent.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPAWN_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

static char *spawn_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

int spawn_add_arg(struct spawn_req *r, unsigned idx, const char *s, size_t n)
{
	if (idx >= MUX_MAX_ARGV + 1)
		return MUX_E_LIMIT;
	free(r->argv[idx]);
	r->argv[idx] = spawn_dup(s, n);
	return r->argv[idx] ? MUX_OK : MUX_E_LIMIT;
}

/* Set "NAME=value", replacing an earlier entry with the same name. */
int spawn_set_env(struct spawn_req *r, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t nl;
	unsigned i;

	if (eq == NULL || eq == s)
		return MUX_E_PROTO;
	nl = (size_t)(eq - s) + 1;
	for (i = 0; i < r->nenv; i++)
		if (strncmp(r->envp[i], s, nl) == 0)
			break;
	if (i == r->nenv && r->nenv >= sizeof(r->envp) / sizeof(r->envp[0]) - 1)
		return MUX_E_LIMIT;
	free(i < r->nenv ? r->envp[i] : NULL);
	r->envp[i] = spawn_dup(s, n);
	if (r->envp[i] == NULL)
		return MUX_E_LIMIT;
	if (i == r->nenv)
		r->nenv++;
	r->envp[r->nenv] = NULL;
	return MUX_OK;
}

static int spawn_env_kv(struct spawn_req *r, const char *k, const char *v)
{
	char tmp[MUX_MAX_STR + 64];
	int n = snprintf(tmp, sizeof(tmp), "%s=%s", k, v);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return MUX_E_LIMIT;
	return spawn_set_env(r, tmp, (size_t)n);
}

static int spawn_copy_str(char *dst, size_t cap, struct mux_str s)
{
	if (s.len >= cap)
		return MUX_E_LIMIT;
	memcpy(dst, s.p, s.len);
	dst[s.len] = 0;
	return MUX_OK;
}

/* Set once from --shell before the event loop; empty: /etc/passwd's. */
static char spawn_default_shell[512];

int spawn_set_default_shell(const char *path)
{
	size_t n = strlen(path);

	if (path[0] != '/' || n >= sizeof(spawn_default_shell))
		return -1;
	memcpy(spawn_default_shell, path, n + 1);
	return 0;
}

/* The passwd entry of a USER spec's user part: a name, or a uid that
 * needs no entry (then named by its number, home /, group 0, as Docker). */
static int spawn_lookup_user(const char *u, struct passwd_ent *pw, int *known, char *err,
			     size_t errlen)
{
	unsigned long id;

	*known = 1;
	if (passwd_id(u, &id) == 0) {
		if (passwd_by_uid("/etc/passwd", (uid_t)id, pw) == 0)
			return MUX_OK;
		memset(pw, 0, sizeof(*pw));
		snprintf(pw->name, sizeof(pw->name), "%s", u);
		pw->uid = (uid_t)id;
		*known = 0;
		return MUX_OK;
	}
	if (passwd_by_name("/etc/passwd", u, pw) != 0) {
		snprintf(err, errlen, "no such user: %s", u);
		return MUX_E_SPAWN;
	}
	return MUX_OK;
}

/* Who the child runs as, and the defaults that follow from it. The user is
 * Docker's USER: name or uid, optionally ":group" (a name or a gid), which
 * then is the only group. */
static int spawn_user(struct spawn_req *r, const struct mux_open *o, char *err, size_t errlen)
{
	struct passwd_ent pw;
	uid_t me = geteuid();
	int known = 1, own_group = 0, rc;

	if (o->user.p != NULL) {
		char spec[MUX_MAX_USER + 1], *grp;
		unsigned long id;
		gid_t g;

		if (spawn_copy_str(spec, sizeof(spec), o->user) != MUX_OK)
			return MUX_E_LIMIT;
		if ((grp = strchr(spec, ':')) != NULL)
			*grp++ = '\0';
		if ((rc = spawn_lookup_user(spec, &pw, &known, err, errlen)) != MUX_OK)
			return rc;
		if (grp) {
			if (passwd_id(grp, &id) == 0) {
				g = (gid_t)id;
			} else if (!grp[0] || passwd_group_by_name("/etc/group", grp, &g) != 0) {
				snprintf(err, errlen, "no such group: %s", grp);
				return MUX_E_SPAWN;
			}
			pw.gid = g;
			own_group = 1;
		}
		if (me != 0 && (pw.uid != me || (own_group && pw.gid != getegid()))) {
			snprintf(err, errlen, "cannot switch to user %s", spec);
			return MUX_E_PERM;
		}
		r->change_user = me == 0;
	} else if (passwd_by_uid("/etc/passwd", me, &pw) != 0) {
		/* No passwd entry (a bare initramfs): sensible defaults. */
		memset(&pw, 0, sizeof(pw));
		snprintf(pw.name, sizeof(pw.name), "%s", me == 0 ? "root" : "user");
		snprintf(pw.home, sizeof(pw.home), "%s", me == 0 ? "/root" : "/");
		pw.uid = me;
		pw.gid = getegid();
	}
	snprintf(r->user, sizeof(r->user), "%s", pw.name);
	snprintf(r->home, sizeof(r->home), "%s", pw.home[0] ? pw.home : "/");
	snprintf(r->shell, sizeof(r->shell), "%s",
		 spawn_default_shell[0] ? spawn_default_shell : pw.shell);
	r->uid = pw.uid;
	r->gid = pw.gid;
	if (r->change_user && (own_group || !known)) {
		r->groups[0] = pw.gid;
		r->ngroups = 1;
	} else if (r->change_user) {
		r->ngroups = passwd_groups("/etc/group", r->user, pw.gid, r->groups,
					   (int)(sizeof(r->groups) / sizeof(r->groups[0])));
	}
	return MUX_OK;
}

int spawn_prepare(struct spawn_req *r, const struct mux_open *o, const char *term, char *err,
		  size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = spawn_user(r, o, err, errlen)) != MUX_OK)
		return rc;
	if ((rc = spawn_set_env(r, SPAWN_PATH, strlen(SPAWN_PATH))) ||
	    (rc = spawn_env_kv(r, "HOME", r->home)))
		return rc;
	/* A detached program is an image's app: its environment is the image's
	 * (given) plus PATH and HOME, as in a container; no login variables. */
	if (!o->detach &&
	    ((rc = spawn_env_kv(r, "USER", r->user)) || (rc = spawn_env_kv(r, "LOGNAME", r->user)) ||
	     (rc = spawn_env_kv(r, "SHELL", r->shell[0] ? r->shell : "/bin/sh"))))
		return rc;
	if (term && (rc = spawn_env_kv(r, "TERM", term)))
		return rc;
	for (unsigned i = 0; i < o->nenv; i++)
		if ((rc = spawn_set_env(r, o->env[i].p, o->env[i].len)) != MUX_OK)
			return rc;
	if (o->cwd.p != NULL && o->cwd.len > 0) {
		r->cwd = spawn_dup(o->cwd.p, o->cwd.len);
	} else {
		r->cwd = spawn_dup(r->home, strlen(r->home));
		r->cwd_default = 1;
	}
	return r->cwd ? MUX_OK : MUX_E_LIMIT;
}

void spawn_free(struct spawn_req *r)
{
	for (unsigned i = 0; i < sizeof(r->argv) / sizeof(r->argv[0]); i++)
		free(r->argv[i]);
	for (unsigned i = 0; i < r->nenv; i++)
		free(r->envp[i]);
	free(r->cwd);
	memset(r, 0, sizeof(*r));
}

int spawn_child_setup(const struct spawn_req *r, const char **stage)
{
	sigset_t all;

	/* The agent blocks and ignores signals; a child must start clean. */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	*stage = "capabilities";
	int e = caps_child_restrict();
	if (e != 0)
		return e;
	if (r->change_user) {
		*stage = "setgroups";
		if (setgroups((size_t)r->ngroups, r->groups) < 0)
			return errno;
		*stage = "setgid";
		if (setgid(r->gid) < 0)
			return errno;
		*stage = "setuid";
		if (setuid(r->uid) < 0)
			return errno;
	}
	*stage = "chdir";
	if (chdir(r->cwd) < 0) {
		if (!r->cwd_default || chdir("/") < 0)
			return errno;
	}
	environ = (char **)r->envp;
	return 0;
}

struct spawn_report {
	int err;
	char stage[60];
};

void spawn_child_fail(int errfd, const char *stage, int err)
{
	struct spawn_report rep;
	ssize_t n;

	memset(&rep, 0, sizeof(rep));
	rep.err = err;
	snprintf(rep.stage, sizeof(rep.stage), "%s", stage);
	do
		n = write(errfd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

int spawn_wait_exec(int errfd, char *err, size_t errlen)
{
	struct spawn_report rep;
	ssize_t n;

	do
		n = read(errfd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep))
		return 0; /* EOF: exec closed the pipe */
	rep.stage[sizeof(rep.stage) - 1] = 0;
	snprintf(err, errlen, "%s: %s", rep.stage, strerror(rep.err));
	return rep.err ? rep.err : EIO;
}
