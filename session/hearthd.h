/*
 * hearthd.h - the daemon's shared context (one per process, owned by the
 * event-loop thread).
 */
#ifndef HEARTH_HEARTHD_H
#define HEARTH_HEARTHD_H

#include <limits.h>
#include <stdint.h>

#define HD_KEY_LEN 32

struct lws_context;
struct store;
struct lifecycle;
struct catalog;
struct auth;

struct hd_config {
	char state_dir[PATH_MAX];
	char cache_dir[PATH_MAX];
	char image_dir[PATH_MAX]; /* managed images: <image_dir>/<name>/image.json */
	char api_listen[128];     /* host:port */
	char ingress_listen[128]; /* host:port of the ingress (endpoint URLs) */
	char ssh_listen[128];     /* host:port of the SSH ingress, or "off" */
	char tls_cert[PATH_MAX];  /* ingress certificate and key; empty: hearthd's own */
	char tls_key[PATH_MAX];
	char webterm_dir[PATH_MAX]; /* the web terminal's files (default ../share/hearth/webterm) */
	char engine[32];
	int64_t min_idle;      /* smallest maxIdleDurationSeconds accepted (60; tests lower it) */
	int64_t tick_ms;       /* idle/duration timer resolution */
	int64_t shell_grace;   /* seconds a hearth.v1 shell outlives its last viewer (300) */
	char credentials[PATH_MAX]; /* --credentials: the API's keys; empty: STATE/credentials */
	int no_aws_profile;         /* --no-aws-profile: leave ~/.aws alone */
	int api_insecure;           /* --api-insecure: allow a non-loopback API without TLS */
	int verbose;
};

struct hearthd {
	struct hd_config cfg;
	struct lws_context *lws;
	struct store *store;
	struct lifecycle *lc;
	struct catalog *catalog;
	struct auth *auth; /* the API's SigV4 keys */
	uint8_t key[HD_KEY_LEN];
	char exe[PATH_MAX]; /* this binary, started again as each VM's keeper */
	volatile int stopping;
};

/* Log to stderr with a timestamp (daemon messages only; never tokens). */
void hd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t hd_now(void); /* epoch seconds */
int64_t hd_now_ms(void); /* monotonic milliseconds */

#endif
