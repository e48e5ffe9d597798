/*
 * vmhost.h - the host names of the microVM endpoints (pure): a Host header
 * or a TLS SNI name "<microvm-id>.<domain>[:port]" to the VM id it names,
 * and the check of an operator's --endpoint-domain.
 *
 * Both inputs come from clients (Host before any token is checked, SNI
 * before the handshake ends): every byte is checked and bounded, and only
 * names that could be a hearth VM id come out.
 */
#ifndef HEARTH_VMHOST_H
#define HEARTH_VMHOST_H

#include <stddef.h>

#define VMHOST_DOMAIN_MAX 190 /* a domain leaves room for "<id>." within 253 */
#define VMHOST_ID_MAX 64      /* longest VM id label accepted (DNS label limit is 63) */

/*
 * The VM id that host names under domain: host is "<id>.<domain>", with
 * ":<port>" after it when with_port (a Host header; SNI carries no port),
 * compared without regard to case. id is one DNS label of [a-z0-9-]
 * (returned in lower case). 0 with id, -1 when host names no VM.
 */
int vmhost_parse(const char *host, size_t len, const char *domain, int with_port, char *id,
		 size_t idlen);

/* 1 when d is usable as the endpoint domain: dot-separated DNS labels of
 * [A-Za-z0-9-] (not starting or ending with '-'), at most VMHOST_DOMAIN_MAX. */
int vmhost_domain_valid(const char *d);

#endif
