/*
 * dns_egress.c - dns_policy's allowlist functions on top of the egress
 * module (session/egress.h): a name an allowlist covers resolves, and the
 * addresses it resolved to are admitted into the VM's rules before the
 * answer reaches the guest.
 */
#include "session/dns_policy.h"

#include <netinet/in.h>
#include <string.h>

#include "session/egress.h"

int dns_policy_name_allowed(struct hearthd *hd, const char *vm_id, const char *name)
{
	struct egress_policy p; /* a copy: the VM may go down meanwhile */
	if (egress_policy_get(hd->egress, vm_id, &p) < 0 || p.kind != EGRESS_ALLOWLIST)
		return 0;
	for (unsigned i = 0; i < p.n_hosts; i++)
		if (dnsmsg_host_match(p.hosts[i].name, name))
			return 1;
	return 0;
}

int dns_policy_admit(struct hearthd *hd, const char *vm_id, const struct dnsmsg_addr *a,
		     unsigned n)
{
	struct sockaddr_storage ss[DNSMSG_MAX_ADDRS];
	unsigned k = 0, ttl = 3600;
	if (!hd->egress)
		return -1;
	/* IPv4 only: IPv6 out stays off, so AAAA answers admit nothing. */
	for (unsigned i = 0; i < n && k < DNSMSG_MAX_ADDRS; i++) {
		if (a[i].family != 4)
			continue;
		struct sockaddr_in *in = (struct sockaddr_in *)&ss[k++];
		memset(&ss[k - 1], 0, sizeof ss[0]);
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a[i].addr, 4);
		if (a[i].ttl < ttl)
			ttl = a[i].ttl;
	}
	if (!k)
		return 0;
	return egress_allow_addrs(hd->egress, vm_id, ss, k, ttl);
}
