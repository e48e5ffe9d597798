/*
 * connstore.h - hearth's allowlist connectors on disk: one file per
 * connector, <state>/connectors/<name>.json, holding its validated
 * CreateNetworkConnector body (re-validated when read).
 */
#ifndef HEARTH_CONNSTORE_H
#define HEARTH_CONNSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/api_connector.h"

#define CONNSTORE_ARN_KIND "allowlist/" /* the ARN ends in :allowlist/<name> */

/* 1 loaded, 0 no such connector, -1 unreadable or invalid. */
int connstore_load(const char *state_dir, const char *name, struct api_connector *out);
/* Write (atomically, durably) a new one; -1 with errno (EEXIST: taken). */
int connstore_create(const char *state_dir, const struct api_connector *c);
/* 0, or -1 with errno (ENOENT). */
int connstore_delete(const char *state_dir, const char *name);
/* Every connector, sorted by name; cb's nonzero return stops. -1 on error. */
int connstore_each(const char *state_dir, int (*cb)(const struct api_connector *c, void *ctx),
		   void *ctx);
/* The connector's ARN. */
void connstore_arn(const char *name, char *out, size_t n);

#endif
