/*
 * dns_policy.h - what a VM's egress connector means for its DNS, behind an
 * interface of its own so the egress module (session/egress.h) can supply
 * the allowlist: INTERNET_EGRESS (in any partition: the default hearth
 * stores is arn:hearth:...:aws-network-connector:INTERNET_EGRESS; or an empty
 * list) resolves everything; NO_EGRESS answers REFUSED to every query; any other
 * connector is an allowlist: names it does not cover get NXDOMAIN, and the
 * addresses answered for names it covers are admitted for the VM.
 */
#ifndef HEARTH_DNS_POLICY_H
#define HEARTH_DNS_POLICY_H

#include "protocol/dnsmsg.h"
#include "session/hearthd.h"

enum dns_policy { DNS_POLICY_ALL, DNS_POLICY_NONE, DNS_POLICY_LIST };

/* From the VM's egressNetworkConnectors (the stored JSON array text).
 * Text that does not parse gets DNS_POLICY_NONE: failing closed. */
enum dns_policy dns_policy_of(const char *egress_json);
/* DNS_POLICY_LIST: may vm_id resolve name (lower case, dotted)? 1 or 0. */
int dns_policy_name_allowed(struct hearthd *hd, const char *vm_id, const char *name);
/* DNS_POLICY_LIST: admit the addresses an allowed name resolved to, before
 * the answer reaches the guest. 0, or -1 when they could not be admitted
 * (the guest then gets SERVFAIL rather than addresses it cannot reach). */
int dns_policy_admit(struct hearthd *hd, const char *vm_id, const struct dnsmsg_addr *a,
		     unsigned n);

#endif
