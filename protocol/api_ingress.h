/*
 * api_ingress.h - ingress network connector names (pure).
 *
 * The service's managed connectors are named
 * arn:<partition>:lambda:<region>:aws:network-connector:aws-network-connector:<NAME>;
 * hearth accepts that form under any partition and region, the bare <NAME>,
 * and its own older arn:<partition>:lambda:<region>:aws:network-connector:<NAME>.
 * Names: HTTP_INGRESS (the app endpoint), SHELL_INGRESS (the shell),
 * and hearth's ALL_INGRESS (both) and NO_INGRESS (neither). A list ORs them.
 */
#ifndef HEARTH_API_INGRESS_H
#define HEARTH_API_INGRESS_H

#include <stddef.h>

enum { API_INGRESS_SHELL = 1, API_INGRESS_HTTP = 2 };

/* hearth's own spelling of a managed connector (partition hearth, region local). */
#define API_INGRESS_ARN_PREFIX "arn:hearth:lambda:local:aws:network-connector:aws-network-connector:"

/* The API_INGRESS_* flags a connector grants, or -1 when it is not an ingress connector. */
int api_ingress_flags(const char *name);

/*
 * What is stored and reported for one given connector: a bare name becomes
 * API_INGRESS_ARN_PREFIX + name, an ARN stays as given. 0, or -1 when it does
 * not fit in cap.
 */
int api_ingress_canonical(const char *name, char *out, size_t cap);

#endif
