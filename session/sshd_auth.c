/*
 * sshd_auth.c - SSH logins checked against shell tokens (PROTOCOL.md 6.3).
 */
#include "session/sshd.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/sshw.h"
#include "protocol/token.h"
#include "session/store.h"

int sshd_auth_check(struct hearthd *hd, const char *user, size_t ulen, const char *pass,
		    size_t plen, char *vm_id, size_t idlen)
{
	char id[TOKEN_MAX_ID + 1], tok[TOKEN_MAX_LEN + 1];
	struct token_claims cl;
	int ok = 0;
	if (sshw_split_login(user, ulen, pass, plen, id, sizeof id, tok, sizeof tok) == 0 &&
	    token_verify(hd->key, sizeof hd->key, tok, strlen(tok), (uint64_t)hd_now(), &cl) ==
		    TOKEN_OK &&
	    cl.kind == TOKEN_KIND_SHELL && strcmp(cl.vm_id, id) == 0) {
		/* The token must belong to the VM's current run (a new run kills old tokens). */
		struct store_vm *v = malloc(sizeof *v);
		ok = v && store_vm_get(hd->store, id, v) == 1 &&
		     (uint32_t)v->generation == cl.generation && strlen(id) < idlen;
		free(v);
	}
	explicit_bzero(tok, sizeof tok);
	if (!ok)
		return -1;
	memcpy(vm_id, id, strlen(id) + 1);
	return 0;
}
