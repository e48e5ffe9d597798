/*
 * buildimage.c - the end of an image build: the image file (a disk base's
 * builder disk flattened, a busybox base's root exported from the guest),
 * kept beside its step cache entry, image.json, then the version's snapshot
 * and its validation (see builder.h).
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/mux.h"
#include "session/buildlog.h"
#include "session/buildrun.h"
#include "session/buildvm.h"
#include "session/fsutil.h"
#include "session/hearthd.h"
#include "session/lifecycle.h"
#include "session/snapcache.h"
#include "vmm/clock.h"

#define ROOT_CPIO_MAX (4ull << 30)
#define EXPORT_TIMEOUT_MS (30 * 60 * 1000)

extern char **environ;

static int spawn_wait(struct brun *r, char *const argv[], const char *out_path, const char *what)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;
	char errp[PATH_MAX];
	fsutil_pathf(errp, sizeof errp, "%s/spawn.err", r->work);
	posix_spawn_file_actions_init(&fa);
	if (out_path)
		posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "%s: %s", what, strerror(rc));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	/* Its first words on stderr say why ("No space left on device", ...). */
	char msg[300] = "";
	int fd = open(errp, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, msg, sizeof msg - 1) : -1;
	if (fd >= 0)
		close(fd);
	msg[n > 0 ? n : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	return brun_fail(r, strstr(msg, "No space left") ? BR_DISK_STORAGE_FULL : BR_INTERNAL_PLATFORM_ERROR,
		     "%s failed (status %d): %s", what, st, msg);
}

/* The guest's root (initramfs: in memory) as a gzip'd cpio newc: cpio runs
 * in the guest over find -xdev, so /proc, /sys, /dev, /run and /tmp (the
 * agent's mounts) stay out but their mount points stay in. */
static int export_initrd(struct brun *r, struct buildvm *bv, const char *out)
{
	char cpio[PATH_MAX], err[256];
	int code = 0, cancel = 0;
	fsutil_pathf(cpio, sizeof cpio, "%s/root.cpio", r->work);
	int fd = open(cpio, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return brun_errno_fail(r, cpio);
	struct mux_open o;
	memset(&o, 0, sizeof o);
	o.kind = MUX_KIND_EXEC;
	o.argv[0] = mux_cstr("/bin/sh");
	o.argv[1] = mux_cstr("-c");
	o.argv[2] = mux_cstr("cd / && find . -xdev | cpio -o -H newc 2>/dev/null");
	o.nargv = 3;
	o.env[0] = mux_cstr("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	o.nenv = 1;
	struct buildvm_io io = { .in_fd = -1, .out_fd = fd, .out_max = ROOT_CPIO_MAX,
				 .timeout_ms = EXPORT_TIMEOUT_MS };
	errno = 0;
	int rc = buildvm_run(bv, &o, &io, &code, &cancel, err, sizeof err);
	int werr = errno;
	close(fd);
	if (rc < 0) {
		if (cancel)
			return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "cancelled");
		errno = werr;
		return werr == ENOSPC ? brun_errno_fail(r, "image root")
				      : brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "image root: %s", err);
	}
	if (code != 0)
		return brun_fail(r, BR_CONTAINER_BUILD_FAILED, "image root: cpio exited with %d", code);
	char *argv[] = { "gzip", "-6", "-n", "-c", cpio, NULL };
	return spawn_wait(r, argv, out, "gzip");
}

static int export_disk(struct brun *r, size_t s, const char *out)
{
	char snapdisk[PATH_MAX];
	buildcache_dir(r->hd->cfg.state_dir, r->final[s], snapdisk, sizeof snapdisk);
	size_t l = strlen(snapdisk);
	fsutil_pathf(snapdisk + l, sizeof snapdisk - l, "/disk.qcow2");
	if (access(snapdisk, R_OK) < 0)
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "the builder's disk %s: %s", snapdisk,
			     strerror(errno));
	const char *qimg = getenv("HEARTH_QEMU_IMG");
	char *argv[] = { (char *)(qimg && *qimg ? qimg : "qemu-img"), "convert", "-q", "-O", "raw",
			 snapdisk, (char *)out, NULL };
	return spawn_wait(r, argv, NULL, "qemu-img convert");
}

/* The base's command line without the capability word catalog_load adds. */
static void base_cmdline(const char *in, char *out, size_t n)
{
	fsutil_pathf(out, n, "%s", in);
	char *p = strstr(out, "HEARTH_CAPS=");
	if (p) {
		*p = '\0';
		while (p > out && p[-1] == ' ')
			*--p = '\0';
	}
}

static struct json_object *str_array(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *hooks_json(const struct api_hooks *h)
{
	struct json_object *o = json_object_new_object();
	struct json_object *img = json_object_new_object(), *vm = json_object_new_object();
	json_object_object_add(o, "port", json_object_new_int(h->port));
	for (int k = 0; k < API_HOOK_COUNT; k++) {
		char key[64];
		struct json_object *blk = k == API_HOOK_READY || k == API_HOOK_VALIDATE ? img : vm;
		const char *name = api_image_hook_name((enum api_hook)k);
		json_object_object_add(blk, name,
				       json_object_new_string(h->enabled[k] ? "ENABLED" : "DISABLED"));
		fsutil_pathf(key, sizeof key, "%sTimeoutInSeconds", name);
		if (h->timeout[k] > 0)
			json_object_object_add(blk, key, json_object_new_int(h->timeout[k]));
	}
	json_object_object_add(o, "microvmImageHooks", img);
	json_object_object_add(o, "microvmHooks", vm);
	return o;
}

/* ENV of the image, then environmentVariables (a later value of a name wins). */
static struct json_object *app_env(struct brun *r)
{
	struct json_object *a = json_object_new_array();
	struct json_object *extra = r->j->spec.env_json[0] ? json_tokener_parse(r->j->spec.env_json)
							   : NULL;
	for (size_t i = 0; i < r->plan.cfg.nenv; i++) {
		const char *kv = r->plan.cfg.env[i];
		size_t kl = strcspn(kv, "=");
		int over = 0;
		if (extra && json_object_is_type(extra, json_type_object)) {
			json_object_object_foreach(extra, k, v)
			{
				(void)v;
				over |= strlen(k) == kl && !strncmp(k, kv, kl);
			}
		}
		if (!over)
			json_object_array_add(a, json_object_new_string(kv));
	}
	if (extra && json_object_is_type(extra, json_type_object)) {
		json_object_object_foreach(extra, k, v)
		{
			char kv[8192];
			fsutil_pathf(kv, sizeof kv, "%s=%s", k, json_object_get_string(v));
			json_object_array_add(a, json_object_new_string(kv));
		}
	}
	json_object_put(extra);
	return a;
}

static int write_image_json(struct brun *r, const struct api_image *base, const char *initrd,
			    const char *disk, unsigned mem)
{
	char path[PATH_MAX], cmdline[4096];
	struct json_object *o = json_object_new_object();
	const struct df_config *cfg = &r->plan.cfg;
	base_cmdline(base->cmdline, cmdline, sizeof cmdline);
	json_object_object_add(o, "name", json_object_new_string(r->j->spec.image));
	json_object_object_add(o, "version", json_object_new_string(r->j->spec.version));
	json_object_object_add(o, "kernel", json_object_new_string(base->kernel));
	json_object_object_add(o, "initrd", initrd && initrd[0] ? json_object_new_string(initrd) : NULL);
	json_object_object_add(o, "disk", disk && disk[0] ? json_object_new_string(disk) : NULL);
	json_object_object_add(o, "cmdline", json_object_new_string(cmdline));
	json_object_object_add(o, "memoryMiB", json_object_new_int((int)mem));
	if (cfg->argc) {
		struct json_object *app = json_object_new_object();
		json_object_object_add(app, "argv", str_array(cfg->argv, cfg->argc));
		json_object_object_add(app, "env", app_env(r));
		json_object_object_add(app, "workdir",
				       json_object_new_string(cfg->workdir ? cfg->workdir : "/"));
		json_object_object_add(app, "user", json_object_new_string(cfg->user ? cfg->user : ""));
		json_object_object_add(o, "app", app);
	}
	struct json_object *ports = json_object_new_array();
	for (size_t i = 0; i < cfg->nports; i++)
		json_object_array_add(ports, json_object_new_int(cfg->ports[i]));
	json_object_object_add(o, "ports", ports);
	if (r->j->spec.hooks.port)
		json_object_object_add(o, "hooks", hooks_json(&r->j->spec.hooks));
	struct json_object *caps = json_object_new_array();
	if (r->j->spec.os_caps_all)
		json_object_array_add(caps, json_object_new_string("ALL"));
	json_object_object_add(o, "additionalOsCapabilities", caps);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	fsutil_pathf(path, sizeof path, "%s/image.json", r->vtmp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
		 fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	return ok ? 0 : brun_errno_fail(r, path);
}

static int64_t file_bytes(const char *dir, const char *name, int allocated)
{
	char p[PATH_MAX];
	struct stat st;
	fsutil_pathf(p, sizeof p, "%s/%s", dir, name);
	if (stat(p, &st) < 0)
		return 0;
	return allocated ? (int64_t)st.st_blocks * 512 : (int64_t)st.st_size;
}

/* The image file of a stage's end kept beside its cache entry (a hard link
 * shared with every version built from it: never written after). */
static void cached_file(struct brun *r, size_t s, const char *name, char *out, size_t n)
{
	char d[PATH_MAX];
	buildcache_dir(r->hd->cfg.state_dir, r->final[s], d, sizeof d);
	fsutil_pathf(out, n, "%s/image-%s", d, name);
}

int buildimage_final_cached(struct brun *r, size_t s)
{
	char p[PATH_MAX];
	cached_file(r, s, r->base[s].img.disk[0] ? "disk.img" : "initrd.cpio.gz", p, sizeof p);
	return access(p, R_OK) == 0;
}

/* The image file name in vtmp: from the cache, else exported (and cached). */
static int image_file(struct brun *r, size_t s, const char *name)
{
	char out[PATH_MAX], cf[PATH_MAX];
	fsutil_pathf(out, sizeof out, "%s/%s", r->vtmp, name);
	cached_file(r, s, name, cf, sizeof cf);
	if (link(cf, out) == 0) {
		buildlog_line(r->log, "CACHED %s", name);
		return 0;
	}
	int rc = r->base[s].img.disk[0] ? export_disk(r, s, out) : export_initrd(r, r->vms[s], out);
	if (rc == 0 && link(out, cf) < 0 && errno != EEXIST)
		buildlog_line(r->log, "cache: %s not kept: %s", name, strerror(errno));
	return rc;
}

int buildimage_finalize(struct brun *r)
{
	size_t s = r->plan.nstages - 1;
	const struct api_image *base = &r->base[s].img;
	unsigned mem = r->j->spec.mem_mib ? r->j->spec.mem_mib : base->mem_mib;
	int64_t t = clock_ms();
	buildlog_line(r->log, "finalizing the image");
	fsutil_rm_rf(r->vtmp);
	char parent[PATH_MAX];
	fsutil_pathf(parent, sizeof parent, "%s/images/%s", r->hd->cfg.state_dir, r->j->spec.image);
	if (fsutil_mkdir_p(parent, 0755) < 0 || mkdir(r->vtmp, 0755) < 0)
		return brun_errno_fail(r, r->vtmp);
	const char *initrd = base->initrd, *disk = NULL;
	if (base->disk[0]) {
		/* The disk is read from the cache entry, which the builder's QEMU
		 * holds locked as its overlay's backing: end the VMs first. */
		for (size_t k = 0; k < r->plan.nstages; k++) {
			buildvm_stop(r->vms[k]);
			r->vms[k] = NULL;
		}
		disk = "disk.img";
	} else {
		initrd = "initrd.cpio.gz";
	}
	if (image_file(r, s, disk ? disk : initrd) < 0)
		return -1;
	if (write_image_json(r, base, initrd, disk, mem) < 0)
		return -1;
	if (brun_cancelled(r))
		return -1;
	/* The VMs are no longer needed: free their memory for the snapshot. */
	for (size_t k = 0; k < r->plan.nstages; k++) {
		buildvm_stop(r->vms[k]);
		r->vms[k] = NULL;
	}
	fsutil_rm_rf(r->vdir);
	if (fsutil_sync_dir(r->vtmp) < 0 || fsutil_rename_durable(r->vtmp, r->vdir) < 0)
		return brun_errno_fail(r, r->vdir);
	buildlog_line(r->log, "image files written (%.1f s)", (double)(clock_ms() - t) / 1000);
	struct catalog_entry *ce = calloc(1, sizeof *ce);
	struct api_err e;
	if (!ce)
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "out of memory");
	if (catalog_load_vm(r->hd, r->j->spec.image, 0, r->j->spec.version, ce, &e) <= 0) {
		free(ce);
		return brun_fail(r, BR_INTERNAL_PLATFORM_ERROR, "the new image.json: %s", e.msg);
	}
	char snapdir[PATH_MAX], reason[STORE_REASON];
	struct snapcache *sc = lifecycle_snapcache(r->hd->lc);
	t = clock_ms();
	buildlog_line(r->log, "starting the app and snapshotting it");
	if (snapcache_get(sc, ce, snapdir, sizeof snapdir, reason) < 0) {
		free(ce);
		return brun_fail(r, BR_CONTAINER_BUILD_FAILED, "%s", reason);
	}
	buildlog_line(r->log, "image snapshot built (%.1f s)", (double)(clock_ms() - t) / 1000);
	if (ce->img.hooks.enabled[API_HOOK_VALIDATE]) {
		t = clock_ms();
		if (snapcache_validate(sc, ce, snapdir, reason) < 0) {
			free(ce);
			fsutil_rm_rf(snapdir);
			return brun_fail(r, BR_CONTAINER_BUILD_FAILED, "%s", reason);
		}
		buildlog_line(r->log, "validated (%.1f s)", (double)(clock_ms() - t) / 1000);
	}
	free(ce);
	r->j->res.memory_snapshot_bytes = file_bytes(snapdir, "memory.bin", 0);
	r->j->res.disk_snapshot_bytes = file_bytes(r->vdir, disk ? "disk.img" : "initrd.cpio.gz", 1) +
					file_bytes(snapdir, "disk.qcow2", 1);
	r->j->res.code_install_bytes = (int64_t)r->code_bytes;
	return 0;
}
