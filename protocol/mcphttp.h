/*
 * mcphttp.h - the header checks of MCP's Streamable HTTP transport (`hearth
 * mcp --http`, shell/client/mcp_http.c). Pure: no I/O, no allocation; every
 * input is a NUL-terminated header value as protocol/httpsrv.c framed it.
 *  - Accept: which answer forms (JSON, an SSE stream) the client takes;
 *  - Authorization: the token of a "Bearer" credential;
 *  - Host and Origin: whether they name this machine's loopback (DNS
 *    rebinding: a web page's foreign origin, or a foreign name resolving to
 *    127.0.0.1, must not reach a loopback server);
 *  - Mcp-Session-Id and MCP-Protocol-Version syntax.
 */
#ifndef HEARTH_MCPHTTP_H
#define HEARTH_MCPHTTP_H

#include <stddef.h>

#define MCPHTTP_SESSION_MAX 128 /* Mcp-Session-Id bytes accepted */

enum { MCPHTTP_ACCEPT_JSON = 1, MCPHTTP_ACCEPT_SSE = 2 };

/* The forms an Accept value allows (a bitmask of MCPHTTP_ACCEPT_*); NULL
 * (no header) allows both. Media ranges with q=0 are refusals. */
unsigned mcphttp_accept(const char *v);

/* "Bearer TOKEN" (scheme case-insensitive, token68 syntax): 0 with the token
 * in *tok, *len (pointing into v); -1 otherwise. */
int mcphttp_bearer(const char *v, const char **tok, size_t *len);

/* 1 when a Host value (host[:port]) names loopback: localhost, 127.0.0.0/8
 * as four decimal parts, or [::1]. 0 otherwise, and for anything malformed. */
int mcphttp_host_loopback(const char *v);

/* 1 when an Origin value is http:// or https:// with a loopback host (as
 * above) and nothing after the authority; 0 otherwise ("null" included). */
int mcphttp_origin_loopback(const char *v);

/* 1 when a Content-Type value is application/json (parameters allowed). */
int mcphttp_is_json(const char *v);

/* 1 when v is a well-formed Mcp-Session-Id: 1..MCPHTTP_SESSION_MAX visible
 * ASCII bytes (0x21..0x7e), as the specification allows. */
int mcphttp_session_ok(const char *v);

#endif
