/*
 * egress.h - each VM's network link and the egress policy enforced on it
 * outside the guest (man/hearthd.8 NETWORK).
 *
 * As root, a VM gets a network namespace "hearth-<vm id>" holding the tap its
 * QEMU uses (vnet_hdr, handed to QEMU as an fd) and one end of a veth pair
 * whose other end is in the uplink (the host, or the namespace named by
 * --egress-uplink). nftables rules in the VM's namespace apply the VM's
 * connector; the namespace masquerades what passes. Deleting the namespace
 * deletes its links and rules, so reclaiming a VM is one `ip netns del`, and
 * recovery deletes every "hearth-*" namespace no live VM owns.
 *
 * Interface with the DNS side (the resolver in hearthd): egress_policy_get()
 * tells it which names a VM may resolve; egress_allow_addrs() admits the
 * addresses an allowlisted name resolved to, for ttl_s seconds (nft set
 * elements with timeouts), before the answer is handed to the guest.
 */
#ifndef HEARTH_EGRESS_H
#define HEARTH_EGRESS_H

#include <stdint.h>
#include <sys/socket.h>

enum egress_kind {
	EGRESS_INTERNET = 0, /* TCP to public unicast, any port (the default) */
	EGRESS_NONE,         /* nothing */
	EGRESS_ALLOWLIST,    /* TCP to what the allowlist names (hosts via DNS, CIDRs) */
};

#define EGRESS_MAX_RULES 64
#define EGRESS_HOST_MAX 254
#define EGRESS_NAME_MAX 64

struct egress_host {
	char name[EGRESS_HOST_MAX]; /* lower case; "*.example.com" matches below example.com only */
};

struct egress_cidr {
	struct sockaddr_storage addr; /* AF_INET (IPv6 stays off) */
	unsigned prefix;
	uint16_t port; /* 0: any */
};

struct egress_policy {
	enum egress_kind kind;
	char name[EGRESS_NAME_MAX]; /* the allowlist's name ("" for the service's ones) */
	unsigned n_hosts, n_cidrs;
	struct egress_host hosts[EGRESS_MAX_RULES];
	struct egress_cidr cidrs[EGRESS_MAX_RULES];
};

struct egress; /* the daemon's egress state: one per hearthd */

/* Copy the policy the VM was run with into *out: 0, or -1 when the VM is
 * unknown (or has no link). A copy, made under the lock: the resolver asks
 * from the event loop while a lifecycle worker may take the VM down.
 * Thread-safe. */
int egress_policy_get(struct egress *eg, const char *vm_id, struct egress_policy *out);

/* Admit n addresses (AF_INET; others are ignored) for the VM for ttl_s
 * seconds (clamped to 5..3600): TCP to them, on any port, passes the VM's
 * rules while the element lives.
 * For EGRESS_INTERNET and EGRESS_NONE this is a no-op returning 0. Returns 0,
 * or -1 with errno set (ENOENT: no such VM). Thread-safe. */
int egress_allow_addrs(struct egress *eg, const char *vm_id, const struct sockaddr_storage *addrs,
		       unsigned n, unsigned ttl_s);

#endif
