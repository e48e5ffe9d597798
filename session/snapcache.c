/*
 * snapcache.c - build-once image snapshots. A build boots the image inside
 * hearthd on the calling worker, so the VM ends with that thread's work;
 * it is written to .build-<key>/ and renamed into place when complete and,
 * with /validate enabled, once a test VM restored from it passed.
 *
 * Sealed memory (vmm/engine.h): every VM of an image maps its snapshot's
 * memory from one memfd copy of memory.bin that the kernel refuses to let
 * anyone write (QEMU 7.2 would hold the file itself open read-write, so one
 * escaped guest could rewrite what its siblings see). The table below keeps
 * one per snapshot directory, tied to memory.bin's inode: a snapshot deleted
 * or rebuilt drops its copy at the next lookup (or snapcache_prune). Keepers
 * get a duplicate by inheritance and hold it for their VM's life.
 */
#include "session/snapcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/catalog.h"
#include "session/egress_int.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/hooks.h"
#include "session/store.h"
#include "protocol/mux.h"
#include "vmm/agentctl.h"
#include "vmm/engine.h"
#include "vmm/ramfile.h"
#include "vmm/snapfile.h"

#define SC_MAX_BUILDING 16
#define DL_BOOT 180000
#define DL_AGENT 60000
#define DL_SNAPSHOT 60000
#define DL_STOP 10000
#define DL_APP_START 30000
#define DL_PORT_MS 60000 /* the app's first port must accept within this */
#define PORT_RETRY_US (200 * 1000)

struct snapcache {
	const struct vm_engine *eng;
	struct egress *eg; /* NULL: image VMs have no NIC */
	char dir[PATH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char building[SC_MAX_BUILDING][300];
	struct sc_mem *mems; /* sealed memory copies, under mu */
};

/* One image snapshot's sealed memory (memory.bin as of dev/ino). */
struct sc_mem {
	struct sc_mem *next;
	char dir[PATH_MAX];
	dev_t dev;
	ino_t ino;
	int fd;
};

#define seterr(out, ...) fsutil_pathf(out, STORE_REASON, __VA_ARGS__)

/* memory.bin's identity in dir; -1 when it is gone. */
static int mem_ident(const char *dir, dev_t *dev, ino_t *ino)
{
	char p[PATH_MAX];
	struct stat st;
	fsutil_pathf(p, sizeof p, "%s/%s", dir, SNAP_MEMORY);
	if (stat(p, &st) < 0)
		return -1;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/* Drop the copies whose snapshot is gone or was rebuilt. Under mu. */
static void mem_prune_locked(struct snapcache *sc)
{
	for (struct sc_mem **pp = &sc->mems; *pp;) {
		struct sc_mem *m = *pp;
		dev_t dev;
		ino_t ino;
		if (mem_ident(m->dir, &dev, &ino) == 0 && dev == m->dev && ino == m->ino) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		close(m->fd);
		free(m);
	}
}

void snapcache_prune(struct snapcache *sc)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sc->mu);
	mem_prune_locked(sc);
	pthread_mutex_unlock(&sc->mu);
}

/* A duplicate of dir's copy (dev/ino), or -1 when there is none. Under mu. */
static int mem_find_locked(struct snapcache *sc, const char *dir, dev_t dev, ino_t ino)
{
	for (struct sc_mem *m = sc->mems; m; m = m->next)
		if (!strcmp(m->dir, dir) && m->dev == dev && m->ino == ino)
			return fcntl(m->fd, F_DUPFD_CLOEXEC, 3);
	return -1;
}

/* *size: the memory size of a snapshot that maps memory.bin (format 2),
 * else 0 (format 1, the host engine; an unreadable manifest fails the
 * restore anyway). -1: out of memory. */
static int mapped_size(const char *snapdir, uint64_t *size, char *reason)
{
	char err[256];
	struct snap_manifest *man = malloc(sizeof *man);
	if (!man) {
		seterr(reason, "out of memory");
		return -1;
	}
	*size = snapfile_read(snapdir, man, err, sizeof err) == 0 &&
			man->version == SNAP_VERSION ? man->mem_size : 0;
	free(man);
	return 0;
}

/* A new sealed copy of snapdir's memory.bin (whose identity goes to *st). */
static int seal_copy(const char *snapdir, uint64_t size, struct stat *st, char *reason)
{
	char p[PATH_MAX], err[256];
	fsutil_pathf(p, sizeof p, "%s/%s", snapdir, SNAP_MEMORY);
	int src = open(p, O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, st) < 0) {
		seterr(reason, "snapshot memory %s: %s", p, strerror(errno));
		if (src >= 0)
			close(src);
		return -1;
	}
	int mfd = ramfile_seal(src, size, "hearth-image", err, sizeof err);
	close(src);
	if (mfd < 0)
		seterr(reason, "snapshot memory %s: %s", p, err);
	return mfd;
}

int snapcache_seal(const char *snapdir, char *reason)
{
	struct stat st;
	uint64_t size;
	if (mapped_size(snapdir, &size, reason) < 0)
		return -1;
	return size ? seal_copy(snapdir, size, &st, reason) : 0;
}

int snapcache_mem_fd(struct snapcache *sc, const char *snapdir, char *reason)
{
	dev_t dev;
	ino_t ino;
	uint64_t size;
	if (mapped_size(snapdir, &size, reason) < 0)
		return -1;
	if (!size || mem_ident(snapdir, &dev, &ino) < 0)
		return 0;
	pthread_mutex_lock(&sc->mu);
	mem_prune_locked(sc);
	int fd = mem_find_locked(sc, snapdir, dev, ino);
	pthread_mutex_unlock(&sc->mu);
	if (fd >= 0)
		return fd;
	/* Copied outside the lock: other images' runs need not wait for it. */
	struct stat st;
	int mfd = seal_copy(snapdir, size, &st, reason);
	if (mfd < 0)
		return -1;
	struct sc_mem *m = calloc(1, sizeof *m);
	if (!m) {
		seterr(reason, "out of memory");
		close(mfd);
		return -1;
	}
	fsutil_pathf(m->dir, sizeof m->dir, "%s", snapdir);
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->fd = mfd;
	pthread_mutex_lock(&sc->mu);
	fd = mem_find_locked(sc, snapdir, m->dev, m->ino); /* made meanwhile by another run */
	if (fd >= 0) {
		close(m->fd);
		free(m);
	} else {
		m->next = sc->mems;
		sc->mems = m;
		fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 3);
	}
	pthread_mutex_unlock(&sc->mu);
	if (fd < 0)
		seterr(reason, "image memory: %s", strerror(errno));
	return fd;
}

int snapcache_base_fd(struct snapcache *sc, const char *snapdir, char *reason)
{
	char err[256], real[PATH_MAX], mine[PATH_MAX], dir[PATH_MAX];
	struct snap_manifest *man = malloc(sizeof *man);
	if (!man) {
		seterr(reason, "out of memory");
		return -1;
	}
	int rc = 0;
	if (snapfile_read(snapdir, man, err, sizeof err) < 0 || man->version != SNAP_VERSION ||
	    !man->mem_base[0])
		goto out; /* no base: the restore reads its own files (and refuses bad ones) */
	/* Only one of this hearthd's image snapshots may back a VM's memory:
	 * <snapshots>/<key>, as snapcache_get names it (realpath on both sides:
	 * the keeper records resolved paths). */
	fsutil_pathf(dir, sizeof dir, "%s", man->mem_base);
	char *slash = strrchr(dir, '/');
	const char *key = slash ? slash + 1 : "";
	if (slash)
		*slash = '\0';
	if (!*key || *key == '.' || !realpath(dir, real) || !realpath(sc->dir, mine) ||
	    strcmp(real, mine) != 0) {
		seterr(reason, "snapshot %s: its memory base %s is not an image snapshot", snapdir,
		       man->mem_base);
		rc = -1;
		goto out;
	}
	fsutil_pathf(dir, sizeof dir, "%s/%s", sc->dir, key);
	rc = snapcache_mem_fd(sc, dir, reason);
	if (rc == 0) {
		seterr(reason, "snapshot %s: its memory base %s has no memory file", snapdir,
		       man->mem_base);
		rc = -1;
	}
out:
	free(man);
	return rc;
}

/* A snapshot directory renamed into place keeps its copy (same inode). */
static void mem_rename(struct snapcache *sc, const char *from, const char *to)
{
	pthread_mutex_lock(&sc->mu);
	for (struct sc_mem *m = sc->mems; m; m = m->next)
		if (!strcmp(m->dir, from))
			fsutil_pathf(m->dir, sizeof m->dir, "%s", to);
	pthread_mutex_unlock(&sc->mu);
}

struct snapcache *snapcache_create(const struct vm_engine *eng, const char *snaps_dir)
{
	struct snapcache *sc = calloc(1, sizeof *sc);
	if (!sc)
		return NULL;
	sc->eng = eng;
	fsutil_pathf(sc->dir, sizeof sc->dir, "%s", snaps_dir);
	pthread_mutex_init(&sc->mu, NULL);
	pthread_cond_init(&sc->cv, NULL);
	return sc;
}

void snapcache_destroy(struct snapcache *sc)
{
	if (!sc)
		return;
	while (sc->mems) {
		struct sc_mem *m = sc->mems;
		sc->mems = m->next;
		close(m->fd);
		free(m);
	}
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->cv);
	free(sc);
}

/* /ready during the image build, /validate on its test VM: 503 (or not
 * listening yet) means ask again until the hook's timeout. */
static int build_hook(int fd, const struct api_hooks *h, enum api_hook which, char *reason)
{
	const char *name = api_image_hook_name(which);
	int64_t dl = hd_now_ms() + (int64_t)h->timeout[which] * 1000;
	for (;;) {
		int status = 0;
		char err[256];
		int left = (int)(dl - hd_now_ms());
		if (left <= 0) {
			seterr(reason, "%s hook did not answer 200 within %d s", name,
			       h->timeout[which]);
			return -1;
		}
		int rc = hooks_call(fd, (uint16_t)h->port, name, NULL, 0, left, &status, err,
				    sizeof err);
		if (rc == 0 && status == 200)
			return 0;
		if (rc == 0 && status != 503) {
			seterr(reason, "%s hook answered HTTP %d", name, status);
			return -1;
		}
		usleep(200 * 1000);
	}
}

/* Up to n-1 bytes of the last non-empty line of run/console.log (the app's
 * output): what the user needs when the app did not come up. */
static void console_tail(const char *run, char *out, size_t n)
{
	char path[PATH_MAX], buf[1024];
	out[0] = '\0';
	fsutil_pathf(path, sizeof path, "%s/console.log", run);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t r = end > 0 ? pread(fd, buf, sizeof buf - 1, from) : 0;
	close(fd);
	if (r <= 0)
		return;
	size_t len = (size_t)r;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start && buf[start - 1] != '\n')
		start--;
	size_t k = 0;
	for (size_t i = start; i < len && k + 1 < n; i++)
		out[k++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	out[k] = '\0';
}

/* Start the image's app (ENTRYPOINT/CMD) detached through the agent: its own
 * session, stdout/stderr on the console, the image's env (the agent adds PATH
 * and HOME when absent), workdir and user, and the same capability set as
 * every exec. A missing program, user or workdir fails here. */
static int app_start(int fd, const struct api_image *img, long *pid, char *reason)
{
	const struct api_image_app *app = &img->app;
	struct mux_open *o = calloc(1, sizeof *o);
	char err[256], out[512];
	int code = -1;
	if (!o) {
		seterr(reason, "image snapshot: app: out of memory");
		return -1;
	}
	if (app->argc > MUX_MAX_ARGV || app->envc > MUX_MAX_ENV) {
		free(o);
		seterr(reason, "image snapshot: app: too many arguments or variables");
		return -1;
	}
	for (unsigned i = 0; i < app->argc; i++)
		o->argv[i] = mux_cstr(api_image_app_arg(app, i));
	o->nargv = app->argc;
	for (unsigned i = 0; i < app->envc; i++)
		o->env[i] = mux_cstr(api_image_app_env(app, i));
	o->nenv = app->envc;
	if (api_image_app_workdir(app)[0])
		o->cwd = mux_cstr(api_image_app_workdir(app));
	if (api_image_app_user(app)[0])
		o->user = mux_cstr(api_image_app_user(app));
	o->detach = 1;
	int rc = hooks_exec(fd, o, DL_APP_START, &code, out, sizeof out, err, sizeof err);
	free(o);
	if (rc < 0) {
		int started = strncmp(err, "could not", 9) == 0; /* "app X could not be ..." */
		seterr(reason, "image snapshot: app %s%s%s", api_image_app_arg(app, 0),
		       started ? " " : ": ", err);
		return -1;
	}
	if (code != 0) {
		size_t l = strlen(out);
		while (l && (out[l - 1] == '\n' || out[l - 1] == '\r'))
			out[--l] = '\0';
		seterr(reason, "image snapshot: app %s could not be started: %s",
		       api_image_app_arg(app, 0), out[0] ? out : "exec failed");
		return -1;
	}
	/* Its pid (PROTOCOL.md 1.3.2); 0 from an agent that does not say it. */
	char *end;
	*pid = strtol(out, &end, 10);
	if (end == out || *pid <= 0)
		*pid = 0;
	return 0;
}

/* Is the app (pid in the guest) still there? 1 yes or unknown, 0 gone. */
static int app_alive(int fd, long pid)
{
	char cmd[64], err[256];
	int code = 0;
	if (pid <= 0)
		return 1;
	snprintf(cmd, sizeof cmd, "[ -d /proc/%ld ]", pid);
	if (hooks_command(fd, cmd, DL_AGENT, &code, err, sizeof err) < 0)
		return 1;
	return code == 0;
}

/* Without a ready hook: the app is ready once its first EXPOSEd port accepts
 * a connection inside the guest. */
static int port_wait(int fd, uint16_t port, long app_pid, const char *run, char *reason)
{
	int64_t dl = hd_now_ms() + DL_PORT_MS;
	char tail[200];
	for (unsigned n = 1;; n++) {
		char err[256];
		int rc = hooks_port_open(fd, port, DL_AGENT, err, sizeof err);
		if (rc == 1)
			return 0;
		if (rc < 0) {
			seterr(reason, "image snapshot: %s", err);
			return -1;
		}
		/* An app that ended will never accept: say so at once (checked
		 * about every second, each check being one exec). */
		if (n % 5 == 0 && !app_alive(fd, app_pid)) {
			console_tail(run, tail, sizeof tail);
			seterr(reason, "image snapshot: app exited before it accepted on port %u%s%s",
			       port, tail[0] ? "; its last output: " : "", tail);
			return -1;
		}
		if (hd_now_ms() >= dl) {
			console_tail(run, tail, sizeof tail);
			seterr(reason, "image snapshot: app never accepted on port %u within %d s%s%s",
			       port, DL_PORT_MS / 1000, tail[0] ? "; its last output: " : "", tail);
			return -1;
		}
		usleep(PORT_RETRY_US);
	}
}

static int building_slot(struct snapcache *sc, const char *key)
{
	for (int i = 0; i < SC_MAX_BUILDING; i++)
		if (strcmp(sc->building[i], key) == 0)
			return i;
	return -1;
}

static void net_down(struct snapcache *sc, const char *id, int tap)
{
	if (tap >= 0)
		close(tap);
	if (sc->eg)
		egress_vm_down(sc->eg, id);
}

/* A NIC in a NO_EGRESS namespace (when hearthd has egress): image VMs
 * reach nothing, but their snapshots carry a configured NIC. */
static int net_up(struct snapcache *sc, const char *id, int *tap, char *reason)
{
	*tap = -1;
	if (!sc->eg)
		return 0;
	struct egress_policy *pol = calloc(1, sizeof *pol);
	char why[256] = "out of memory";
	if (pol)
		pol->kind = EGRESS_NONE;
	int bad = !pol || egress_vm_up(sc->eg, id, pol, tap, why, sizeof why) < 0;
	free(pol);
	if (bad) {
		seterr(reason, "image snapshot: network: %s", why);
		return -1;
	}
	return 0;
}

void snapcache_set_egress(struct snapcache *sc, struct egress *eg)
{
	sc->eg = eg;
}

static int build(struct snapcache *sc, const struct catalog_entry *ce, const char *final,
		 char *reason)
{
	const struct vm_engine *eng = sc->eng;
	char tmp[PATH_MAX], run[PATH_MAX], snap[PATH_MAX];
	struct vm_err verr = { { 0 } };
	char err[AGENTCTL_ERR];
	struct vm *vm = NULL;
	fsutil_pathf(tmp, sizeof tmp, "%s/.build-%s@%s", sc->dir, ce->img.name, ce->img.version);
	fsutil_pathf(run, sizeof run, "%s/run", tmp);
	fsutil_pathf(snap, sizeof snap, "%s/snap", tmp);
	fsutil_rm_rf(tmp);
	if (fsutil_mkdir_p(tmp, 0700) < 0) {
		seterr(reason, "image snapshot: %s: %s", tmp, strerror(errno));
		return -1;
	}
	char id[160];
	fsutil_pathf(id, sizeof id, "img-%s", ce->img.name);
	/* The snapshot carries a configured NIC, so every clone has one at
	 * once; the image VM itself reaches nothing (NO_EGRESS). */
	int tap = -1;
	if (net_up(sc, id, &tap, reason) < 0) {
		fsutil_rm_rf(tmp);
		return -1;
	}
	struct vm_config cfg = {
		.id = id,
		.run_dir = run,
		.kernel = ce->img.kernel,
		.initrd = ce->img.initrd[0] ? ce->img.initrd : NULL,
		.disk = ce->img.disk[0] ? ce->img.disk : NULL,
		.cmdline = ce->img.cmdline,
		.mem_mib = ce->img.mem_mib,
		.vcpus = 1,
		.accel = VM_ACCEL_AUTO,
		.net = tap >= 0 ? VM_NET_TAP : VM_NET_NONE,
		.tap_fd = tap,
	};
	if (eng->boot(&cfg, DL_BOOT, &vm, &verr) < 0) {
		seterr(reason, "image snapshot: boot failed: %s", verr.msg);
		goto fail;
	}
	struct agentctl_peer peer;
	if (agentctl_hello(eng->agent_fd(vm), DL_AGENT, &peer, NULL, err, sizeof err) < 0) {
		seterr(reason, "image snapshot: agent did not answer: %s", err);
		goto fail;
	}
	if (ce->img.command[0]) {
		int code = -1;
		if (hooks_command(eng->agent_fd(vm), ce->img.command, DL_AGENT, &code, err,
				  sizeof err) < 0) {
			seterr(reason, "image snapshot: %s", err);
			goto fail;
		}
		if (code != 0) {
			seterr(reason, "image snapshot: start command exited with %d", code);
			goto fail;
		}
	}
	long app_pid = 0;
	if (ce->img.app.argc && app_start(eng->agent_fd(vm), &ce->img, &app_pid, reason) < 0)
		goto fail;
	if (ce->img.hooks.enabled[API_HOOK_READY]) {
		if (build_hook(eng->agent_fd(vm), &ce->img.hooks, API_HOOK_READY, reason) < 0)
			goto fail;
	} else if (ce->img.nports > 0 &&
		   port_wait(eng->agent_fd(vm), ce->img.ports[0], app_pid, run, reason) < 0) {
		goto fail;
	}
	if (eng->snapshot(vm, snap, DL_SNAPSHOT, &verr) < 0) {
		seterr(reason, "image snapshot failed: %s", verr.msg);
		goto fail;
	}
	eng->stop(vm, DL_STOP, &verr);
	vm = NULL;
	/* A snapshot whose test VM fails /validate never becomes current. */
	if (snapcache_validate(sc, ce, snap, reason) < 0)
		goto fail;
	if (fsutil_sync_dir(snap) < 0 || fsutil_rename_durable(snap, final) < 0) {
		seterr(reason, "image snapshot: %s: %s", final, strerror(errno));
		goto fail;
	}
	mem_rename(sc, snap, final);
	fsutil_rm_rf(tmp);
	net_down(sc, id, tap);
	return 0;
fail:
	if (vm)
		eng->stop(vm, DL_STOP, &verr);
	net_down(sc, id, tap);
	fsutil_rm_rf(tmp);
	return -1;
}

int snapcache_get(struct snapcache *sc, const struct catalog_entry *ce, char *out, size_t n,
		  char *reason)
{
	char key[300];
	/* With or without a NIC: a restore needs the same backend. */
	fsutil_pathf(key, sizeof key, "%s@%s%s", ce->img.name, ce->img.version,
		     sc->eg ? "+tap" : "");
	fsutil_pathf(out, n, "%s/%s", sc->dir, key);
	pthread_mutex_lock(&sc->mu);
	while (building_slot(sc, key) >= 0)
		pthread_cond_wait(&sc->cv, &sc->mu);
	/* Complete snapshots only ever appear by rename: the qemu engine's has a
	 * manifest, the host engine's only its mark. */
	if (fsutil_exists(out, "manifest.json") || fsutil_exists(out, "host.json")) {
		pthread_mutex_unlock(&sc->mu);
		return 0;
	}
	int slot = building_slot(sc, "");
	if (slot < 0) {
		pthread_mutex_unlock(&sc->mu);
		seterr(reason, "too many image snapshots being built");
		return -1;
	}
	fsutil_pathf(sc->building[slot], sizeof sc->building[slot], "%s", key);
	pthread_mutex_unlock(&sc->mu);
	int rc = build(sc, ce, out, reason);
	pthread_mutex_lock(&sc->mu);
	sc->building[slot][0] = '\0';
	pthread_cond_broadcast(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
	return rc;
}

int snapcache_validate(struct snapcache *sc, const struct catalog_entry *ce, const char *snapdir,
		       char *reason)
{
	if (!ce->img.hooks.enabled[API_HOOK_VALIDATE])
		return 0;
	const struct vm_engine *eng = sc->eng;
	char tmp[PATH_MAX], run[PATH_MAX], id[EGRESS_ID_MAX];
	char err[AGENTCTL_ERR];
	struct vm_err verr = { { 0 } };
	struct vm *vm = NULL;
	int rc = -1, tap = -1, mem = 0;
	fsutil_pathf(tmp, sizeof tmp, "%s/.validate-%s@%s", sc->dir, ce->img.name,
		     ce->img.version);
	fsutil_pathf(run, sizeof run, "%s/run", tmp);
	fsutil_pathf(id, sizeof id, "val-%s", ce->img.name);
	fsutil_rm_rf(tmp);
	if (fsutil_mkdir_p(tmp, 0700) < 0) {
		seterr(reason, "validate: %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (net_up(sc, id, &tap, reason) < 0)
		goto out;
	/* Sealed like every run's: the test VM cannot change the snapshot. */
	if ((mem = snapcache_mem_fd(sc, snapdir, reason)) < 0)
		goto out;
	struct vm_config cfg = {
		.id = id,
		.run_dir = run,
		.accel = VM_ACCEL_AUTO,
		.net = tap >= 0 ? VM_NET_TAP : VM_NET_NONE,
		.tap_fd = tap,
		.mem_fd = mem,
	};
	if (eng->restore(&cfg, snapdir, DL_BOOT, &vm, &verr) < 0) {
		seterr(reason, "validate: test VM restore failed: %s", verr.msg);
		vm = NULL;
		goto out;
	}
	/* As every run's keeper does: a unique clone before anyone talks to it. */
	int afd = eng->agent_fd(vm);
	if ((eng->flags & VM_ENGINE_HOST_PROCESS)
		    ? agentctl_hello(afd, DL_AGENT, NULL, NULL, err, sizeof err) < 0
		    : agentctl_refresh(afd, NULL, DL_AGENT, NULL, NULL, err, sizeof err) < 0) {
		seterr(reason, "validate: test VM agent did not answer: %s", err);
		goto out;
	}
	rc = build_hook(afd, &ce->img.hooks, API_HOOK_VALIDATE, reason);
out:
	if (vm)
		eng->stop(vm, DL_STOP, &verr);
	if (mem > 0)
		close(mem);
	net_down(sc, id, tap);
	fsutil_rm_rf(tmp);
	return rc;
}
