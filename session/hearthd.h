/*
 * hearthd.h - the daemon's shared context (one per process, owned by the
 * event-loop thread), and the map of hearthd's files. One file per concern:
 *   hearthd.c    main: options, wiring, the event loop's run and stop
 *   log.c        hd_log; clock.c hd_now, hd_now_ms
 *   statelock.c  the state directory's lock (one hearthd per directory)
 *   loop.c       hearthd's own vhost in the lws loop: watched fds, the tick
 *   store.c      SQLite: VM rows, tags, schema migrations
 *   lifecycle.c  the VM registry, lc_fire (state changes), API ops, timers
 *   vmstate.c    the VM state machine: states, events, the transition table
 *   vmjobs.c     worker side of run/suspend/resume/terminate (via keepers)
 *   workers.c    the worker pool and its completion queue (an eventfd)
 *   snapcache.c  build-once image snapshots
 *   recover.c    restart recovery: re-adopt keepers, keep suspended VMs
 *   capacity.c   the capacity budget (--max-vms, --max-memory, meminfo)
 *   keeper.c     the per-VM keeper process, and its identity (PID + start)
 *   fsutil.c     rm -rf, mkdir -p, durable renames
 *   egress.c     VMs' network namespaces, taps, veths and nftables policy
 *   egress_conn.c  egress connector ARNs to policies
 *   connstore.c  allowlist connectors on disk (ops_conn.c: their API)
 *   httpd.c routes.c ops*.c   the REST API
 *   ops_image_*.c store_image.c  built images: API, rows, build ends, recovery
 *   builder.c    image builds: the queue, the plan, stages in builder VMs
 *                (buildvm.c: a builder VM and its agent client with its DNS;
 *                buildstep.c: RUN/COPY/ADD/WORKDIR; buildcache.c: the step
 *                cache; buildlog.c: the build log; buildimage.c: the image)
 *   ingress.c shellws.c shellhub.c proxy.c agentlink.c execchan.c webterm.c
 *                the HTTPS ingress (shells, app proxy, web terminal)
 *   tlsfront.c   the ingress listener: ClientHello peek, hearthd's own TLS for
 *                ALPN h2 (h2srv.c), the rest to lws (ingress_front.h)
 *   tlscert.c certcache.c  hearthd's CA and default certificate; a leaf per VM name (SNI)
 *   dns.c        the guests' DNS: one DNS channel per running VM, policy, limits
 *   dns_resolve.c  its upstream queries (threads of its own, an eventfd)
 *   dns_policy.c   egress connector -> DNS policy (dns_egress.c once egress is in)
 *   identity.c   identity tokens (ES256 JWTs), their keys, the token file's delivery
 *   identity_vm.c  per running VM: the identity channel (guest requests), the refresh
 */
#ifndef HEARTH_HEARTHD_H
#define HEARTH_HEARTHD_H

#include <limits.h>
#include <stdint.h>

#include "session/capacity.h"

#define HD_KEY_LEN 32

struct lws_context;
struct store;
struct lifecycle;
struct catalog;
struct loop;
struct auth;
struct egress;
struct builder;

struct hd_config {
	char state_dir[PATH_MAX];
	char cache_dir[PATH_MAX];
	char image_dir[PATH_MAX]; /* managed images: <image_dir>/<name>/image.json */
	char api_listen[128];     /* host:port */
	char ingress_listen[128]; /* host:port of the ingress (endpoint URLs) */
	char ssh_listen[128];     /* host:port of the SSH ingress, or "off" */
	char tls_cert[PATH_MAX];  /* ingress certificate and key; empty: hearthd's own */
	char tls_key[PATH_MAX];
	char endpoint_domain[192]; /* endpoints are <id>.<this> (localhost); vmhost.h */
	char webterm_dir[PATH_MAX]; /* the web terminal's files (default ../share/hearth/webterm) */
	char engine[32];
	char dns_upstream[80];    /* --dns-upstream ADDR:PORT; empty: /etc/resolv.conf */
	int64_t min_idle;      /* smallest maxIdleDurationSeconds accepted (60; tests lower it) */
	int64_t tick_ms;       /* idle/duration timer resolution */
	int64_t shell_grace;   /* seconds a hearth.v1 shell outlives its last viewer (300) */
	int64_t identity_ttl;  /* identity tokens' lifetime, s (3600; tests lower it) */
	struct capacity_limits capacity; /* --max-vms, --max-memory */
	char credentials[PATH_MAX]; /* --credentials: the API's keys; empty: STATE/credentials */
	int no_aws_profile;         /* --no-aws-profile: leave ~/.aws alone */
	int api_insecure;           /* --api-insecure: allow a non-loopback API without TLS */
	char egress_uplink[64];     /* --egress-uplink: "host" (default), a netns, or "none" */
	int max_builds;             /* --max-builds: image builds at once (2) */
	int verbose;
};

struct hearthd {
	struct hd_config cfg;
	struct lws_context *lws;
	struct store *store;
	struct lifecycle *lc;
	struct catalog *catalog;
	struct loop *loop;
	int lock_fd; /* <state>/hearthd.lock, held (flock) for the daemon's life */
	struct auth *auth; /* the API's SigV4 keys */
	struct egress *egress; /* VMs' network links (NULL: VMs get no NIC) */
	struct builder *builder; /* image builds (builder.h); NULL until created */
	uint8_t key[HD_KEY_LEN];
	char exe[PATH_MAX]; /* this binary, started again as each VM's keeper */
	volatile int stopping;
};

/* log.c: log to stderr with a timestamp (daemon messages only; never tokens). */
void hd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t hd_now(void); /* clock.c: epoch seconds */
int64_t hd_now_ms(void); /* monotonic milliseconds */

#endif
