/*
 * egress.c - per-VM network namespaces, taps and nftables rules (egress.h).
 *
 * Links and rules are made with iproute2's `ip` and nftables' `nft` (Debian's
 * iproute2 and nftables packages): each VM's whole setup lives in its own
 * namespace, so one `ip netns del` reclaims it, whatever state a crash left.
 */
#include "session/egress_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"
#define EG_CMD_MS 10000
#define EG_SLOTS 16384 /* /30 transit links in 10.254.0.0/16 */

struct eg_vm {
	struct eg_vm *next;
	char id[EGRESS_ID_MAX];
	struct egress_policy pol;
	int slot; /* -1: no uplink (NO_EGRESS) */
};

struct egress {
	pthread_mutex_t mu;
	char uplink[EGRESS_NAME_MAX]; /* "": the host's own namespace */
	char prefix[32];              /* hearth-XXXXXXXX- */
	struct eg_vm *vms;
	unsigned char used[EG_SLOTS];
};

static void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* Run argv (PATH lookup) with `in` on stdin; 0 when it exits 0, else -1 with
 * the first line of what it printed. */
static int run(const char *in, char *err, size_t n, const char *const argv[])
{
	int ip[2], op[2];
	if (pipe2(ip, O_CLOEXEC) < 0)
		goto fail_errno;
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(ip[0]);
		close(ip[1]);
		goto fail_errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(ip[0]);
		close(ip[1]);
		close(op[0]);
		close(op[1]);
		goto fail_errno;
	}
	if (pid == 0) {
		dup2(ip[0], 0);
		dup2(op[1], 1);
		dup2(op[1], 2);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(ip[0]);
	close(op[1]);
	if (in) {
		size_t len = strlen(in), off = 0;
		while (off < len) {
			ssize_t w = write(ip[1], in + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	close(ip[1]);
	char out[512];
	size_t have = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { op[0], POLLIN, 0 };
		if (poll(&p, 1, 100) > 0) {
			char tmp[256];
			ssize_t r = read(op[0], tmp, sizeof tmp);
			if (r <= 0)
				break;
			size_t c = (size_t)r < sizeof out - 1 - have ? (size_t)r : sizeof out - 1 - have;
			memcpy(out + have, tmp, c);
			have += c;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > EG_CMD_MS) {
			kill(pid, SIGKILL);
			break;
		}
	}
	close(op[0]);
	out[have] = '\0';
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	seterr(err, n, "%s %s: %s", argv[0], argv[1] ? argv[1] : "",
	       out[0] ? out : WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "not found" : "failed");
	return -1;
fail_errno:
	seterr(err, n, "%s: %s", argv[0], strerror(errno));
	return -1;
}

#define RUN(in, ...) run(in, err, errlen, (const char *const[]){ __VA_ARGS__, NULL })

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void ns_name(const struct egress *eg, const char *id, char *out, size_t n)
{
	snprintf(out, n, "%s%s", eg->prefix, id);
}

/* The uplink end of the VM's veth: short (IFNAMSIZ), derived from the name. */
static void host_if(const struct egress *eg, const char *id, char *out, size_t n)
{
	char ns[300];
	ns_name(eg, id, ns, sizeof ns);
	snprintf(out, n, "hth%012llx", (unsigned long long)(fnv(ns) & 0xffffffffffffULL));
}

static void slot_addr(int slot, int host_end, char *out, size_t n)
{
	snprintf(out, n, "10.254.%d.%d", slot >> 6, (slot & 63) * 4 + (host_end ? 1 : 2));
}

/* `ip` arguments that name the uplink namespace ("-n NAME"), or none. */
static const char *up_ns_flag(const struct egress *eg)
{
	return eg->uplink[0] ? "-n" : "-d"; /* -d (details) is harmless */
}
static const char *up_ns_arg(const struct egress *eg)
{
	return eg->uplink[0] ? eg->uplink : "-d";
}

/* ---- rules ---- */

/* Never reachable from a VM, whatever its connector (loopback, RFC 1918,
 * CGNAT, link-local with the metadata address, multicast, reserved). */
static const char *const blocked4 =
	"0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, "
	"192.0.0.0/24, 192.168.0.0/16, 224.0.0.0/4, 240.0.0.0/4";

/* hearthd's host's own IPv4 addresses, as nft elements ("" when none):
 * refused to every VM even when the uplink is another namespace. */
static void host_addrs(char *out, size_t n)
{
	struct ifaddrs *ifs, *i;
	uint32_t seen[64];
	size_t o = 0, k = 0;
	out[0] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || o + 24 > n || k == 64)
			continue;
		struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		size_t j = 0;
		while (j < k && seen[j] != a.s_addr) /* no duplicates: nft refuses them */
			j++;
		if (j < k)
			continue;
		seen[k++] = a.s_addr;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, ip, sizeof ip);
		o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", ip);
	}
	freeifaddrs(ifs);
}

static int vm_rules(const struct egress_policy *p, char *out, size_t n)
{
	char allow[8192], host[2048], hostset[2200], hostrule[128];
	host_addrs(host, sizeof host);
	hostset[0] = hostrule[0] = '\0';
	if (host[0]) {
		snprintf(hostset, sizeof hostset,
			 "\tset host4 { type ipv4_addr; elements = { %s } }\n", host);
		snprintf(hostrule, sizeof hostrule,
			 "\t\tiifname \"tap0\" ip daddr @host4 reject with tcp reset\n");
	}
	size_t a = 0;
	allow[0] = '\0';
	if (p->kind == EGRESS_INTERNET) {
		a += (size_t)snprintf(allow + a, sizeof allow - a,
				      "\t\tiifname \"tap0\" ip daddr @blocked4 reject with tcp reset\n"
				      "\t\tiifname \"tap0\" accept\n");
	} else if (p->kind == EGRESS_ALLOWLIST) {
		/* CIDRs the operator named are allowed as named; addresses
		 * from DNS only when public. */
		for (unsigned i = 0; i < p->n_cidrs && a < sizeof allow - 200; i++) {
			const struct sockaddr_in *sin = (const void *)&p->cidrs[i].addr;
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
			if (p->cidrs[i].port)
				a += (size_t)snprintf(allow + a, sizeof allow - a,
						      "\t\tiifname \"tap0\" ip daddr %s/%u tcp dport %u accept\n",
						      ip, p->cidrs[i].prefix, p->cidrs[i].port);
			else
				a += (size_t)snprintf(allow + a, sizeof allow - a,
						      "\t\tiifname \"tap0\" ip daddr %s/%u accept\n", ip,
						      p->cidrs[i].prefix);
		}
		a += (size_t)snprintf(allow + a, sizeof allow - a,
				      "\t\tiifname \"tap0\" ip daddr @blocked4 reject with tcp reset\n"
				      "\t\tiifname \"tap0\" ip daddr @dns4 accept\n");
	}
	if (a >= sizeof allow)
		return -1;
	int w = snprintf(out, n,
		"table inet hearth {\n"
		"\tset blocked4 { type ipv4_addr; flags interval; elements = { %s } }\n"
		"\tset dns4 { type ipv4_addr; flags timeout; }\n"
		"%s"
		"\tchain input {\n"
		"\t\ttype filter hook input priority 0; policy accept;\n"
		/* the namespace itself (the gateway address) is never a destination */
		"\t\tiifname \"tap0\" meta l4proto tcp reject with tcp reset\n"
		"\t\tiifname \"tap0\" drop\n"
		"\t}\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority 0; policy drop;\n"
		"\t\tiifname \"up0\" oifname \"tap0\" ct state established,related accept\n"
		/* anti-spoofing: the guest's own MAC and address, IPv4 TCP only */
		"\t\tiifname \"tap0\" ether saddr != " EGRESS_GUEST_MAC " drop\n"
		"\t\tiifname \"tap0\" ip saddr != " EGRESS_GUEST_IP " drop\n"
		"\t\tiifname \"tap0\" meta nfproto != ipv4 drop\n"
		"\t\tiifname \"tap0\" meta l4proto != tcp drop\n"
		"\t\tiifname \"tap0\" oifname != \"up0\" reject with tcp reset\n"
		"\t\tiifname \"tap0\" ct state established accept\n"
		/* a connection from before a restore: reset, so the app reconnects */
		"\t\tiifname \"tap0\" tcp flags & (syn|ack|rst|fin) != syn reject with tcp reset\n"
		"%s%s"
		"\t\tiifname \"tap0\" reject with tcp reset\n"
		"\t}\n"
		"\tchain post {\n"
		"\t\ttype nat hook postrouting priority 100; policy accept;\n"
		"\t\toifname \"up0\" masquerade\n"
		"\t}\n"
		"}\n",
		blocked4, hostset, hostrule, allow);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The uplink's table: nothing from a VM reaches the uplink's own addresses
 * (the host: hearthd's API, ingress, every local service), nor another VM. */
static const char uplink_rules[] =
	"table ip hearth-up {\n"
	"\tchain input {\n"
	"\t\ttype filter hook input priority -10; policy accept;\n"
	"\t\tiifname \"hth*\" meta l4proto tcp reject with tcp reset\n"
	"\t\tiifname \"hth*\" drop\n"
	"\t}\n"
	"\tchain forward {\n"
	"\t\ttype filter hook forward priority -10; policy accept;\n"
	"\t\tiifname \"hth*\" oifname \"hth*\" drop\n"
	"\t}\n"
	"\tchain post {\n"
	"\t\ttype nat hook postrouting priority 100; policy accept;\n"
	"\t\tip saddr 10.254.0.0/16 oifname != \"hth*\" masquerade\n"
	"\t}\n"
	"}\n";

/* ---- namespaces ---- */

/* Run fn inside the named namespace on this thread, then come back. */
static int in_netns(const char *ns, int (*fn)(void *), void *arg, char *err, size_t errlen)
{
	char path[400];
	snprintf(path, sizeof path, NETNS_DIR "/%s", ns);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int tgt = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || tgt < 0 || setns(tgt, CLONE_NEWNET) < 0) {
		seterr(err, errlen, "netns %s: %s", ns, strerror(errno));
		if (self >= 0)
			close(self);
		if (tgt >= 0)
			close(tgt);
		return -1;
	}
	int rc = fn(arg);
	int e = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* this thread must not go on in a VM's namespace */
	close(self);
	close(tgt);
	if (rc < 0)
		seterr(err, errlen, "tap: %s", strerror(e));
	return rc;
}

static int open_tap(void *arg)
{
	int *out = arg;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "tap0", 5);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*out = fd;
	return 0;
}

static struct eg_vm *find(struct egress *eg, const char *id)
{
	for (struct eg_vm *v = eg->vms; v; v = v->next)
		if (!strcmp(v->id, id))
			return v;
	return NULL;
}

static void del_ns(struct egress *eg, const char *id)
{
	char ns[300], hif[32], err[256];
	size_t errlen = sizeof err;
	ns_name(eg, id, ns, sizeof ns);
	host_if(eg, id, hif, sizeof hif);
	/* The veth pair goes with the namespace; this is for a half-made one. */
	RUN(NULL, "ip", up_ns_flag(eg), up_ns_arg(eg), "link", "del", hif);
	RUN(NULL, "ip", "netns", "del", ns);
}

static int alloc_slot(struct egress *eg, const char *id)
{
	unsigned start = (unsigned)(fnv(id) % EG_SLOTS);
	for (unsigned i = 0; i < EG_SLOTS; i++) {
		unsigned s = (start + i) % EG_SLOTS;
		if (!eg->used[s]) {
			eg->used[s] = 1;
			return (int)s;
		}
	}
	return -1;
}

/* ---- interface ---- */

struct egress *egress_create(const char *state_dir, const char *uplink, char *err,
			     size_t errlen)
{
	if (geteuid() != 0) {
		seterr(err, errlen, "not root: VMs get no network device");
		return NULL;
	}
	if (uplink && (strlen(uplink) >= EGRESS_NAME_MAX || strchr(uplink, '/'))) {
		seterr(err, errlen, "--egress-uplink: bad namespace name");
		return NULL;
	}
	struct egress *eg = calloc(1, sizeof *eg);
	if (!eg) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&eg->mu, NULL);
	snprintf(eg->uplink, sizeof eg->uplink, "%s", uplink ? uplink : "");
	snprintf(eg->prefix, sizeof eg->prefix, EGRESS_NS_PREFIX "%08x-",
		 (unsigned)(fnv(state_dir) & 0xffffffffu));
	mkdir(NETNS_DIR, 0755);
	/* Forwarding and NAT in the uplink; the old table (a previous hearthd's)
	 * is replaced, not doubled. */
	char rules[sizeof uplink_rules + 64];
	snprintf(rules, sizeof rules, "table ip hearth-up\ndelete table ip hearth-up\n%s",
		 uplink_rules);
	int rc = eg->uplink[0]
			 ? RUN(rules, "ip", "netns", "exec", eg->uplink, "nft", "-f", "-")
			 : RUN(rules, "nft", "-f", "-");
	if (rc == 0)
		rc = eg->uplink[0] ? RUN(NULL, "ip", "netns", "exec", eg->uplink, "sysctl", "-qw",
					 "net.ipv4.ip_forward=1")
				   : RUN(NULL, "sysctl", "-qw", "net.ipv4.ip_forward=1");
	if (rc < 0) {
		pthread_mutex_destroy(&eg->mu);
		free(eg);
		return NULL;
	}
	return eg;
}

void egress_destroy(struct egress *eg)
{
	if (!eg)
		return;
	/* VMs outlive hearthd (keepers): their namespaces stay for the next one. */
	while (eg->vms) {
		struct eg_vm *v = eg->vms;
		eg->vms = v->next;
		free(v);
	}
	pthread_mutex_destroy(&eg->mu);
	free(eg);
}

int egress_vm_up(struct egress *eg, const char *id, const struct egress_policy *p, int *tap_fd,
		 char *err, size_t errlen)
{
	char ns[300], hif[32], haddr[32], vaddr[32], cidr[40];
	char rules[16384];
	*tap_fd = -1;
	if (strlen(id) >= EGRESS_ID_MAX || strchr(id, '/')) {
		seterr(err, errlen, "bad VM id for a namespace");
		return -1;
	}
	if (vm_rules(p, rules, sizeof rules) < 0) {
		seterr(err, errlen, "egress rules too long");
		return -1;
	}
	struct eg_vm *v = calloc(1, sizeof *v);
	if (!v) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	snprintf(v->id, sizeof v->id, "%s", id);
	v->pol = *p;
	v->slot = -1;
	pthread_mutex_lock(&eg->mu);
	struct eg_vm *old = find(eg, id);
	if (old) { /* a leftover of this VM's previous run: replaced */
		if (old->slot >= 0)
			eg->used[old->slot] = 0;
		struct eg_vm **pp = &eg->vms;
		while (*pp != old)
			pp = &(*pp)->next;
		*pp = old->next;
		free(old);
	}
	if (p->kind != EGRESS_NONE && (v->slot = alloc_slot(eg, id)) < 0) {
		pthread_mutex_unlock(&eg->mu);
		free(v);
		seterr(err, errlen, "no free transit link (%d VMs with egress)", EG_SLOTS);
		return -1;
	}
	v->next = eg->vms;
	eg->vms = v;
	pthread_mutex_unlock(&eg->mu);

	ns_name(eg, id, ns, sizeof ns);
	host_if(eg, id, hif, sizeof hif);
	del_ns(eg, id);
	if (RUN(NULL, "ip", "netns", "add", ns) < 0)
		goto fail;
	/* IPv6 stays off until it has the same policy. */
	if (RUN(NULL, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1") < 0 ||
	    RUN(rules, "ip", "netns", "exec", ns, "nft", "-f", "-") < 0 ||
	    RUN(NULL, "ip", "-n", ns, "link", "set", "lo", "up") < 0)
		goto fail;
	if (in_netns(ns, open_tap, tap_fd, err, errlen) < 0)
		goto fail;
	/* A fixed gateway MAC: a restored guest's neighbour entry stays right. */
	if (RUN(NULL, "ip", "-n", ns, "link", "set", "tap0", "address", EGRESS_GW_MAC, "up") < 0 ||
	    RUN(NULL, "ip", "-n", ns, "addr", "add", EGRESS_GW_IP "/24", "dev", "tap0") < 0)
		goto fail;
	if (v->slot >= 0) {
		char pidns[32];
		snprintf(pidns, sizeof pidns, "%d", (int)getpid());
		slot_addr(v->slot, 1, haddr, sizeof haddr);
		slot_addr(v->slot, 0, vaddr, sizeof vaddr);
		if (RUN(NULL, "ip", "-n", ns, "link", "add", "up0", "type", "veth", "peer", "name", hif,
			"netns", eg->uplink[0] ? eg->uplink : pidns) < 0)
			goto fail;
		snprintf(cidr, sizeof cidr, "%s/30", haddr);
		if (RUN(NULL, "ip", up_ns_flag(eg), up_ns_arg(eg), "addr", "add", cidr, "dev", hif) < 0 ||
		    RUN(NULL, "ip", up_ns_flag(eg), up_ns_arg(eg), "link", "set", hif, "up") < 0)
			goto fail;
		snprintf(cidr, sizeof cidr, "%s/30", vaddr);
		if (RUN(NULL, "ip", "-n", ns, "addr", "add", cidr, "dev", "up0") < 0 ||
		    RUN(NULL, "ip", "-n", ns, "link", "set", "up0", "up") < 0 ||
		    RUN(NULL, "ip", "-n", ns, "route", "add", "default", "via", haddr) < 0)
			goto fail;
	}
	return 0;
fail:
	if (*tap_fd >= 0)
		close(*tap_fd);
	*tap_fd = -1;
	egress_vm_down(eg, id);
	return -1;
}

void egress_vm_down(struct egress *eg, const char *id)
{
	if (!eg)
		return;
	pthread_mutex_lock(&eg->mu);
	for (struct eg_vm **pp = &eg->vms; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->id, id)) {
			struct eg_vm *v = *pp;
			*pp = v->next;
			if (v->slot >= 0)
				eg->used[v->slot] = 0;
			free(v);
			break;
		}
	}
	pthread_mutex_unlock(&eg->mu);
	del_ns(eg, id);
}

/* The transit slot of a namespace that outlived a hearthd restart. */
static int read_slot(const char *ns)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ip -n '%s' -o -4 addr show dev up0 2>/dev/null", ns);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[512];
	int slot = -1;
	while (fgets(line, sizeof line, f)) {
		char *p = strstr(line, "inet 10.254.");
		unsigned b, c;
		if (p && sscanf(p, "inet 10.254.%u.%u", &b, &c) == 2 && b < 256 && c < 256)
			slot = (int)(b * 64 + c / 4);
	}
	pclose(f);
	return slot >= 0 && slot < EG_SLOTS ? slot : -1;
}

int egress_vm_adopt(struct egress *eg, const char *id, const struct egress_policy *p)
{
	char ns[300];
	ns_name(eg, id, ns, sizeof ns);
	struct eg_vm *v = calloc(1, sizeof *v);
	if (!v)
		return -1;
	snprintf(v->id, sizeof v->id, "%s", id);
	v->pol = *p;
	v->slot = read_slot(ns);
	pthread_mutex_lock(&eg->mu);
	if (v->slot >= 0)
		eg->used[v->slot] = 1;
	v->next = eg->vms;
	eg->vms = v;
	pthread_mutex_unlock(&eg->mu);
	return 0;
}

void egress_sweep(struct egress *eg)
{
	DIR *d = opendir(NETNS_DIR);
	if (!d)
		return;
	char gone[64][EGRESS_ID_MAX];
	unsigned n = 0;
	struct dirent *e;
	pthread_mutex_lock(&eg->mu);
	while ((e = readdir(d)) && n < 64) {
		size_t pl = strlen(eg->prefix);
		if (strncmp(e->d_name, eg->prefix, pl) || strlen(e->d_name + pl) >= EGRESS_ID_MAX)
			continue;
		if (!find(eg, e->d_name + pl))
			snprintf(gone[n++], EGRESS_ID_MAX, "%s", e->d_name + pl);
	}
	pthread_mutex_unlock(&eg->mu);
	closedir(d);
	for (unsigned i = 0; i < n; i++)
		del_ns(eg, gone[i]);
	if (n == 64)
		egress_sweep(eg);
}

/* The VM's policy kind, read under the lock; -1 when the VM is unknown. */
static int kind_of(struct egress *eg, const char *vm_id)
{
	pthread_mutex_lock(&eg->mu);
	struct eg_vm *v = find(eg, vm_id);
	int kind = v ? (int)v->pol.kind : -1;
	pthread_mutex_unlock(&eg->mu);
	return kind;
}

int egress_policy_get(struct egress *eg, const char *vm_id, struct egress_policy *out)
{
	if (!eg)
		return -1;
	pthread_mutex_lock(&eg->mu);
	struct eg_vm *v = find(eg, vm_id);
	if (v)
		*out = v->pol;
	pthread_mutex_unlock(&eg->mu);
	return v ? 0 : -1;
}

int egress_allow_addrs(struct egress *eg, const char *vm_id, const struct sockaddr_storage *addrs,
		       unsigned n, unsigned ttl_s)
{
	int kind = kind_of(eg, vm_id);
	if (kind < 0) {
		errno = ENOENT;
		return -1;
	}
	if (kind != EGRESS_ALLOWLIST || n == 0)
		return 0;
	ttl_s = ttl_s < 5 ? 5 : ttl_s > 3600 ? 3600 : ttl_s;
	char cmd[8192], ns[300], err[256];
	size_t errlen = sizeof err, o = 0;
	o += (size_t)snprintf(cmd, sizeof cmd, "add element inet hearth dns4 { ");
	unsigned k = 0;
	for (unsigned i = 0; i < n && o < sizeof cmd - 64; i++) {
		if (addrs[i].ss_family != AF_INET)
			continue;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&addrs[i])->sin_addr, ip, sizeof ip);
		o += (size_t)snprintf(cmd + o, sizeof cmd - o, "%s%s timeout %us", k++ ? ", " : "", ip,
				      ttl_s);
	}
	if (!k)
		return 0;
	snprintf(cmd + o, sizeof cmd - o, " }\n");
	ns_name(eg, vm_id, ns, sizeof ns);
	if (RUN(cmd, "ip", "netns", "exec", ns, "nft", "-f", "-") < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}
