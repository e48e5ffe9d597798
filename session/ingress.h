/*
 * ingress.h - the HTTPS front end of the microVM endpoints: a TLS
 * libwebsockets vhost (raw role: HTTP and WebSocket are spoken by
 * protocol/wsproto) on --ingress-listen in hearthd's event loop, routing
 * by Host "<microvm-id>.localhost[:port]".
 *
 * Today it serves the shell WebSocket's compatible core
 * (spec/shell-websocket.md): shell token in a subprotocol or X-aws-proxy-auth,
 * session_init, BINARY terminal bytes both ways, resize, close 1000
 * "shell exited". Each shell is a client of the VM's agent.sock (HELLO,
 * OPEN shell, DATA/WINDOW/RESIZE, EXIT/CLOSE); keystrokes honour the agent's
 * window and output is acknowledged to the agent only as it is written to
 * the client, so a slow client throttles its own shell only.
 */
#ifndef HEARTH_INGRESS_H
#define HEARTH_INGRESS_H

#include <stddef.h>

#include "session/hearthd.h"

#define INGRESS_WINDOW (256u * 1024)   /* output window granted to the agent per shell */
#define INGRESS_KEYS_MAX (256u * 1024) /* keystrokes waiting for the agent's window */
#define INGRESS_RESUME_MS 180000       /* longest wait for an auto-resumed VM */
#define INGRESS_OPEN_MS 30000          /* longest wait for the agent's HELLO and OPEN_OK */

/*
 * Add the ingress vhost to hd->lws: cert and key from --tls-cert/--tls-key,
 * else hearthd's own CA and certificate in <state>/tls/ (made on first
 * start). 0, or -1 with err (the API keeps working without the ingress).
 */
int ingress_start(struct hearthd *hd, char *err, size_t errlen);

#endif
