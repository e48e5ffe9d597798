/*
 * qemu.c - the QEMU engine: qemu-system-x86_64 -M microvm driven over QMP.
 *
 * QMP and the agent console are socketpairs handed to QEMU as fds (no connect
 * polling); the direct stream is a listening socket in run_dir that QEMU
 * serves (hearthd connects to it). Disks are qcow2 overlays in run_dir over the
 * image's base; a snapshot freezes the current overlay into the snapshot dir
 * and the VM (if it goes on) continues on a new overlay over it. Memory and
 * device state go to SNAP/memory.bin through QEMU's fd migration; restore
 * starts a new QEMU with -incoming fd:N on that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/conlog.h"
#include "vmm/engine.h"
#include "vmm/proc.h"
#include "vmm/qmpc.h"
#include "vmm/ramfile.h"
#include "vmm/snapfile.h"

#define QEMU_LOG "qemu.log"
#define QEMU_CONSOLE VM_CONSOLE_LOG
#define QEMU_IMG_LOG "qemu-img.log"
#define QEMU_RAM "ram.bin" /* in run_dir: the empty base a booted VM's RAM maps */
#define QEMU_FDSET_STATE 1000000 /* fd set ids for state files (disk overlays: gen + 1) */
#define QEMU_MAX_ARGS 88
/* Disk chains longer than this (qcow2 files, the current overlay included)
 * are streamed down to one overlay over the base while the VM runs. */
#define QEMU_CHAIN_MAX 3
#define QEMU_STREAM_JOB "hearth-stream"
#define QEMU_MAX_FDS 7      /* QMP, agent, console, incoming, direct, tap, memory */
#define QEMU_FDSET_STALE 16 /* fd sets remembered for closing at the next resume */
/* A suspend of a VM mapping an image's sealed memory writes a delta against
 * it up to this many bytes of written pages (restore writes them into the
 * new QEMU before it runs, so this bounds what a resume adds); beyond, a
 * whole memory file, which later resumes map without reading. */
#define QEMU_IMAGE_DELTA_MAX (16ull << 20)
/* Per-VM uids when hearthd is root: base + the starting thread's id (unique
 * among live tasks), so no two QEMUs share a uid (hearthd.8, VM PROCESSES). */
#define QEMU_UID_BASE 0x70000000u
#define QEMU_QUIT_MS 1000 /* part of a stop's deadline given to a clean quit */

struct vm {
	struct proc proc;
	struct qmpc qmp;
	int agent_fd;
	int tap_fd;          /* VM_NET_TAP: the caller's tap (not ours to close) */
	int made_dir;
	int paused;
	int inactive;        /* a completed migration handed the disks over; cont takes them back */
	unsigned disk_gen;   /* current overlay: run_dir/disk-<gen>.qcow2, node disk<gen> */
	unsigned first_gen;  /* overlays first_gen..disk_gen may exist in run_dir */
	char run_dir[PATH_MAX];
	char id[64];
	struct conlog *con;  /* the guest's serial console, rotated into run_dir */
	struct snap_manifest info; /* what a snapshot of this VM must record */
	/* Guest RAM (snapshot format 2): a private mapping of ram_path, held open
	 * as ram_fd so a base renamed or deleted meanwhile stays readable. ""
	 * for a VM restored from a format 1 snapshot (or HEARTH_SNAP_EAGER=1):
	 * anonymous RAM, snapshots in format 1. */
	char ram_path[PATH_MAX];
	int ram_fd;
	int ram_made;        /* ram_path is run_dir's empty base (removed with the vm) */
	int ram_sealed;      /* ram_fd is a sealed memfd (cfg->mem_fd), QEMU maps it, not ram_path */
	int ram_consumable;  /* the base is a suspend snapshot's: the next suspend links it */
	/* The image snapshot directory whose memory ram_fd (sealed) holds, or
	 * "": a suspend may write a delta against it (snapfile.h mem_base), and
	 * that snapshot's device state identity (base_state_size/hash). */
	char ram_base[PATH_MAX];
	uint64_t ram_base_state_size, ram_base_state_hash;
	int loading;         /* the incoming stream is a format 2 device state */
	int incoming_qfd;    /* its fd number inside QEMU (migrate-incoming fd:N) */
	unsigned fdset_next; /* fdset_cmd's next set id (offset) */
	/* Sets removed while paused: QEMU 7.2 closes a removed set's fd only
	 * when the VM runs (and then only on the next fdset command), so a
	 * failed snapshot left the file open; resume removes them again. */
	unsigned fdset_stale[QEMU_FDSET_STALE];
	unsigned nstale;
	int streaming;       /* a block-stream job may be flattening the disk chain */
};

/* ---- small helpers ---- */

/* snprintf for paths; directories are checked to leave room (see vm_new). */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static void seterr(struct vm_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seterr(struct vm_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void vm_path(const struct vm *vm, char *out, size_t n, const char *name)
{
	pathf(out, n, "%s/%s", vm->run_dir, name);
}

static void disk_path(const struct vm *vm, unsigned gen, char *out, size_t n)
{
	pathf(out, n, "%s/disk-%u.qcow2", vm->run_dir, gen);
}

/*
 * Turn a failed step into the error to report: when QEMU has died, say how
 * and quote its last stderr lines; otherwise the step's own reason.
 */
static void vm_fail(struct vm *vm, struct vm_err *err, const char *what, const char *reason)
{
	char how[64], tail[768], log[PATH_MAX];
	if (proc_wait(&vm->proc, 100) == 1) {
		proc_describe(&vm->proc, how, sizeof(how));
		vm_path(vm, log, sizeof(log), QEMU_LOG);
		proc_tail(log, 3, tail, sizeof(tail));
		seterr(err, "%s: QEMU %s%s%s", what, how, tail[0] ? ": " : "", tail);
	} else {
		seterr(err, "%s: %s", what, reason);
	}
}

static int find_prog(const char *name, const char *env, char *out, size_t n, struct vm_err *err)
{
	const char *e = getenv(env);
	if (proc_which(e && *e ? e : name, out, n) == 0)
		return 0;
	seterr(err, "%s not found (install it or set %s)", e && *e ? e : name, env);
	return -1;
}

static int check_path(const char *s, const char *what, struct vm_err *err);

static int abs_path(const char *in, char *out, struct vm_err *err, const char *what)
{
	if (!realpath(in, out)) {
		seterr(err, "%s %s: %s", what, in, strerror(errno));
		return -1;
	}
	return check_path(out, what, err);
}

/*
 * Paths reach QEMU inside option strings ("a=b,c=d"), where a ',' must be
 * doubled; control characters (a newline above all) are refused: no QEMU
 * option, keeper command line or manifest carries them safely.
 */
static int check_path(const char *s, const char *what, struct vm_err *err)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			seterr(err, "%s %s: a control character (newline, tab...) in a path cannot be "
				    "passed to QEMU", what, s);
			return -1;
		}
	return 0;
}

/* s with every ',' doubled (QEMU's option escaping); "" when it cannot fit. */
static const char *qopt_escape(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (; *s; s++) {
		if (o + 3 > n) {
			out[0] = 0;
			return out;
		}
		if (*s == ',')
			out[o++] = ',';
		out[o++] = *s;
	}
	out[o] = 0;
	return out;
}

/* A qcow2 overlay run_dir/disk-<gen>.qcow2 over backing. A backing that a
 * running QEMU holds is not opened (-u: its lock would refuse us): the size
 * is then given, the base disk's. */
static int qimg_create(struct vm *vm, const char *backing, const char *fmt, unsigned gen,
		       int64_t dl, struct vm_err *err)
{
	char qimg[PATH_MAX], out[PATH_MAX], log[PATH_MAX], emsg[VM_ERR_LEN], size[32];
	if (find_prog("qemu-img", "HEARTH_QEMU_IMG", qimg, sizeof(qimg), err) < 0)
		return -1;
	disk_path(vm, gen, out, sizeof(out));
	vm_path(vm, log, sizeof(log), QEMU_IMG_LOG);
	char *argv[] = { qimg, "create", "-q", "-f", "qcow2", "-b", (char *)backing, "-F",
			 (char *)fmt, out, NULL, NULL, NULL };
	if (vm->proc.pid > 0 && !vm->proc.reaped) {
		struct stat st;
		if (stat(vm->info.base_disk, &st) < 0) {
			seterr(err, "base disk %s: %s", vm->info.base_disk, strerror(errno));
			return -1;
		}
		pathf(size, sizeof(size), "%lld", (long long)st.st_size);
		argv[9] = "-u";
		argv[10] = out;
		argv[11] = size;
	}
	if (proc_run(argv, log, clock_left(dl), emsg, sizeof(emsg)) < 0) {
		unlink(out);
		seterr(err, "creating the disk overlay: %s", emsg);
		return -1;
	}
	return 0;
}

/* ---- QEMU command line ---- */

struct args {
	char *v[QEMU_MAX_ARGS + 1];
	int n;
	char store[16][2 * PATH_MAX + 128];
	int ns;
};

static void arg(struct args *a, const char *s)
{
	if (a->n < QEMU_MAX_ARGS)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void argf(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argf(struct args *a, const char *fmt, ...)
{
	if (a->ns >= 16)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->store[a->ns], sizeof(a->store[0]), fmt, ap);
	va_end(ap);
	arg(a, a->store[a->ns++]);
}

/* Where each passed fd lands in QEMU (3, 4, ...; -1 when not passed). */
struct fdmap {
	int qmp, agent, console, incoming, direct, tap, mem;
};

/* The uid:gid QEMU drops to (-runas) when we are root; 0 when we are not. */
static unsigned vm_uid(void)
{
	return geteuid() == 0 ? QEMU_UID_BASE + (unsigned)gettid() : 0;
}

/*
 * The device layout is the same for boot and restore (migration needs it).
 * Restore leaves out -kernel/-initrd: the guest is already in RAM, so QEMU
 * need not read (and hold) them again.
 */
static void build_args(struct args *a, const char *qemu, const struct vm *vm,
		       const struct fdmap *f, unsigned uid)
{
	const struct snap_manifest *m = &vm->info;
	char esc[2 * PATH_MAX];
	arg(a, qemu);
	arg(a, "-M");
	if (vm->ram_path[0]) {
		argf(a, "microvm,acpi=off,x-option-roms=off,isa-serial=on,pcie=off,usb=off,"
			"memory-backend=ram0");
		/* Private (copy-on-write) mapping: the file is never written, its
		 * clean pages are page cache shared by every VM mapping it. */
		arg(a, "-object");
		if (vm->ram_sealed)
			/* QEMU opens it O_RDWR again: the seals refuse every write. */
			argf(a, "memory-backend-file,id=ram0,size=%uM,share=off,"
				"mem-path=/proc/self/fd/%d", m->mem_mib, f->mem);
		else
			argf(a, "memory-backend-file,id=ram0,size=%uM,share=off,mem-path=%s",
			     m->mem_mib, qopt_escape(vm->ram_path, esc, sizeof(esc)));
		/* The RTC on the VM's clock: paused, no device state moves with
		 * the host's time (save_mapped checks it did not move). The guest
		 * gets the time pushed after every restore (agentctl). */
		arg(a, "-rtc");
		arg(a, "clock=vm");
	} else {
		arg(a, "microvm,acpi=off,x-option-roms=off,isa-serial=on,pcie=off,usb=off");
	}
	arg(a, "-nodefaults");
	arg(a, "-no-user-config");
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-no-reboot"); /* a guest panic or reboot ends QEMU: reported, not looped */
	if (!strcmp(m->accel, "kvm")) {
		arg(a, "-accel");
		arg(a, "kvm");
		arg(a, "-cpu");
		arg(a, "host");
	} else {
		/* A small translation cache keeps idle clones cheap in host memory. */
		arg(a, "-accel");
		arg(a, "tcg,tb-size=64");
	}
	arg(a, "-m");
	argf(a, "%u", m->mem_mib);
	arg(a, "-smp");
	argf(a, "%u", m->vcpus);
	arg(a, "-sandbox");
	if (uid) {
		/* QEMU opens its files as root, then drops to uid:gid (no
		 * capabilities, no supplementary groups) before the guest runs or
		 * an incoming snapshot is read. QEMU 7.2 installs the filter
		 * before that drop, so it must allow set*id (deny or children
		 * kill it: "Bad system call"); once dropped there is nothing
		 * left for set*id to gain, and spawn=deny forbids exec. */
		arg(a, "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
		arg(a, "-runas");
		argf(a, "%u:%u", uid, uid);
	} else {
		arg(a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	}
	arg(a, "-chardev");
	argf(a, "socket,id=qmp,fd=%d", f->qmp);
	arg(a, "-mon");
	arg(a, "chardev=qmp,mode=control");
	/* The serial console goes to conlog (a rotated file), never straight
	 * into a file QEMU would grow without bound. */
	arg(a, "-chardev");
	argf(a, "socket,id=con,fd=%d", f->console);
	arg(a, "-serial");
	arg(a, "chardev:con");
	arg(a, "-device");
	/* Port 0 is the (unused) console's; snapshots must keep their count. */
	argf(a, "virtio-serial-device,max_ports=%d", m->direct ? 3 : 2);
	arg(a, "-chardev");
	argf(a, "socket,id=agent,fd=%d", f->agent);
	arg(a, "-device");
	/* A serial port, not a console: QEMU drops console data when the host
	 * socket is full, and a port has no tty echo before the agent runs. */
	arg(a, "virtserialport,chardev=agent,name=hearth.agent");
	if (m->direct) {
		/* The direct stream (PROTOCOL.md 1.9): QEMU serves our listening
		 * socket one host at a time, so hearthd reaches the agent without
		 * the keeper's relay in between; the guest sees connects and
		 * disconnects as the port opening and closing. */
		arg(a, "-chardev");
		argf(a, "socket,id=direct,fd=%d,server=on,wait=off", f->direct);
		arg(a, "-device");
		arg(a, "virtserialport,chardev=direct,name=hearth.direct");
	}
	arg(a, "-object");
	arg(a, "rng-random,id=rng,filename=/dev/urandom");
	arg(a, "-device");
	arg(a, "virtio-rng-device,rng=rng");
	if (m->has_disk) {
		char p[PATH_MAX];
		disk_path(vm, vm->disk_gen, p, sizeof(p));
		arg(a, "-blockdev");
		argf(a, "driver=qcow2,node-name=disk%u,file.driver=file,file.filename=%s",
		     vm->disk_gen, qopt_escape(p, esc, sizeof(esc)));
		arg(a, "-device");
		argf(a, "virtio-blk-device,drive=disk%u,id=vda", vm->disk_gen);
	}
	if (m->net == VM_NET_TAP) {
		/* The tap is in the VM's own network namespace (session/egress.c):
		 * the policy is enforced there, outside the guest. */
		arg(a, "-netdev");
		argf(a, "tap,id=net0,fd=%d,vhost=off", f->tap);
		arg(a, "-device");
		arg(a, "virtio-net-device,netdev=net0,mac=" VM_GUEST_MAC);
	} else if (m->net) {
		arg(a, "-netdev");
		arg(a, "user,id=net0");
		arg(a, "-device");
		arg(a, "virtio-net-device,netdev=net0");
	}
	if (f->incoming >= 0) {
		if (vm->loading) {
			/* Format 2: RAM is mapped, the stream is SNAP_STATE (from
			 * xen-save-devices-state: no RAM, no configuration section). */
			arg(a, "-global");
			arg(a, "migration.send-configuration=off");
			/* Nothing loads before migrate-incoming, and the vCPUs
			 * wait for cont: a delta may have to be written into
			 * RAM first, which loading virtio devices reads. */
			arg(a, "-S");
			arg(a, "-incoming");
			arg(a, "defer");
		} else {
			arg(a, "-incoming");
			argf(a, "fd:%d", f->incoming);
		}
	} else {
		/* -kernel, -initrd and -append are taken whole (no option parsing). */
		arg(a, "-kernel");
		arg(a, m->kernel);
		if (m->initrd[0]) {
			arg(a, "-initrd");
			arg(a, m->initrd);
		}
		arg(a, "-append");
		arg(a, m->cmdline);
	}
}

/* ---- lifecycle ---- */

static struct vm *vm_new(const struct vm_config *cfg, struct vm_err *err)
{
	if (!cfg->run_dir || !*cfg->run_dir) {
		seterr(err, "run_dir is required");
		return NULL;
	}
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		seterr(err, "out of memory");
		return NULL;
	}
	vm->agent_fd = -1;
	vm->ram_fd = -1;
	vm->tap_fd = cfg->net == VM_NET_TAP ? cfg->tap_fd : -1;
	vm->qmp.fd = -1;
	vm->proc.pid = -1;
	vm->proc.pidfd = -1;
	pathf(vm->id, sizeof(vm->id), "%s", cfg->id && *cfg->id ? cfg->id : "vm");
	if (mkdir(cfg->run_dir, 0700) == 0) {
		vm->made_dir = 1;
	} else if (errno != EEXIST) {
		seterr(err, "run_dir %s: %s", cfg->run_dir, strerror(errno));
		free(vm);
		return NULL;
	}
	int bad = !realpath(cfg->run_dir, vm->run_dir) || strlen(vm->run_dir) > PATH_MAX - 64;
	if (bad)
		seterr(err, "run_dir %s: %s", cfg->run_dir, strerror(errno));
	if (bad || check_path(vm->run_dir, "run_dir", err) < 0) {
		if (vm->made_dir)
			rmdir(cfg->run_dir);
		free(vm);
		return NULL;
	}
	enum vm_accel acc = vm_accel_resolve(cfg->accel);
	pathf(vm->info.accel, sizeof(vm->info.accel), "%s", acc == VM_ACCEL_KVM ? "kvm" : "tcg");
	pathf(vm->info.engine, sizeof(vm->info.engine), "qemu");
	return vm;
}

/* Remove everything the engine made in run_dir and free the vm. */
static void vm_free(struct vm *vm)
{
	char p[PATH_MAX];
	if (vm->proc.pid > 0 && !vm->proc.reaped)
		proc_kill(&vm->proc, 2000);
	proc_close(&vm->proc);
	if (vm->qmp.fd >= 0)
		qmpc_close(&vm->qmp);
	if (vm->agent_fd >= 0)
		close(vm->agent_fd);
	conlog_stop(vm->con, 1000); /* QEMU is gone: its last console bytes land first */
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->ram_made)
		unlink(vm->ram_path);
	for (unsigned g = vm->first_gen; g <= vm->disk_gen; g++) {
		disk_path(vm, g, p, sizeof(p));
		unlink(p);
	}
	static const char *const files[] = { QEMU_LOG,	   QEMU_CONSOLE, QEMU_CONSOLE ".1",
					     QEMU_IMG_LOG, VM_DIRECT_SOCK };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		vm_path(vm, p, sizeof(p), files[i]);
		unlink(p);
	}
	if (vm->made_dir)
		rmdir(vm->run_dir);
	free(vm);
}

/*
 * The direct stream's listening socket, <run_dir>/VM_DIRECT_SOCK (mode 0600),
 * bound through a directory fd so a long run_dir cannot overflow sun_path.
 */
static int direct_listen(struct vm *vm, struct vm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd = open(vm->run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char p[PATH_MAX];
	vm_path(vm, p, sizeof(p), VM_DIRECT_SOCK);
	unlink(p);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, VM_DIRECT_SOCK);
	/* No umask games (hearthd has threads): run_dir is 0700 anyway. */
	int rc = dfd < 0 || fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 || chmod(sa.sun_path, 0600) < 0 || listen(fd, 4) < 0) {
		seterr(err, "direct stream socket %s: %s", p, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (dfd >= 0)
		close(dfd);
	return fd;
}

static void close_pair(int *p)
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* Start QEMU (incoming_fd >= 0: restore from it) and finish the QMP handshake. */
static int vm_start(struct vm *vm, int incoming_fd, int64_t dl, struct vm_err *err)
{
	char qemu[PATH_MAX], log[PATH_MAX], emsg[VM_ERR_LEN];
	if (find_prog("qemu-system-x86_64", "HEARTH_QEMU", qemu, sizeof(qemu), err) < 0)
		return -1;
	int qs[2] = { -1, -1 }, as[2] = { -1, -1 }, cs[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qs) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, as) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0) {
		seterr(err, "socketpair: %s", strerror(errno));
		goto fail;
	}
	int lfd = -1;
	if (vm->info.direct && (lfd = direct_listen(vm, err)) < 0)
		goto fail;
	/* fd 3 = QMP, 4 = agent, 5 = console, then incoming and direct as present. */
	int fds[QEMU_MAX_FDS] = { qs[1], as[1], cs[1] }, nfds = 3;
	struct fdmap f = { .qmp = 3, .agent = 4, .console = 5, .incoming = -1, .direct = -1,
			   .tap = -1, .mem = -1 };
	if (incoming_fd >= 0) {
		f.incoming = vm->incoming_qfd = 3 + nfds;
		fds[nfds++] = incoming_fd;
	}
	if (lfd >= 0) {
		f.direct = 3 + nfds;
		fds[nfds++] = lfd;
	}
	if (vm->info.net == VM_NET_TAP) {
		if (vm->tap_fd < 0) {
			seterr(err, "the VM has a tap network device but no tap was given");
			if (lfd >= 0)
				close(lfd);
			goto fail;
		}
		f.tap = 3 + nfds;
		fds[nfds++] = vm->tap_fd;
	}
	if (vm->ram_sealed) {
		f.mem = 3 + nfds;
		fds[nfds++] = vm->ram_fd;
	}
	struct args *a = calloc(1, sizeof(*a));
	if (!a) {
		seterr(err, "out of memory");
		if (lfd >= 0)
			close(lfd);
		goto fail;
	}
	unsigned uid = vm_uid();
	build_args(a, qemu, vm, &f, uid);
	vm_path(vm, log, sizeof(log), QEMU_LOG);
	unlink(log);
	static char *const env[] = { "LC_ALL=C", NULL };
	int rc = proc_spawn(&vm->proc, a->v, env, fds, nfds, log, emsg, sizeof(emsg));
	free(a);
	/* -runas clears QEMU's death signal: a guard dies with us and kills it. */
	if (rc == 0 && uid && proc_guard(&vm->proc, emsg, sizeof(emsg)) < 0) {
		proc_kill(&vm->proc, 2000);
		rc = -1;
	}
	close(qs[1]);
	close(as[1]);
	close(cs[1]);
	qs[1] = as[1] = cs[1] = -1;
	if (lfd >= 0)
		close(lfd); /* QEMU holds the listener now */
	if (rc < 0) {
		seterr(err, "starting QEMU: %s", emsg);
		goto fail;
	}
	char con[PATH_MAX];
	vm_path(vm, con, sizeof(con), QEMU_CONSOLE);
	rc = conlog_start(&vm->con, cs[0], con, VM_CONSOLE_LOG_MAX, emsg, sizeof(emsg));
	cs[0] = -1;
	qmpc_init(&vm->qmp, qs[0]);
	vm->agent_fd = as[0];
	if (rc < 0) {
		seterr(err, "starting QEMU: %s", emsg);
		return -1;
	}
	if (qmpc_handshake(&vm->qmp, dl, emsg, sizeof(emsg)) < 0) {
		vm_fail(vm, err, "starting QEMU", emsg);
		return -1;
	}
	return 0;
fail:
	close_pair(qs);
	close_pair(as);
	close_pair(cs);
	return -1;
}

/* Format 1 on request (benchmarks compare it): HEARTH_SNAP_EAGER=1. */
static int snap_eager(void)
{
	const char *e = getenv("HEARTH_SNAP_EAGER");
	return e && !strcmp(e, "1");
}

/* A booted VM's RAM maps an empty sparse file of its size (format 2). */
static int ram_boot_base(struct vm *vm, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	/* An empty base on tmpfs would be allocated as the guest touches it
	 * (SIGBUS when full): such a run dir boots with anonymous RAM. */
	vm->info.version = snap_eager() || !ramfile_holes_safe(vm->run_dir) ? SNAP_VERSION_EAGER
									    : SNAP_VERSION;
	if (vm->info.version != SNAP_VERSION)
		return 0;
	vm_path(vm, vm->ram_path, sizeof(vm->ram_path), QEMU_RAM);
	unlink(vm->ram_path);
	if (ramfile_create_zero(vm->ram_path, (uint64_t)vm->info.mem_mib << 20, emsg,
				sizeof(emsg)) < 0) {
		vm->ram_path[0] = 0;
		seterr(err, "boot: %s", emsg);
		return -1;
	}
	vm->ram_made = 1;
	vm->ram_fd = open(vm->ram_path, O_RDONLY | O_CLOEXEC);
	if (vm->ram_fd < 0) {
		seterr(err, "boot: %s: %s", vm->ram_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int qemu_boot(const struct vm_config *cfg, int deadline_ms, struct vm **out,
		     struct vm_err *err)
{
	int64_t dl = clock_deadline(deadline_ms);
	*out = NULL;
	if (!cfg->kernel) {
		seterr(err, "boot: no kernel");
		return -1;
	}
	struct vm *vm = vm_new(cfg, err);
	if (!vm)
		return -1;
	struct snap_manifest *m = &vm->info;
	m->mem_mib = cfg->mem_mib ? cfg->mem_mib : 128;
	m->vcpus = cfg->vcpus ? cfg->vcpus : 1;
	m->net = cfg->net;
	m->direct = 1;
	pathf(m->cmdline, sizeof(m->cmdline), "%s", cfg->cmdline ? cfg->cmdline : "");
	if (abs_path(cfg->kernel, m->kernel, err, "kernel") < 0 ||
	    (cfg->initrd && abs_path(cfg->initrd, m->initrd, err, "initrd") < 0) ||
	    (cfg->disk && abs_path(cfg->disk, m->base_disk, err, "disk") < 0))
		goto fail;
	if (cfg->disk) {
		m->has_disk = 1;
		pathf(m->disk_backing, sizeof(m->disk_backing), "%s", m->base_disk);
		m->disk_depth = 1;
		if (qimg_create(vm, m->base_disk, "raw", 0, dl, err) < 0)
			goto fail;
	}
	if (ram_boot_base(vm, err) < 0)
		goto fail;
	if (vm_start(vm, -1, dl, err) < 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_free(vm);
	return -1;
}

static int qemu_pause(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	if (qmpc_cmd(&vm->qmp, "stop", NULL, -1, clock_deadline(deadline_ms), NULL, emsg,
		     sizeof(emsg)) < 0) {
		vm_fail(vm, err, "pause", emsg);
		return -1;
	}
	vm->paused = 1;
	return 0;
}

static int qemu_resume(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	if (qmpc_cmd(&vm->qmp, "cont", NULL, -1, clock_deadline(deadline_ms), NULL, emsg,
		     sizeof(emsg)) < 0) {
		vm_fail(vm, err, "resume", emsg);
		return -1;
	}
	vm->paused = 0;
	vm->inactive = 0;
	/* Running now: removing the sets again makes QEMU close their files. */
	unsigned n = vm->nstale < QEMU_FDSET_STALE ? vm->nstale : QEMU_FDSET_STALE;
	for (unsigned i = 0; i < n; i++) {
		struct json_object *rf = json_object_new_object();
		json_object_object_add(rf, "fdset-id", json_object_new_int64(vm->fdset_stale[i]));
		qmpc_cmd(&vm->qmp, "remove-fd", rf, -1, clock_deadline(deadline_ms), NULL, emsg,
			 sizeof(emsg)); /* gone already: an error, harmless */
	}
	vm->nstale = 0;
	return 0;
}

/*
 * Pause for a snapshot. After an earlier snapshot that was not followed by a
 * resume, QEMU holds the disks inactive (handed over, as a migration does) and
 * can neither switch overlays nor migrate again; only cont takes them back in
 * QEMU 7.2, so the guest runs for an instant before it is paused again.
 */
static int chain_settle(struct vm *vm, int64_t dl, struct vm_err *err);

static int pause_for_snapshot(struct vm *vm, int64_t dl, struct vm_err *err)
{
	if (vm->inactive && qemu_resume(vm, clock_left(dl), err) < 0)
		return -1;
	if (!vm->paused && qemu_pause(vm, clock_left(dl), err) < 0)
		return -1;
	return chain_settle(vm, dl, err);
}

/* The top disk node's info from query-named-block-nodes (a new reference), or NULL. */
static struct json_object *top_node(struct vm *vm, int64_t dl, char *emsg, size_t n)
{
	struct json_object *r = NULL;
	if (qmpc_cmd(&vm->qmp, "query-named-block-nodes", NULL, -1, dl, &r, emsg, n) < 0)
		return NULL;
	char node[32];
	pathf(node, sizeof(node), "disk%u", vm->disk_gen);
	struct json_object *hit = NULL;
	for (size_t i = 0; r && json_object_is_type(r, json_type_array) &&
			   i < json_object_array_length(r); i++) {
		struct json_object *e = json_object_array_get_idx(r, i), *nn;
		if (json_object_object_get_ex(e, "node-name", &nn) &&
		    !strcmp(json_object_get_string(nn), node))
			hit = json_object_get(e);
	}
	json_object_put(r);
	if (!hit)
		pathf(emsg, n, "no block node %s", node);
	return hit;
}

/*
 * Before a snapshot (the VM paused): a stream job still running is
 * cancelled (what it copied stays valid, its chain intact) and waited for;
 * then the chain's depth and backing are read back from QEMU, shorter if
 * the stream had completed.
 */
static int chain_settle(struct vm *vm, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	if (!vm->streaming)
		return 0;
	for (int cancelled = 0;;) {
		struct json_object *r = NULL;
		if (qmpc_cmd(&vm->qmp, "query-block-jobs", NULL, -1, dl, &r, emsg, sizeof(emsg)) < 0) {
			vm_fail(vm, err, "snapshot: block jobs", emsg);
			return -1;
		}
		size_t n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
		json_object_put(r);
		if (!n)
			break;
		if (!cancelled) {
			struct json_object *c = json_object_new_object();
			json_object_object_add(c, "device", json_object_new_string(QEMU_STREAM_JOB));
			qmpc_cmd(&vm->qmp, "block-job-cancel", c, -1, dl, NULL, emsg, sizeof(emsg));
			cancelled = 1;
		}
		if (clock_left(dl) <= 0) {
			seterr(err, "snapshot: the disk stream job did not stop");
			return -1;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	vm->streaming = 0;
	struct json_object *t = top_node(vm, dl, emsg, sizeof(emsg)), *v, *img = NULL, *bf;
	if (!t) {
		vm_fail(vm, err, "snapshot: disk chain", emsg);
		return -1;
	}
	if (json_object_object_get_ex(t, "image", &img) &&
	    json_object_object_get_ex(img, "backing-filename", &bf))
		pathf(vm->info.disk_backing, sizeof(vm->info.disk_backing), "%s",
		      json_object_get_string(bf));
	/* The qcow2 files down the nested image info (the base is raw). */
	unsigned depth = 0;
	for (struct json_object *i = img; i && json_object_object_get_ex(i, "format", &v) &&
					  !strcmp(json_object_get_string(v), "qcow2");
	     i = json_object_object_get_ex(i, "backing-image", &v) ? v : NULL)
		depth++;
	vm->info.disk_depth = depth;
	json_object_put(t);
	return 0;
}

/* After a restore: a chain grown past QEMU_CHAIN_MAX is streamed (copied
 * into the new overlay, which then backs onto the base directly) while the
 * VM runs. Best effort: a failure leaves the chain as it was. */
static void chain_trim(struct vm *vm, int64_t dl)
{
	char emsg[VM_ERR_LEN], node[32];
	if (!vm->info.has_disk || vm->info.disk_depth <= QEMU_CHAIN_MAX)
		return;
	pathf(node, sizeof(node), "disk%u", vm->disk_gen);
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "job-id", json_object_new_string(QEMU_STREAM_JOB));
	json_object_object_add(a, "device", json_object_new_string(node));
	json_object_object_add(a, "base", json_object_new_string(vm->info.base_disk));
	if (qmpc_cmd(&vm->qmp, "block-stream", a, -1, dl, NULL, emsg, sizeof(emsg)) == 0)
		vm->streaming = 1;
}

/* Move (or, across filesystems, copy) a closed-for-writing file. */
static int move_file(const char *from, const char *to, struct vm_err *err)
{
	if (rename(from, to) == 0)
		return 0;
	if (errno != EXDEV) {
		seterr(err, "moving %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int o = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc = -1;
	char b[65536];
	ssize_t r;
	if (in >= 0 && o >= 0) {
		while ((r = read(in, b, sizeof(b))) > 0)
			if (write(o, b, (size_t)r) != r)
				break;
		rc = r == 0 ? 0 : -1;
	}
	if (rc < 0) {
		seterr(err, "copying %s to %s failed", from, to);
		unlink(to);
	}
	if (in >= 0)
		close(in);
	if (o >= 0)
		close(o);
	return rc;
}

/* Migrate memory + device state into snapdir/memory.bin; the VM must be paused. */
static int migrate_to_file(struct vm *vm, const char *snapdir, int64_t dl, struct vm_err *err)
{
	char path[PATH_MAX], emsg[VM_ERR_LEN];
	pathf(path, sizeof(path), "%s/%s", snapdir, SNAP_MEMORY);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		seterr(err, "snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	/* The default 32 MiB/s cap would make a 128 MiB guest take seconds. */
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "max-bandwidth", json_object_new_int64(INT64_C(1) << 40));
	int rc = qmpc_cmd(&vm->qmp, "migrate-set-parameters", p, -1, dl, NULL, emsg, sizeof(emsg));
	if (rc == 0) {
		struct json_object *g = json_object_new_object();
		json_object_object_add(g, "fdname", json_object_new_string("hearth-snap"));
		rc = qmpc_cmd(&vm->qmp, "getfd", g, fd, dl, NULL, emsg, sizeof(emsg));
	}
	if (rc == 0) {
		struct json_object *mg = json_object_new_object();
		json_object_object_add(mg, "uri", json_object_new_string("fd:hearth-snap"));
		rc = qmpc_cmd(&vm->qmp, "migrate", mg, -1, dl, NULL, emsg, sizeof(emsg));
	}
	if (rc < 0) {
		close(fd);
		unlink(path);
		vm_fail(vm, err, "snapshot", emsg);
		return -1;
	}
	close(fd);
	for (;;) {
		struct json_object *r = NULL, *st = NULL;
		if (qmpc_cmd(&vm->qmp, "query-migrate", NULL, -1, dl, &r, emsg, sizeof(emsg)) < 0) {
			unlink(path);
			vm_fail(vm, err, "snapshot", emsg);
			return -1;
		}
		const char *s = json_object_object_get_ex(r, "status", &st) ? json_object_get_string(st)
									    : "";
		if (s && !strcmp(s, "completed")) {
			json_object_put(r);
			vm->inactive = 1;
			return 0;
		}
		if (s && (!strcmp(s, "failed") || !strcmp(s, "cancelled"))) {
			struct json_object *d = NULL;
			json_object_object_get_ex(r, "error-desc", &d);
			seterr(err, "snapshot: migration %s: %s", s, d ? json_object_get_string(d) : "");
			json_object_put(r);
			unlink(path);
			return -1;
		}
		json_object_put(r);
		if (clock_left(dl) <= 0) {
			qmpc_cmd(&vm->qmp, "migrate_cancel", NULL, -1, clock_deadline(500), NULL, emsg,
				 sizeof(emsg));
			unlink(path);
			seterr(err, "snapshot: timed out writing guest memory");
			return -1;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/*
 * Run a QMP command that opens file "/dev/fdset/<id>" on fd (QEMU, dropped
 * to its uid, opens nothing by path); the set is removed afterwards (again
 * at the next resume when the VM is paused now: see fdset_stale).
 */
static int fdset_cmd(struct vm *vm, int fd, const char *cmd, struct json_object *args,
		     int64_t dl, char *emsg, size_t n)
{
	unsigned id = QEMU_FDSET_STATE + (vm->fdset_next++ % 1000000u);
	char path[32];
	struct json_object *af = json_object_new_object();
	json_object_object_add(af, "fdset-id", json_object_new_int64(id));
	if (qmpc_cmd(&vm->qmp, "add-fd", af, fd, dl, NULL, emsg, n) < 0) {
		json_object_put(args);
		return -1;
	}
	pathf(path, sizeof(path), "/dev/fdset/%u", id);
	json_object_object_add(args, "filename", json_object_new_string(path));
	int rc = qmpc_cmd(&vm->qmp, cmd, args, -1, dl, NULL, emsg, n);
	struct json_object *rf = json_object_new_object();
	json_object_object_add(rf, "fdset-id", json_object_new_int64(id));
	char e2[256];
	qmpc_cmd(&vm->qmp, "remove-fd", rf, -1, dl, NULL, e2, sizeof(e2));
	if (vm->paused)
		vm->fdset_stale[vm->nstale++ % QEMU_FDSET_STALE] = id;
	return rc;
}

/* The pages the VM wrote over its base into snapdir/SNAP_DELTA (new),
 * synced; removed again on failure. */
static int write_delta(struct vm *vm, const char *snapdir, char *emsg, size_t n)
{
	char delta[PATH_MAX];
	pathf(delta, sizeof(delta), "%s/%s", snapdir, SNAP_DELTA);
	int fd = open(delta, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		pathf(emsg, n, "%s: %s", delta, strerror(errno));
		return -1;
	}
	struct ramfile_stats rs;
	int rc = ramfile_save_delta(vm->proc.pid, vm->ram_fd, (uint64_t)vm->info.mem_mib << 20, fd,
				    &rs, emsg, n);
	close(fd);
	if (rc < 0)
		unlink(delta);
	return rc;
}

/*
 * After a resume from a suspend snapshot, suspend again as a delta: only the
 * pages written since the resume, appended to SNAP_DELTA; SNAP_MEMORY is a
 * link to the base (restore applies the delta to it). 1: done; 0: not
 * possible here (another filesystem, the base gone), nothing left behind.
 */
static int save_delta(struct vm *vm, const char *snapdir, char *emsg, size_t n)
{
	char mem[PATH_MAX], self[64];
	pathf(mem, sizeof(mem), "%s/%s", snapdir, SNAP_MEMORY);
	pathf(self, sizeof(self), "/proc/self/fd/%d", vm->ram_fd);
	if (linkat(AT_FDCWD, self, AT_FDCWD, mem, AT_SYMLINK_FOLLOW) < 0)
		return 0;
	if (write_delta(vm, snapdir, emsg, n) < 0) {
		unlink(mem);
		return -1;
	}
	return 1;
}

/*
 * A VM mapping an image's sealed memory suspends as a delta against it when
 * it wrote at most QEMU_IMAGE_DELTA_MAX: SNAP_DELTA only, the manifest names
 * the image snapshot (m->mem_base). 1: done; 0: it wrote more, nothing left
 * behind; -1 with emsg.
 */
static int save_image_delta(struct vm *vm, const char *snapdir, struct snap_manifest *m,
			    char *emsg, size_t n)
{
	uint64_t pages;
	/* Unreadable here means a full save could not read the pages either. */
	if (ramfile_written(vm->proc.pid, vm->ram_fd, (uint64_t)vm->info.mem_mib << 20, &pages,
			    emsg, n) < 0)
		return -1;
	if (pages * 4096 > QEMU_IMAGE_DELTA_MAX)
		return 0;
	if (write_delta(vm, snapdir, emsg, n) < 0)
		return -1;
	pathf(m->mem_base, sizeof(m->mem_base), "%s", vm->ram_base);
	m->base_state_size = vm->ram_base_state_size;
	m->base_state_hash = vm->ram_base_state_hash;
	m->has_delta = 1;
	return 1;
}

/* The device state (xen-save-devices-state: no RAM, disks left to QEMU) into path. */
static int save_state(struct vm *vm, const char *path, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		seterr(err, "snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "live", json_object_new_boolean(0));
	int rc = fdset_cmd(vm, fd, "xen-save-devices-state", a, dl, emsg, sizeof(emsg));
	close(fd);
	if (rc < 0) {
		unlink(path);
		vm_fail(vm, err, "snapshot: saving the device state", emsg);
	}
	return rc;
}

/* 1 when two (small) files have the same bytes. */
static int same_bytes(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC), same = 0;
	char x[8192], y[8192];
	for (ssize_t n, m; fa >= 0 && fb >= 0;) {
		n = read(fa, x, sizeof(x));
		m = read(fb, y, sizeof(y));
		if (n != m || n < 0 || memcmp(x, y, (size_t)n) != 0)
			break;
		if (n == 0) {
			same = 1;
			break;
		}
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return same;
}

/* The RAM in the VM's way: a suspend writes a delta after a resume from a
 * suspend snapshot, or over an image's memory when little was written. */
static int save_ram(struct vm *vm, const char *snapdir, int suspend, struct snap_manifest *m,
		    struct vm_err *err)
{
	char mem[PATH_MAX], emsg[VM_ERR_LEN];
	pathf(mem, sizeof(mem), "%s/%s", snapdir, SNAP_MEMORY);
	m->consumable = suspend;
	m->has_delta = 0;
	m->mem_base[0] = 0;
	m->base_state_size = m->base_state_hash = 0;
	if (suspend && vm->ram_consumable) {
		int d = save_delta(vm, snapdir, emsg, sizeof(emsg));
		if (d < 0) {
			vm_fail(vm, err, "snapshot: writing guest memory", emsg);
			return -1;
		}
		if (d == 1) {
			m->has_delta = 1;
			return 0;
		}
	}
	if (suspend && vm->ram_sealed && vm->ram_base[0]) {
		int d = save_image_delta(vm, snapdir, m, emsg, sizeof(emsg));
		if (d < 0) {
			vm_fail(vm, err, "snapshot: writing guest memory", emsg);
			return -1;
		}
		if (d == 1)
			return 0;
	}
	int fd = open(mem, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct ramfile_stats rs;
	if (fd < 0 || ramfile_save(vm->proc.pid, vm->ram_fd, (uint64_t)vm->info.mem_mib << 20, fd,
				   &rs, emsg, sizeof(emsg)) < 0) {
		if (fd < 0)
			pathf(emsg, sizeof(emsg), "%s: %s", mem, strerror(errno));
		else
			close(fd);
		unlink(mem);
		vm_fail(vm, err, "snapshot: writing guest memory", emsg);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Format 2, the VM paused: device state into snapdir/SNAP_STATE, the RAM
 * (ramfile.h), then the device state once more. A paused VM's devices still
 * take host input (a chardev delivers into buffers the guest posted), which
 * writes RAM and moves device state; nothing tracks those writes here (no
 * migration dirty log), so the pair is kept only when the state did not
 * move meanwhile, else taken again. Everything is removed on failure.
 */
static int save_mapped(struct vm *vm, const char *snapdir, int suspend, struct snap_manifest *m,
		       int64_t dl, struct vm_err *err)
{
	char st[PATH_MAX], chk[PATH_MAX], p[PATH_MAX];
	pathf(st, sizeof(st), "%s/%s", snapdir, SNAP_STATE);
	pathf(chk, sizeof(chk), "%s/.%s.check", snapdir, SNAP_STATE);
	for (int tries = 0;; tries++) {
		if (save_state(vm, st, dl, err) < 0)
			return -1;
		if (save_ram(vm, snapdir, suspend, m, err) < 0) {
			unlink(st);
			return -1;
		}
		int rc = save_state(vm, chk, dl, err);
		int same = rc == 0 && same_bytes(st, chk);
		unlink(chk);
		if (same)
			return 0;
		unlink(st);
		pathf(p, sizeof(p), "%s/%s", snapdir, SNAP_MEMORY);
		unlink(p);
		pathf(p, sizeof(p), "%s/%s", snapdir, SNAP_DELTA);
		unlink(p);
		if (rc < 0)
			return -1;
		if (tries == 3 || clock_left(dl) <= 0) {
			seterr(err, "snapshot: the paused VM's devices kept changing its memory");
			return -1;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 }; /* let pending input land */
		nanosleep(&ts, NULL);
	}
}

/* Memory + device state into snapdir in the VM's format; the VM must be paused. */
static int save_memory(struct vm *vm, const char *snapdir, int suspend, struct snap_manifest *m,
		       int64_t dl, struct vm_err *err)
{
	return vm->ram_path[0] ? save_mapped(vm, snapdir, suspend, m, dl, err)
			       : migrate_to_file(vm, snapdir, dl, err);
}

static int hash_into(const char *dir, const char *name, uint64_t *size, uint64_t *hash,
		     struct vm_err *err)
{
	char path[PATH_MAX], emsg[VM_ERR_LEN];
	pathf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, "snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = snapfile_hash_fd(fd, size, hash, emsg, sizeof(emsg));
	/* On disk before the manifest names it: a suspended VM survives a host crash. */
	if (rc == 0 && fdatasync(fd) < 0) {
		pathf(emsg, sizeof(emsg), "fdatasync: %s", strerror(errno));
		rc = -1;
	}
	close(fd);
	if (rc < 0)
		seterr(err, "snapshot %s: %s", path, emsg);
	return rc;
}

static int finish_manifest(const struct snap_manifest *info, const char *snapdir,
			   struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	struct snap_manifest m = *info;
	if (m.version == SNAP_VERSION) {
		/* Synced by ramfile_save; mapped, not hashed (snapfile.h). */
		m.mem_size = (uint64_t)m.mem_mib << 20;
		m.mem_hash = 0;
		if (hash_into(snapdir, SNAP_STATE, &m.state_size, &m.state_hash, err) < 0 ||
		    (m.has_delta &&
		     hash_into(snapdir, SNAP_DELTA, &m.delta_size, &m.delta_hash, err) < 0))
			return -1;
	} else if (hash_into(snapdir, SNAP_MEMORY, &m.mem_size, &m.mem_hash, err) < 0) {
		return -1;
	}
	if (m.has_disk && hash_into(snapdir, SNAP_DISK, &m.disk_size, &m.disk_hash, err) < 0)
		return -1;
	if (snapfile_write(snapdir, &m, emsg, sizeof(emsg)) < 0) {
		seterr(err, "snapshot: %s", emsg);
		return -1;
	}
	return 0;
}

/* Create snapdir (or accept an empty one) and return its absolute path. */
static int snapdir_prepare(const char *dir, char *abs, struct vm_err *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		seterr(err, "snapshot dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (abs_path(dir, abs, err, "snapshot dir") < 0) /* refuses control characters */
		return -1;
	if (strlen(abs) > PATH_MAX - 64) {
		seterr(err, "snapshot dir path too long");
		return -1;
	}
	char p[PATH_MAX];
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_MANIFEST);
	if (access(p, F_OK) == 0) {
		seterr(err, "snapshot dir %s already holds a snapshot", abs);
		return -1;
	}
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_MEMORY);
	unlink(p); /* leftovers of a failed attempt */
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_STATE);
	unlink(p);
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_DELTA);
	unlink(p);
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_DISK);
	unlink(p);
	return 0;
}

static void snapdir_discard(const char *abs)
{
	char p[PATH_MAX];
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_MEMORY);
	unlink(p);
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_STATE);
	unlink(p);
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_DELTA);
	unlink(p);
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_DISK);
	unlink(p);
}

/*
 * Freeze the current overlay into snapdir while the VM is paused: QEMU moves
 * its writes to a new overlay whose backing file is then renamed into the
 * snapshot (QEMU keeps the open file; the new overlay's header is pointed at
 * the new name so later snapshots chain to it, not to run_dir).
 */
static int freeze_disk(struct vm *vm, const char *snapdir, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN], next[PATH_MAX], cur[PATH_MAX], frozen[PATH_MAX], node[32],
		nnode[32];
	unsigned g = vm->disk_gen;
	disk_path(vm, g, cur, sizeof(cur));
	disk_path(vm, g + 1, next, sizeof(next));
	pathf(frozen, sizeof(frozen), "%s/%s", snapdir, SNAP_DISK);
	pathf(node, sizeof(node), "disk%u", g);
	pathf(nnode, sizeof(nnode), "disk%u", g + 1);
	unlink(next);
	/* Made here and handed over as an fd set: QEMU, dropped to its own uid,
	 * can open nothing in run_dir by path (hearthd.8, VM PROCESSES). */
	if (qimg_create(vm, cur, "qcow2", g + 1, dl, err) < 0)
		return -1;
	int fd = open(next, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, "snapshot: %s: %s", next, strerror(errno));
		unlink(next);
		return -1;
	}
	char fdset[32];
	struct json_object *af = json_object_new_object();
	json_object_object_add(af, "fdset-id", json_object_new_int64((int64_t)g + 1));
	int rc = qmpc_cmd(&vm->qmp, "add-fd", af, fd, dl, NULL, emsg, sizeof(emsg));
	close(fd);
	pathf(fdset, sizeof(fdset), "/dev/fdset/%u", g + 1);
	if (rc == 0) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "node-name", json_object_new_string(node));
		json_object_object_add(a, "snapshot-file", json_object_new_string(fdset));
		json_object_object_add(a, "snapshot-node-name", json_object_new_string(nnode));
		json_object_object_add(a, "format", json_object_new_string("qcow2"));
		json_object_object_add(a, "mode", json_object_new_string("existing"));
		rc = qmpc_cmd(&vm->qmp, "blockdev-snapshot-sync", a, -1, dl, NULL, emsg,
			      sizeof(emsg));
		/* The node holds its own duplicate; the set's copy is not needed. */
		struct json_object *rf = json_object_new_object();
		json_object_object_add(rf, "fdset-id", json_object_new_int64((int64_t)g + 1));
		char e2[256];
		qmpc_cmd(&vm->qmp, "remove-fd", rf, -1, dl, NULL, e2, sizeof(e2));
	}
	if (rc < 0) {
		unlink(next);
		vm_fail(vm, err, "snapshot: switching the disk overlay", emsg);
		return -1;
	}
	vm->disk_gen = g + 1;
	if (move_file(cur, frozen, err) < 0)
		return -1;
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "device", json_object_new_string(nnode));
	json_object_object_add(c, "image-node-name", json_object_new_string(nnode));
	json_object_object_add(c, "backing-file", json_object_new_string(frozen));
	if (qmpc_cmd(&vm->qmp, "change-backing-file", c, -1, dl, NULL, emsg, sizeof(emsg)) < 0) {
		vm_fail(vm, err, "snapshot: relinking the disk overlay", emsg);
		return -1;
	}
	return 0;
}

static int qemu_snapshot(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err)
{
	int64_t dl = clock_deadline(deadline_ms);
	char abs[PATH_MAX];
	if (snapdir_prepare(dir, abs, err) < 0)
		return -1;
	if (pause_for_snapshot(vm, dl, err) < 0)
		return -1;
	/* The manifest records the frozen overlay's backing, i.e. the current one. */
	struct snap_manifest *info = malloc(sizeof(*info));
	if (!info) {
		seterr(err, "out of memory");
		return -1;
	}
	*info = vm->info;
	if (vm->info.has_disk) {
		if (freeze_disk(vm, abs, dl, err) < 0) {
			snapdir_discard(abs);
			free(info);
			return -1;
		}
		pathf(vm->info.disk_backing, sizeof(vm->info.disk_backing), "%s/%s", abs,
			 SNAP_DISK);
		if (vm->info.disk_depth)
			vm->info.disk_depth++;
	}
	int rc = 0;
	if (save_memory(vm, abs, 0, info, dl, err) < 0 || finish_manifest(info, abs, err) < 0) {
		/* The frozen disk stays in abs: the VM's overlay is backed by it. */
		char p[PATH_MAX];
		pathf(p, sizeof(p), "%s/%s", abs, SNAP_MEMORY);
		unlink(p);
		pathf(p, sizeof(p), "%s/%s", abs, SNAP_STATE);
		unlink(p);
		pathf(p, sizeof(p), "%s/%s", abs, SNAP_DELTA);
		unlink(p);
		rc = -1;
	}
	free(info);
	return rc;
}

/* End the QEMU process: QMP quit, then SIGKILL; always reaps. */
static void vm_end(struct vm *vm, int64_t dl)
{
	if (vm->proc.pid <= 0 || vm->proc.reaped)
		return;
	if (!vm->qmp.dead) {
		char emsg[VM_ERR_LEN];
		int q = clock_left(dl) < QEMU_QUIT_MS ? clock_left(dl) : QEMU_QUIT_MS;
		qmpc_cmd(&vm->qmp, "quit", NULL, -1, clock_deadline(q), NULL, emsg, sizeof(emsg));
		/* quit answers before QEMU is gone: wait for the exit too. */
		q = clock_left(dl) < QEMU_QUIT_MS ? clock_left(dl) : QEMU_QUIT_MS;
		if (proc_wait(&vm->proc, q) == 1)
			return;
	}
	proc_kill(&vm->proc, 2000);
}

static int qemu_stop(struct vm *vm, int deadline_ms, struct vm_err *err)
{
	vm_end(vm, clock_deadline(deadline_ms));
	int rc = 0;
	if (vm->proc.pid > 0 && !vm->proc.reaped) {
		seterr(err, "stop: QEMU pid %d did not exit", (int)vm->proc.pid);
		rc = -1;
	}
	vm_free(vm);
	return rc;
}

/* Make a directory's entries durable (a new file, a rename). */
static int sync_dir(const char *dir, struct vm_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		seterr(err, "snapshot: syncing %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Give the snapshot the current overlay while QEMU still holds it: a hard
 * link (no copy, no space), or a copy across filesystems. QEMU has flushed
 * and released the disk (migration completed) and the VM is paused.
 */
static int link_disk(struct vm *vm, const char *snapdir, struct vm_err *err)
{
	char cur[PATH_MAX], frozen[PATH_MAX];
	disk_path(vm, vm->disk_gen, cur, sizeof(cur));
	pathf(frozen, sizeof(frozen), "%s/%s", snapdir, SNAP_DISK);
	if (link(cur, frozen) == 0)
		return 0;
	if (errno != EXDEV) {
		seterr(err, "snapshot: linking %s to %s: %s", cur, frozen, strerror(errno));
		return -1;
	}
	int in = open(cur, O_RDONLY | O_CLOEXEC);
	int o = open(frozen, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = in >= 0 && o >= 0 ? 0 : -1, e = errno;
	char b[65536];
	ssize_t r = 0;
	while (rc == 0 && (r = read(in, b, sizeof(b))) > 0)
		if (write(o, b, (size_t)r) != r) {
			e = errno ? errno : ENOSPC;
			rc = -1;
		}
	if (rc == 0 && r < 0) {
		e = errno;
		rc = -1;
	}
	if (rc < 0) {
		seterr(err, "snapshot: copying %s to %s: %s", cur, frozen, strerror(e));
		unlink(frozen);
	}
	if (in >= 0)
		close(in);
	if (o >= 0)
		close(o);
	return rc;
}

/*
 * Suspend as a transaction: memory and device state, the disk and the
 * manifest are written and synced into snapdir while QEMU still holds the VM
 * (paused); only then is QEMU ended. Until that point any failure (a full
 * disk, a migration error, a manifest that cannot be written) removes what
 * was written and continues the VM where it was. Nothing the VM keeps using
 * lives in snapdir: the caller may delete it after a failure.
 */
static int qemu_suspend(struct vm *vm, const char *dir, int deadline_ms, struct vm_err *err)
{
	int64_t dl = clock_deadline(deadline_ms);
	char abs[PATH_MAX], parent[PATH_MAX], p[PATH_MAX];
	if (snapdir_prepare(dir, abs, err) < 0)
		return -1;
	int was_running = !vm->paused;
	if (pause_for_snapshot(vm, dl, err) < 0)
		goto undo;
	/* Format 2: the pause flushed the disk (QEMU's stop drains and flushes
	 * every block device), which stays QEMU's until it ends. */
	if (save_memory(vm, abs, 1, &vm->info, dl, err) < 0 ||
	    (vm->info.has_disk && link_disk(vm, abs, err) < 0) ||
	    finish_manifest(&vm->info, abs, err) < 0)
		goto undo;
	pathf(parent, sizeof(parent), "%s", abs);
	char *slash = strrchr(parent, '/');
	if (slash)
		*(slash == parent ? slash + 1 : slash) = 0;
	if (sync_dir(parent, err) < 0)
		goto undo;
	/* The snapshot is complete and durable: now QEMU may go. The overlay's
	 * name in run_dir goes with vm_free; its data stays in the snapshot. */
	vm_end(vm, dl);
	vm_free(vm);
	return 0;
undo:
	pathf(p, sizeof(p), "%s/%s", abs, SNAP_MANIFEST);
	unlink(p);
	snapdir_discard(abs);
	if (proc_wait(&vm->proc, 0) == 1)
		return -1; /* QEMU died: err says how (vm_fail) */
	if (was_running) {
		struct vm_err rerr;
		/* At least 2 s to continue, even when the deadline is what failed. */
		int left = clock_left(dl) > 2000 ? clock_left(dl) : 2000;
		if (qemu_resume(vm, left, &rerr) < 0) {
			size_t n = strlen(err->msg);
			pathf(err->msg + n, sizeof(err->msg) - n, "; continuing the VM failed: %s",
			      rerr.msg);
		}
	}
	return -1;
}

/*
 * After -incoming: wait until QEMU has loaded the state. A snapshot is taken
 * paused, so the loaded VM stays paused until cont: 1. A VM that runs
 * already (a format 1 stream of a running VM): 0. A stream QEMU cannot load
 * makes it exit, which the QMP EOF reports.
 */
static int wait_loaded(struct vm *vm, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	for (;;) {
		struct json_object *r = NULL, *st = NULL;
		if (qmpc_cmd(&vm->qmp, "query-status", NULL, -1, dl, &r, emsg, sizeof(emsg)) < 0) {
			vm_fail(vm, err, "restore", emsg);
			return -1;
		}
		const char *s = json_object_object_get_ex(r, "status", &st) ? json_object_get_string(st)
									    : "";
		char status[32];
		pathf(status, sizeof(status), "%s", s ? s : "");
		json_object_put(r);
		if (!strcmp(status, "running"))
			return 0;
		if (!strcmp(status, "paused"))
			return 1;
		if (strcmp(status, "inmigrate") != 0) {
			vm_fail(vm, err, "restore: unexpected VM state", status);
			return -1;
		}
		if (clock_left(dl) <= 0) {
			seterr(err, "restore: timed out loading the snapshot");
			return -1;
		}
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int run_loaded(struct vm *vm, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	if (qmpc_cmd(&vm->qmp, "cont", NULL, -1, dl, NULL, emsg, sizeof(emsg)) < 0) {
		vm_fail(vm, err, "restore", emsg);
		return -1;
	}
	return 0;
}

static int wait_loaded_and_run(struct vm *vm, int64_t dl, struct vm_err *err)
{
	int rc = wait_loaded(vm, dl, err);
	return rc <= 0 ? rc : run_loaded(vm, dl, err);
}

/* The snapshot mem_base names is still the one the delta was written over
 * (not rebuilt at the same path since): its device state is. */
static int same_base(struct vm *vm, const char *snapdir, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	struct snap_manifest *b = malloc(sizeof(*b));
	int rc = -1;
	if (!b) {
		seterr(err, "out of memory");
		return -1;
	}
	if (snapfile_read(vm->info.mem_base, b, emsg, sizeof(emsg)) < 0)
		seterr(err, "restore %s: its memory base: %s", snapdir, emsg);
	else if (b->version != SNAP_VERSION || b->mem_size != vm->info.mem_size ||
		 b->state_size != vm->info.base_state_size ||
		 b->state_hash != vm->info.base_state_hash)
		seterr(err, "restore %s: its memory base %s is not the snapshot it was written over "
			    "(rebuilt since?)", snapdir, vm->info.mem_base);
	else
		rc = 0;
	free(b);
	return rc;
}

/* The base's memory as a sealed memfd: the caller's (mem_fd, engine.h), or a
 * copy made here (hearth-vm run by hand). */
static int sealed_base(struct vm *vm, int mem_fd, const char *snapdir, struct vm_err *err)
{
	char emsg[VM_ERR_LEN];
	if (mem_fd > 0) {
		if (ramfile_sealed(mem_fd, vm->info.mem_size, emsg, sizeof(emsg)) < 0) {
			seterr(err, "restore %s: %s", snapdir, emsg);
			return -1;
		}
		vm->ram_fd = fcntl(mem_fd, F_DUPFD_CLOEXEC, 3);
		if (vm->ram_fd < 0) {
			seterr(err, "restore: memory fd: %s", strerror(errno));
			return -1;
		}
	} else {
		int bf = open(vm->ram_path, O_RDONLY | O_CLOEXEC);
		if (bf < 0) {
			seterr(err, "restore %s: %s", vm->ram_path, strerror(errno));
			return -1;
		}
		vm->ram_fd = ramfile_seal(bf, vm->info.mem_size, "hearth-ram", emsg, sizeof(emsg));
		close(bf);
		if (vm->ram_fd < 0) {
			seterr(err, "restore %s: %s", snapdir, emsg);
			return -1;
		}
	}
	vm->ram_sealed = 1;
	return 0;
}

/* Load the device state QEMU holds as incoming_qfd (-incoming defer). */
static int load_state(struct vm *vm, int64_t dl, struct vm_err *err)
{
	char emsg[VM_ERR_LEN], uri[32];
	pathf(uri, sizeof(uri), "fd:%d", vm->incoming_qfd);
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "uri", json_object_new_string(uri));
	if (qmpc_cmd(&vm->qmp, "migrate-incoming", a, -1, dl, NULL, emsg, sizeof(emsg)) < 0) {
		vm_fail(vm, err, "restore: loading the device state", emsg);
		return -1;
	}
	return 0;
}

/* A delta against an image's memory, into the RAM of a QEMU that has loaded
 * nothing yet (devices read their rings from RAM as they load). */
static int delta_into_qemu(struct vm *vm, const char *snapdir, struct vm_err *err)
{
	char p[PATH_MAX], emsg[VM_ERR_LEN];
	pathf(p, sizeof(p), "%s/%s", snapdir, SNAP_DELTA);
	int d = open(p, O_RDONLY | O_CLOEXEC);
	int rc = d < 0 ? -1
		       : ramfile_apply_delta_pid(d, vm->proc.pid, vm->ram_fd, vm->info.mem_size,
						 emsg, sizeof(emsg));
	if (d < 0)
		pathf(emsg, sizeof(emsg), "%s", strerror(errno));
	else
		close(d);
	if (rc < 0)
		seterr(err, "restore %s: applying %s: %s", snapdir, SNAP_DELTA, emsg);
	return rc;
}

/*
 * Format 2: QEMU maps snapdir's memory file copy-on-write as the guest's RAM
 * (nothing is read now: pages fault in as the guest touches them), loads the
 * device state and runs.
 */
static int restore_mapped(struct vm *vm, const char *snapdir, int mem_fd, int64_t dl,
			  struct vm_err *err)
{
	char st[PATH_MAX], emsg[VM_ERR_LEN];
	/* A delta against an image's memory: the base is that snapshot's. */
	int over_image = vm->info.mem_base[0] != 0;
	pathf(vm->ram_path, sizeof(vm->ram_path), "%s/%s", over_image ? vm->info.mem_base : snapdir,
	      SNAP_MEMORY);
	if (mem_fd > 0 || over_image) {
		/* An image snapshot's memory, sealed (engine.h). */
		if (!over_image && vm->info.has_delta) {
			seterr(err, "restore %s: a memory fd was given for a snapshot with a delta",
			       snapdir);
			return -1;
		}
		if (over_image && same_base(vm, snapdir, err) < 0)
			return -1;
		if (sealed_base(vm, mem_fd, snapdir, err) < 0)
			return -1;
		/* Later suspends may write deltas against a base that outlives
		 * them: an image snapshot, never one a resume consumes. */
		if (over_image) {
			pathf(vm->ram_base, sizeof(vm->ram_base), "%s", vm->info.mem_base);
			vm->ram_base_state_size = vm->info.base_state_size;
			vm->ram_base_state_hash = vm->info.base_state_hash;
		} else if (!vm->info.consumable) {
			pathf(vm->ram_base, sizeof(vm->ram_base), "%s", snapdir);
			vm->ram_base_state_size = vm->info.state_size;
			vm->ram_base_state_hash = vm->info.state_hash;
		}
	} else if (vm->info.has_delta) {
		/* Idempotent: a restore that dies halfway is simply done again. */
		pathf(st, sizeof(st), "%s/%s", snapdir, SNAP_DELTA);
		int d = open(st, O_RDONLY | O_CLOEXEC);
		int mf = open(vm->ram_path, O_RDWR | O_CLOEXEC);
		int rc = d < 0 || mf < 0 ? -1 : 0;
		if (rc < 0)
			pathf(emsg, sizeof(emsg), "%s", strerror(errno));
		else
			rc = ramfile_apply_delta(d, mf, vm->info.mem_size, emsg, sizeof(emsg));
		if (d >= 0)
			close(d);
		if (mf >= 0)
			close(mf);
		if (rc < 0) {
			seterr(err, "restore %s: applying %s: %s", snapdir, SNAP_DELTA, emsg);
			return -1;
		}
	}
	vm->ram_consumable = vm->info.consumable && !vm->ram_sealed;
	if (!vm->ram_sealed)
		vm->ram_fd = open(vm->ram_path, O_RDONLY | O_CLOEXEC);
	if (vm->ram_fd < 0) {
		seterr(err, "restore %s: %s", vm->ram_path, strerror(errno));
		return -1;
	}
	pathf(st, sizeof(st), "%s/%s", snapdir, SNAP_STATE);
	int fd = open(st, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, "restore %s: %s", st, strerror(errno));
		return -1;
	}
	/* An incoming migration without a RAM section: only the devices load
	 * (QEMU 7.2's xen-load-devices-state would do the same but aborts on
	 * an unregistered yank instance). */
	vm->loading = 1;
	int rc = vm_start(vm, fd, dl, err);
	vm->loading = 0;
	close(fd);
	if (rc < 0 || (over_image && delta_into_qemu(vm, snapdir, err) < 0) ||
	    load_state(vm, dl, err) < 0 || (rc = wait_loaded(vm, dl, err)) < 0)
		return -1;
	return rc == 0 ? 0 : run_loaded(vm, dl, err);
}

static int qemu_restore(const struct vm_config *cfg, const char *snapdir, int deadline_ms,
			struct vm **out, struct vm_err *err)
{
	int64_t dl = clock_deadline(deadline_ms);
	char abs[PATH_MAX], emsg[VM_ERR_LEN], path[PATH_MAX];
	*out = NULL;
	if (abs_path(snapdir, abs, err, "snapshot") < 0)
		return -1;
	struct snap_manifest *m = malloc(sizeof(*m));
	if (!m) {
		seterr(err, "out of memory");
		return -1;
	}
	emsg[0] = 0;
	if (snapfile_read(abs, m, emsg, sizeof(emsg)) < 0) {
		seterr(err, "restore %s: %s", abs, emsg);
		free(m);
		return -1;
	}
	if (strcmp(m->engine, "qemu") != 0) {
		seterr(err, "restore %s: snapshot was made by engine \"%s\"", abs, m->engine);
		free(m);
		return -1;
	}
	if (snapfile_verify(abs, m, emsg, sizeof(emsg)) < 0) {
		seterr(err, "restore refused: %s", emsg);
		free(m);
		return -1;
	}
	struct vm *vm = vm_new(cfg, err);
	if (!vm) {
		free(m);
		return -1;
	}
	if (strcmp(m->accel, vm->info.accel) != 0) {
		seterr(err, "restore %s: snapshot was taken under %s, this host runs %s", abs, m->accel,
		       vm->info.accel);
		free(m);
		vm_free(vm);
		return -1;
	}
	/* A tap is per VM and made by the caller: both sides must agree on it. */
	if ((m->net == VM_NET_TAP) != (cfg->net == VM_NET_TAP)) {
		static const char *const nb[] = { "none", "user", "tap" };
		seterr(err, "restore %s: snapshot was taken with network backend %s, this VM has %s",
		       abs, nb[(unsigned)m->net % 3], nb[(unsigned)cfg->net % 3]);
		free(m);
		vm_free(vm);
		return -1;
	}
	vm->info = *m;
	free(m);
	if (vm->info.has_disk) {
		pathf(vm->info.disk_backing, sizeof(vm->info.disk_backing), "%s/%s", abs, SNAP_DISK);
		vm->info.disk_depth = vm->info.disk_depth ? vm->info.disk_depth + 1 : 0;
		if (qimg_create(vm, vm->info.disk_backing, "qcow2", 0, dl, err) < 0)
			goto fail;
	}
	if (vm->info.version == SNAP_VERSION) {
		if (restore_mapped(vm, abs, cfg->mem_fd, dl, err) < 0)
			goto fail;
		chain_trim(vm, dl);
		*out = vm;
		return 0;
	}
	pathf(path, sizeof(path), "%s/%s", abs, SNAP_MEMORY);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, "restore %s: %s", path, strerror(errno));
		goto fail;
	}
	int rc = vm_start(vm, fd, dl, err);
	close(fd);
	if (rc < 0 || wait_loaded_and_run(vm, dl, err) < 0)
		goto fail;
	chain_trim(vm, dl);
	*out = vm;
	return 0;
fail:
	vm_free(vm);
	return -1;
}

static int qemu_agent_fd(struct vm *vm)
{
	return vm->agent_fd;
}

static pid_t qemu_pid(struct vm *vm)
{
	return vm->proc.pid;
}

const struct vm_engine qemu_engine = {
	.name = "qemu",
	.boot = qemu_boot,
	.snapshot = qemu_snapshot,
	.suspend = qemu_suspend,
	.restore = qemu_restore,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.stop = qemu_stop,
	.agent_fd = qemu_agent_fd,
	.pid = qemu_pid,
};
