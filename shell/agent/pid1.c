/*
 * pid1.c - duties of the agent when it is the guest's init: the standard
 * mounts, stdio on the console, the loopback interface, and a clean power
 * off (everything killed and synced before the kernel is told).
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *src, *target, *type;
	unsigned long flags;
	const char *data;
	int optional; /* a kernel without this filesystem (ENODEV) is fine */
} pid1_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0 },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666", 0 },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0 },
	/* cgroup v2, as systemd would mount it; container runtimes look for it here. */
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate", 1 },
};

/* fds 0-2 must be open, or our own sockets would land there. */
static void pid1_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/console", O_RDWR | O_NOCTTY);

		if (n < 0)
			n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

static void pid1_loopback(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			log_msg("lo up: %s", strerror(errno));
	}
	close(s);
}

/* The host's egress link (session/egress.c), the same in every VM: each has
 * its own L2, so a snapshot's clones work at once, with no DHCP. The policy
 * is enforced on the host; nothing here is trusted. */
static void pid1_nic(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "eth0", 5);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { /* no NIC: nothing to do */
		close(s);
		return;
	}
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.2.15", &sin->sin_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		log_msg("eth0 address: %s", strerror(errno));
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		log_msg("eth0 netmask: %s", strerror(errno));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			log_msg("eth0 up: %s", strerror(errno));
	}
	struct rtentry rt;
	memset(&rt, 0, sizeof(rt));
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	sin = (struct sockaddr_in *)&rt.rt_gateway;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.2.2", &sin->sin_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		log_msg("default route: %s", strerror(errno));
	close(s);
}

void pid1_setup(void)
{
	pid1_stdio();
	for (size_t i = 0; i < sizeof(pid1_mounts) / sizeof(pid1_mounts[0]); i++) {
		mkdir(pid1_mounts[i].target, 0755);
		if (mount(pid1_mounts[i].src, pid1_mounts[i].target, pid1_mounts[i].type,
			  pid1_mounts[i].flags, pid1_mounts[i].data) < 0 &&
		    errno != EBUSY && !(errno == ENODEV && pid1_mounts[i].optional))
			log_msg("mount %s: %s", pid1_mounts[i].target, strerror(errno));
	}
	/* Old devtmpfs trees may lack the ptmx node; the devpts one works. */
	if (access("/dev/ptmx", F_OK) < 0)
		symlink("pts/ptmx", "/dev/ptmx");
	pid1_stdio();
	pid1_loopback();
	pid1_nic();
}

static void pid1_reap_for(int ms)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };

	for (int t = 0; t < ms; t += 20) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			return;
		nanosleep(&step, NULL);
	}
}

void pid1_poweroff(void)
{
	log_msg("powering off");
	kill(-1, SIGTERM);
	pid1_reap_for(2000);
	kill(-1, SIGKILL);
	pid1_reap_for(500);
	/* No read-only remount of /: in a container that superblock may be the
	 * host's. sync() is what makes the guest's disks consistent. */
	sync();
	/*
	 * Without ACPI (QEMU microvm, acpi=off) the kernel cannot power off and
	 * would only halt, leaving the VM running; a reset ends a QEMU started
	 * with -no-reboot instead.
	 */
	reboot(access("/sys/firmware/acpi", F_OK) == 0 ? RB_POWER_OFF : RB_AUTOBOOT);
	/* Only reached if not allowed (a container): leaving is all we can do. */
	log_msg("power off: %s", strerror(errno));
	_exit(0);
}
