/*
 * sshd.h - the SSH ingress (--ssh-listen, PROTOCOL.md section 6).
 *
 * hearthd accepts each TCP connection and hands it at once to a worker of
 * its own (`hearthd --ssh-worker`, sshd_worker.c: fork + exec, so none of
 * hearthd's memory, keys or store comes along; an unprivileged uid when
 * hearthd is root). The worker runs libssh and speaks protocol/sshw.h on a
 * socketpair; hearthd (sshd.c, on its event loop, never blocking on a
 * worker) checks logins against shell tokens (sshd_auth.c) and bridges each
 * SSH channel to an agent channel (agentlink.h).
 */
#ifndef HEARTH_SSHD_H
#define HEARTH_SSHD_H

#include <stddef.h>

#include "session/hearthd.h"

#define SSHD_DEFAULT_LISTEN "127.0.0.1:7422"
#define SSHD_MAX_CONNS 128   /* connections at once */
#define SSHD_MAX_UNAUTH 16   /* of which not yet authenticated */
#define SSHD_MAX_AUTH 6      /* login attempts per connection */
#define SSHD_MAX_CHANS 16    /* channels per connection */
#define SSHD_PREAUTH_S 30    /* key exchange and login must be done by then */
#define SSHD_IN_WINDOW (256u * 1024) /* client bytes hearthd buffers per channel */
#define SSHD_OUT_WINDOW (256u * 1024) /* output bytes a worker buffers per channel */
#define SSHD_SFTP_SERVER "/usr/lib/openssh/sftp-server"

/*
 * Listen on hd->cfg.ssh_listen ("off": nothing) with the host key of the
 * state directory. 0 (listening, or off), or -1 with err: hearthd goes on
 * without SSH.
 */
int sshd_start(struct hearthd *hd, char *err, size_t errlen);
/* The host key's "SHA256:..." fingerprint and "ssh-ed25519 AAAA..." public
 * key ("" when the SSH ingress is not running). */
const char *sshd_fingerprint(void);
const char *sshd_public_key(void);

/* `hearthd --ssh-worker`: fd 3 the client's TCP connection, fd 4 hearthd. */
int sshd_worker_main(int argc, char **argv);

/*
 * A login (sshw_split_login shapes) checked against a shell token of the VM
 * it names, for the VM's current run, unexpired. 0 with vm_id filled, or -1
 * for every kind of refusal alike. Never logs the user name or token.
 */
int sshd_auth_check(struct hearthd *hd, const char *user, size_t ulen, const char *pass,
		    size_t plen, char *vm_id, size_t idlen);

#endif
