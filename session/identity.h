/*
 * identity.h - a verifiable identity inside every VM: hearthd mints an ES256
 * JWT about a microVM (its id, image and version, run generation, tags,
 * issuer, audience, a short expiry) each time the VM becomes RUNNING (run
 * and resume), and writes it into the guest through the agent's FILES builtin
 * (PROTOCOL.md 1.3.1) as /run/hearth/identity.jwt, again before it expires
 * while the VM keeps running (identity_vm.c, from the lifecycle's tick).
 * Programs in the guest ask for a token with an audience of their choice
 * (hearth-identity) over the identity channel (PROTOCOL.md 1.11,
 * identity_vm.c). The verification keys are
 * public: a JWKS and an OpenID-style discovery document on the API listener
 * (GET, no signature needed). Keys live in <state>/identity/ (P-256, 0600);
 * every key there is listed in the JWKS, the newest signs, so a rotated-out
 * key stays verifiable while it is kept. Event-loop thread only.
 */
#ifndef HEARTH_IDENTITY_H
#define HEARTH_IDENTITY_H

#include <stddef.h>

#include <json-c/json.h>

#include "protocol/httpmsg.h"
#include "session/hearthd.h"
#include "session/store.h"

#define IDENTITY_TTL_S 3600          /* token lifetime (--test-identity-ttl) */
#define IDENTITY_AUDIENCE "hearth"   /* default "aud" */
#define IDENTITY_GUEST_DIR "/run"    /* the token lands in /run/hearth/identity.jwt */
#define IDENTITY_JWKS_PATH "/.well-known/jwks.json"
#define IDENTITY_DISCOVERY_PATH "/.well-known/openid-configuration"

/* A fresh token for vm (malloc'd), or NULL with err. */
char *identity_mint(struct hearthd *hd, const struct store_vm *vm, const char *audience,
		    char *err, size_t errlen);
/* The JWKS and discovery documents (new objects), or NULL when no key can be had. */
json_object *identity_jwks(struct hearthd *hd);
json_object *identity_discovery(struct hearthd *hd);
/* 1 for the two public GETs above (served without a signature). */
int identity_public(const struct httpmsg_request *rq);
/* The VM just became RUNNING: mint and deliver its token (logs failures). */
void identity_vm_running(struct hearthd *hd, const struct store_vm *vm);
/* The lifecycle's tick, for every RUNNING VM: keep its identity channel
 * open and its token file fresh (re-delivered at 2/3 of the lifetime). */
void identity_vm_tick(struct hearthd *hd, const struct store_vm *vm);

/* identity_vm.c, for identity.c: a delivery of vm's token file started
 * (ok 1) or failed (ok 0): when to deliver again. */
void identity_vm_delivered(struct hearthd *hd, const char *vm_id, int ok);

#endif
