/*
 * tlscert.h - hearthd's own certificate authority and the ingress server
 * certificate (localhost, *.localhost, 127.0.0.1), made with libcrypto at
 * first start and kept in <state>/tls/ (keys mode 0600).
 */
#ifndef HEARTH_TLSCERT_H
#define HEARTH_TLSCERT_H

#include <limits.h>
#include <stddef.h>

#define TLSCERT_DAYS 825 /* server certificate lifetime */

struct tlscert_paths {
	char dir[PATH_MAX];
	char ca_cert[PATH_MAX + 16]; /* give this to clients to trust */
	char ca_key[PATH_MAX + 16];
	char cert[PATH_MAX + 16];
	char key[PATH_MAX + 16];
};

/*
 * Fill paths under state_dir and create the CA and server certificate when
 * they do not exist yet (existing files are kept). 0, or -1 with err.
 */
int tlscert_ensure(const char *state_dir, struct tlscert_paths *p, char *err, size_t errlen);

#endif
