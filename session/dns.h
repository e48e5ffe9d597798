/*
 * dns.h - the guest DNS on hearthd's side: one DNS channel (MUX_KIND_DNS,
 * PROTOCOL.md 1.10) per running VM, over its agent link. Queries from the
 * guest's stub are checked (dnsmsg), held to the VM's egress policy
 * (dns_policy.h), rate limited, resolved upstream (dns_resolve.h) and
 * answered on the channel; UDP answers are cut to 512 bytes with TC set.
 * DNS traffic never counts as activity for the idle policy.
 */
#ifndef HEARTH_DNS_H
#define HEARTH_DNS_H

#include <stddef.h>

#include "session/hearthd.h"

#define DNS_TIMEOUT_MS 5000    /* then SERVFAIL */
#define DNS_RATE_PER_S 50      /* queries per second per VM, sustained */
#define DNS_RATE_BURST 100     /* and in a burst */
#define DNS_INFLIGHT_MAX 32    /* queries of one VM being resolved */
#define DNS_RETRY_MS 30000     /* after the agent refused the channel */
#define DNS_OUT_MAX (256u * 1024) /* answers waiting for the agent's window */

/* After the event loop exists: the upstream is cfg.dns_upstream or
 * /etc/resolv.conf's first nameserver. 0, or -1 with err (DNS then
 * answers SERVFAIL to every query). */
int dns_start(struct hearthd *hd, char *err, size_t errlen);
/* The lifecycle tick, for every RUNNING VM: open its DNS channel if it has
 * none. egress_json is its egressNetworkConnectors. */
void dns_vm_running(struct hearthd *hd, const char *vm_id, const char *egress_json);
void dns_stop(void);

#endif
