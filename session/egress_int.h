/*
 * egress_int.h - what hearthd's lifecycle uses of egress.c (egress.h is the
 * part the DNS side shares).
 */
#ifndef HEARTH_EGRESS_INT_H
#define HEARTH_EGRESS_INT_H

#include <stddef.h>

#include "session/egress.h"

/* A VM's namespace: "hearth-" + 8 hex digits naming the state directory
 * (two hearthds on one host never sweep each other's) + "-" + the VM id. */
#define EGRESS_NS_PREFIX "hearth-"
#define EGRESS_ID_MAX 160
/* Every VM's NIC looks the same from inside (each has its own L2). */
#define EGRESS_GUEST_IP "10.0.2.15"
#define EGRESS_GW_IP "10.0.2.2"
#define EGRESS_GUEST_MAC "52:54:00:68:74:01" /* set on QEMU's virtio-net device */
#define EGRESS_GW_MAC "02:68:74:68:00:01"

/* NULL (err says why) when hearthd is not root or the uplink cannot be set
 * up; uplink NULL: the host's own namespace, else a named namespace. */
struct egress *egress_create(const char *state_dir, const char *uplink, char *err,
			     size_t errlen);
void egress_destroy(struct egress *eg); /* leaves the VMs' namespaces */
/* Make the VM's namespace, tap, veth and rules (replacing any leftover);
 * *tap_fd is the tap for QEMU (the caller closes its copy). 0 or -1. */
int egress_vm_up(struct egress *eg, const char *id, const struct egress_policy *p, int *tap_fd,
		 char *err, size_t errlen);
/* Remove all of it (idempotent; eg NULL: nothing). */
void egress_vm_down(struct egress *eg, const char *id);
/* A VM still running after a hearthd restart keeps its namespace. */
int egress_vm_adopt(struct egress *eg, const char *id, const struct egress_policy *p);
/* Delete every hearth-* namespace no VM up or adopted owns. */
void egress_sweep(struct egress *eg);

/* The policy of a stored connector list (a JSON array of ARNs; allowlists
 * are read from state_dir, session/connstore.h). 0, or -1 for a connector
 * that is not an egress one hearth knows. */
int egress_policy_from_connectors(const char *state_dir, const char *json,
				  struct egress_policy *out, char *err, size_t errlen);
/* 1 when arn names an egress connector hearth knows (an allowlist: one that
 * exists in state_dir). */
int egress_connector_known(const char *state_dir, const char *arn);

#endif
