/*
 * dns_resolve.h - hearthd's side of the guest DNS: forward one raw DNS query
 * to the upstream server and hand back its answer. A few worker threads of
 * their own do the blocking socket work (UDP, then TCP when the answer is
 * truncated and the guest asked over TCP), each with the query's deadline,
 * so no lifecycle job waits behind DNS. Finished queries come back on the
 * event loop through an eventfd (loop_watch).
 */
#ifndef HEARTH_DNS_RESOLVE_H
#define HEARTH_DNS_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "protocol/dnsmsg.h"

#define DNS_RESOLVE_THREADS 4
#define DNS_RESOLVE_QUEUE 128 /* queries waiting or in flight, all VMs */
#define DNS_QUERY_MAX 4096    /* larger queries are refused (FORMERR) */

struct loop;

struct dns_job {
	struct dns_job *next;
	/* set by the caller */
	char vm_id[128];
	uint32_t qid;
	uint8_t tcp;          /* the guest asked over TCP */
	int64_t deadline_ms;  /* hd_now_ms() clock */
	struct dnsmsg_question q;
	uint16_t dns_id;
	size_t qlen;
	uint8_t query[DNS_QUERY_MAX];
	/* set by the resolver */
	size_t alen;          /* 0: no answer (time out, upstream error) */
	uint8_t answer[DNSMSG_MAX_LEN];
};

typedef void (*dns_resolve_done)(struct dns_job *j);

/* Parse "ADDR:PORT" ("[v6]:port" too) or, when spec is empty, take the first
 * nameserver of /etc/resolv.conf, port 53. 0 or -1 with err. */
int dns_resolve_upstream(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t errlen);
int dns_resolve_start(struct loop *l, const struct sockaddr_storage *up, socklen_t uplen,
		      dns_resolve_done done, char *err, size_t errlen);
/* Resolve j against up on the calling thread, blocking until the answer or
 * j->deadline_ms (j->alen 0: none). For a thread that serves a VM's DNS
 * channel itself (session/buildvm.c); no dns_resolve_start needed. */
void dns_resolve_now(const struct sockaddr_storage *up, socklen_t uplen, struct dns_job *j);
/* Queue j (ownership passes until done(j) runs on the loop); -1 when full. */
int dns_resolve_submit(struct dns_job *j);
void dns_resolve_stop(void);

#endif
