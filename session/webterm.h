/*
 * webterm.h - the web terminal page (contrib/webterm) served by the ingress
 * for Hosts that name no VM (https://localhost:7443/).
 *
 * A fixed set of files is read once at start from --webterm-dir; a request
 * is answered by exact name from that set, so no path reaches the file
 * system. GET and HEAD only. The page itself talks to the shell WebSocket
 * of https://<id>.<domain>:<port>/ (PROTOCOL.md section 2).
 */
#ifndef HEARTH_WEBTERM_H
#define HEARTH_WEBTERM_H

#include <stddef.h>

#include "session/ingress_conn.h"

#define WEBTERM_FILE_MAX (4u * 1024 * 1024) /* largest file served */

/* Read the page's files from dir. 0, or -1 with err (nothing is served then). */
int webterm_load(const char *dir, char *err, size_t errlen);
void webterm_unload(void);
/* The ingress handler (ingress_handler_fn) of the web terminal. */
void webterm_handle(struct ingress_conn *c, const struct wsp_request *r, const char *head,
		    size_t headlen, const char *vm_id);

#endif
