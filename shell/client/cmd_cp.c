/*
 * cmd_cp.c - `hearth cp [-r] LOCAL ID:PATH` and `hearth cp [-r] ID:PATH
 * LOCAL`: files and directory trees in and out of a microVM, mode, owner
 * (when the receiving side is root) and mtime kept. The bytes are a tar
 * stream (shell/agent/tarfs.c on both ends) carried by a hearth.v1 exec of
 * the agent's FILES builtin (PROTOCOL.md 1.3.1 and 2.3), so they get the
 * exec's flow control, its auto-resume of a suspended VM, and its exit
 * status: a path the VM cannot write fails with the agent's message.
 *
 * A child process makes (or unpacks) the tar stream locally through a pipe
 * that becomes the exec's stdin (or stdout); the exec itself is cmd_exec's.
 */
#include "shell/client/client.h"
#include "shell/agent/tarfs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CP_EXIT_FAIL 1
#define CP_MAX_ARGS 32

static int cp_usage(const char *msg)
{
	fprintf(stderr, "hearth cp: %s\n"
			"usage: hearth cp [-r] [--api URL] [--cacert FILE] [--connect-to HOST:PORT] "
			"(LOCAL ID:PATH | ID:PATH LOCAL)\n",
		msg);
	return 2;
}

/* "ID:PATH" as scp reads it: a non-empty ID without '/' before the first ':'. */
static int cp_remote(const char *arg, char *id, size_t idcap, const char **path)
{
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || memchr(arg, '/', (size_t)(colon - arg)) ||
	    (size_t)(colon - arg) >= idcap)
		return 0;
	memcpy(id, arg, (size_t)(colon - arg));
	id[colon - arg] = '\0';
	*path = colon + 1;
	return 1;
}

/* The child's end: make or unpack the local tar stream on fd. Never returns. */
static void cp_child(int put, int fd, const char *local, int recursive)
{
	char err[1024];
	int rc = put ? tarfs_write(fd, local, recursive, err, sizeof err)
		     : tarfs_extract(fd, local, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "hearth cp: %s\n", err);
	_exit(rc == 0 ? 0 : CP_EXIT_FAIL);
}

/* Run the exec with fd as our stdin (put) or stdout (get), then restore ours. */
static int cp_exec(int put, int fd, int argc, char **argv)
{
	int target = put ? STDIN_FILENO : STDOUT_FILENO;
	int saved = dup(target);
	if (saved < 0 || dup2(fd, target) < 0) {
		fprintf(stderr, "hearth cp: dup: %s\n", strerror(errno));
		return CP_EXIT_FAIL;
	}
	close(fd);
	fflush(stdout);
	int rc = cmd_exec(argc, argv);
	fflush(stdout);
	dup2(saved, target); /* the child now sees EOF (get) or a closed reader (put) */
	close(saved);
	return rc;
}

int cmd_cp(int argc, char **argv)
{
	char *eargv[CP_MAX_ARGS];
	int eargc = 0, recursive = 0, i;
	const char *src = NULL, *dst = NULL;
	static char id[256];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-r") || !strcmp(a, "-R") || !strcmp(a, "--recursive")) {
			recursive = 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: hearth cp [-r] [--api URL] [--cacert FILE] "
			       "[--connect-to HOST:PORT] (LOCAL ID:PATH | ID:PATH LOCAL)\n");
			return 0;
		} else if (!strcmp(a, "--api") || !strcmp(a, "--cacert") ||
			   !strcmp(a, "--connect-to") || !strcmp(a, "--timeout")) {
			if (i + 1 >= argc)
				return cp_usage("an option wants a value");
			if (eargc + 2 >= CP_MAX_ARGS - 8)
				return cp_usage("too many options");
			/* --timeout is the exec's (seconds, the whole copy) */
			eargv[2 + eargc++] = argv[i];
			eargv[2 + eargc++] = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			return cp_usage("unknown option");
		} else if (!src) {
			src = a;
		} else if (!dst) {
			dst = a;
		} else {
			return cp_usage("want exactly two paths");
		}
	}
	if (!src || !dst)
		return cp_usage("want a source and a destination");
	const char *rpath = NULL, *local;
	int src_remote = cp_remote(src, id, sizeof id, &rpath);
	char id2[256];
	const char *rpath2 = NULL;
	int dst_remote = cp_remote(dst, id2, sizeof id2, &rpath2);
	if (src_remote == dst_remote)
		return cp_usage("exactly one of the two paths must be ID:PATH");
	int put = dst_remote;
	if (put) {
		memcpy(id, id2, sizeof id);
		rpath = rpath2;
		local = src;
	} else {
		local = dst;
	}
	if (!rpath[0])
		return cp_usage("the path in the microVM is empty");
	if (put) { /* refuse locally what cannot be sent, before dialing */
		struct stat st;
		if (lstat(local, &st) < 0) {
			fprintf(stderr, "hearth cp: %s: %s\n", local, strerror(errno));
			return CP_EXIT_FAIL;
		}
		if (S_ISDIR(st.st_mode) && !recursive) {
			fprintf(stderr, "hearth cp: %s is a directory (use -r)\n", local);
			return CP_EXIT_FAIL;
		}
	}
	/* exec ID [options] --put|--get PATH [--recursive] */
	eargv[0] = "exec";
	eargv[1] = id;
	int n = 2 + eargc;
	eargv[n++] = put ? "--put" : "--get";
	eargv[n++] = (char *)rpath;
	if (recursive && !put)
		eargv[n++] = "--recursive";
	eargv[n] = NULL;

	int p[2];
	if (pipe(p) < 0) {
		fprintf(stderr, "hearth cp: pipe: %s\n", strerror(errno));
		return CP_EXIT_FAIL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "hearth cp: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return CP_EXIT_FAIL;
	}
	if (pid == 0) {
		close(put ? p[0] : p[1]);
		cp_child(put, put ? p[1] : p[0], local, recursive);
	}
	close(put ? p[1] : p[0]);
	int rc = cp_exec(put, put ? p[0] : p[1], n, eargv);
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (rc != 0)
		return rc; /* the VM's side failed: its message is on stderr */
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return CP_EXIT_FAIL; /* the local side printed why */
	return 0;
}
