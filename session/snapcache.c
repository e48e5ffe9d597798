/*
 * snapcache.c - build-once image snapshots. A build boots the image inside
 * hearthd on the calling worker, so the VM ends with that thread's work;
 * it is written to .build-<key>/ and renamed into place when complete.
 */
#include "session/snapcache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session/catalog.h"
#include "session/egress_int.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/hooks.h"
#include "session/store.h"
#include "vmm/agentctl.h"
#include "vmm/engine.h"

#define SC_MAX_BUILDING 16
#define DL_BOOT 180000
#define DL_AGENT 60000
#define DL_SNAPSHOT 60000
#define DL_STOP 10000

struct snapcache {
	const struct vm_engine *eng;
	struct egress *eg; /* NULL: image VMs have no NIC */
	char dir[PATH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char building[SC_MAX_BUILDING][300];
};

#define seterr(out, ...) fsutil_pathf(out, STORE_REASON, __VA_ARGS__)

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
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->cv);
	free(sc);
}

/* /ready during the image build: 503 (or not listening yet) means ask again
 * until the timeout. */
static int ready_hook(int fd, const struct api_hooks *h, char *reason)
{
	int64_t dl = hd_now_ms() + (int64_t)h->timeout[API_HOOK_READY] * 1000;
	for (;;) {
		int status = 0;
		char err[256];
		int left = (int)(dl - hd_now_ms());
		if (left <= 0) {
			seterr(reason, "ready hook did not answer 200 within %d s",
			       h->timeout[API_HOOK_READY]);
			return -1;
		}
		int rc = hooks_call(fd, (uint16_t)h->port, "ready", NULL, 0, left, &status, err,
				    sizeof err);
		if (rc == 0 && status == 200)
			return 0;
		if (rc == 0 && status != 503) {
			seterr(reason, "ready hook answered HTTP %d", status);
			return -1;
		}
		usleep(200 * 1000);
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
	if (sc->eg) {
		struct egress_policy *pol = calloc(1, sizeof *pol);
		char why[256] = "out of memory";
		if (pol)
			pol->kind = EGRESS_NONE;
		int bad = !pol || egress_vm_up(sc->eg, id, pol, &tap, why, sizeof why) < 0;
		free(pol);
		if (bad) {
			seterr(reason, "image snapshot: network: %s", why);
			fsutil_rm_rf(tmp);
			return -1;
		}
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
	if (ce->img.hooks.enabled[API_HOOK_READY] &&
	    ready_hook(eng->agent_fd(vm), &ce->img.hooks, reason) < 0)
		goto fail;
	if (eng->snapshot(vm, snap, DL_SNAPSHOT, &verr) < 0) {
		seterr(reason, "image snapshot failed: %s", verr.msg);
		goto fail;
	}
	eng->stop(vm, DL_STOP, &verr);
	vm = NULL;
	if (fsutil_sync_dir(snap) < 0 || fsutil_rename_durable(snap, final) < 0) {
		seterr(reason, "image snapshot: %s: %s", final, strerror(errno));
		goto fail;
	}
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
