/*
 * caps.c - the capabilities of what the agent starts (the image's app, shells,
 * exec channels); the agent itself keeps all of its own.
 *
 * The VM's kernel command line says which set: hearthd appends HEARTH_CAPS=all
 * for an image created with additionalOsCapabilities ["ALL"], HEARTH_CAPS=default
 * otherwise (session/catalog.c). The kernel hands an unknown NAME=value parameter
 * to init as an environment variable, so PID 1 reads it with getenv. Without the
 * variable (the agent run by hand or by tests on a host) nothing is changed; an
 * unknown value means the default set (fail closed).
 *
 * The default set is Docker's default for containers. With it, at boot, the
 * agent also turns off new user namespaces (Docker's default seccomp profile
 * refuses them without CAP_SYS_ADMIN; raising the limit again needs
 * CAP_SYS_RESOURCE) and makes /proc/sys, /sys and /sys/fs/cgroup read-only, as
 * Docker does for containers: root without capabilities may still write most
 * sysctls and sysfs files by file mode alone, and kernel.core_pattern or
 * kernel.modprobe would give back every capability.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static enum caps_mode caps_mode = CAPS_UNCHANGED;

/* Docker's default capability set (moby oci/caps/defaults.go). */
static const int caps_default_set[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
	CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
	CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

enum caps_mode caps_init(void)
{
	const char *v = getenv(CAPS_ENV);

	if (v == NULL)
		caps_mode = CAPS_UNCHANGED;
	else if (strcmp(v, "all") == 0)
		caps_mode = CAPS_ALL;
	else
		caps_mode = CAPS_DEFAULT;
	/* Children get a fresh environment (spawn.c); keep ours clean too. */
	unsetenv(CAPS_ENV);
	return caps_mode;
}

static int caps_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Read-only for the children: a bind of PATH onto itself unless it is already a
 * mount point (only /proc/sys is not), then a per-mount read-only remount. */
static const struct {
	const char *path;
	int bind;
} caps_ro_mounts[] = {
	{ "/proc/sys", 1 },
	{ "/sys", 0 },
	{ "/sys/fs/cgroup", 0 },
};

void caps_boot(void)
{
	const unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (caps_mode != CAPS_DEFAULT)
		return;
	/* Kernels without user namespaces have no such file: nothing to turn off. */
	if (caps_write("/proc/sys/user/max_user_namespaces", "0") < 0 && errno != ENOENT)
		log_msg("user namespaces off: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(caps_ro_mounts) / sizeof(caps_ro_mounts[0]); i++) {
		const char *p = caps_ro_mounts[i].path;

		if ((caps_ro_mounts[i].bind && mount(p, p, NULL, MS_BIND, NULL) < 0) ||
		    mount(NULL, p, NULL, ro, NULL) < 0) {
			/* A kernel without cgroups has nothing mounted there. */
			if (!(errno == EINVAL && strcmp(p, "/sys/fs/cgroup") == 0))
				log_msg("%s read-only: %s", p, strerror(errno));
		}
	}
}

static int caps_in_default(int c)
{
	for (size_t i = 0; i < sizeof(caps_default_set) / sizeof(caps_default_set[0]); i++)
		if (caps_default_set[i] == c)
			return 1;
	return 0;
}

int caps_child_restrict(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (caps_mode != CAPS_DEFAULT)
		return 0;
	/* The bounding set limits what any later execve (setuid root included) can get;
	 * the loop ends at the first number this kernel does not know (EINVAL). */
	for (int c = 0; c < 64; c++) {
		if (caps_in_default(c))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			return errno;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return errno;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return errno;
	for (int c = 0; c < 32 * _LINUX_CAPABILITY_U32S_3; c++) {
		if (caps_in_default(c))
			continue;
		data[c / 32].effective &= ~(1u << (c % 32));
		data[c / 32].permitted &= ~(1u << (c % 32));
		data[c / 32].inheritable &= ~(1u << (c % 32));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return errno;
	return 0;
}
