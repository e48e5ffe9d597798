/*
 * hearthd.c - the hearth daemon's main: options, directories, the state
 * lock, the key, the store, and wiring the lifecycle, the API and the
 * ingress into one libwebsockets event loop. (File map: hearthd.h.)
 */
#include "session/hearthd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/api_run.h"
#include "protocol/vmhost.h"
#include "session/auth.h"
#include "session/dns.h"
#include "session/egress_int.h"
#include "session/httpd.h"
#include "session/identity.h"
#include "session/ingress.h"
#include "session/keeper.h"
#include "session/keyfile.h"
#include "session/lifecycle.h"
#include "session/loop.h"
#include "session/ops_image.h"
#include "session/sshd.h"
#include "session/statelock.h"
#include "session/store.h"
#include "session/webterm.h"

#define HEARTHD_VERSION "0.1"
#define HEARTHD_STOP_MS 60000 /* longest wait for VM operations on a graceful stop */

static struct hearthd hd;

/* ---- options ---- */

static int opt_str(struct hd_config *c, const char *v, size_t off, size_t size)
{
	if (strlen(v) >= size)
		return -1;
	memcpy((char *)c + off, v, strlen(v) + 1);
	return 0;
}

static int opt_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

enum opt_kind {
	OPT_STR, OPT_MIN_IDLE, OPT_TICK, OPT_SHELL_GRACE, OPT_MAX_VMS, OPT_MAX_MEMORY, OPT_VERBOSE,
	OPT_HELP, OPT_VERSION, OPT_NO_AWS_PROFILE, OPT_API_INSECURE, OPT_MAX_BUILDS,
	OPT_IDENTITY_TTL
};

static const struct option_def {
	const char *name;
	enum opt_kind kind;
	size_t off, size;
	const char *help;
} options[] = {
	{ "--api-listen", OPT_STR, offsetof(struct hd_config, api_listen),
	  sizeof(((struct hd_config *)0)->api_listen), "HOST:PORT  API address (127.0.0.1:7400)" },
	{ "--ingress-listen", OPT_STR, offsetof(struct hd_config, ingress_listen),
	  sizeof(((struct hd_config *)0)->ingress_listen),
	  "HOST:PORT  ingress (HTTPS endpoints) address (127.0.0.1:7443)" },
	{ "--ssh-listen", OPT_STR, offsetof(struct hd_config, ssh_listen),
	  sizeof(((struct hd_config *)0)->ssh_listen),
	  "HOST:PORT  SSH ingress address (127.0.0.1:7422; off: none)" },
	{ "--tls-cert", OPT_STR, offsetof(struct hd_config, tls_cert),
	  sizeof(((struct hd_config *)0)->tls_cert),
	  "FILE  ingress certificate, PEM (default: made in STATE/tls/)" },
	{ "--tls-key", OPT_STR, offsetof(struct hd_config, tls_key),
	  sizeof(((struct hd_config *)0)->tls_key), "FILE  the certificate's private key, PEM" },
	{ "--endpoint-domain", OPT_STR, offsetof(struct hd_config, endpoint_domain),
	  sizeof(((struct hd_config *)0)->endpoint_domain),
	  "DOMAIN  endpoints are https://<microvm-id>.DOMAIN:PORT (localhost)" },
	{ "--credentials", OPT_STR, offsetof(struct hd_config, credentials),
	  sizeof(((struct hd_config *)0)->credentials),
	  "FILE  API keys: every profile of this AWS credentials file (default: STATE/credentials)" },
	{ "--no-aws-profile", OPT_NO_AWS_PROFILE, 0, 0,
	  "do not write the key as profile hearth to ~/.aws/credentials and ~/.aws/config" },
	{ "--api-insecure", OPT_API_INSECURE, 0, 0,
	  "allow --api-listen on a non-loopback address (the API has no TLS)" },
	{ "--state-dir", OPT_STR, offsetof(struct hd_config, state_dir),
	  sizeof(((struct hd_config *)0)->state_dir),
	  "DIR  state: SQLite, key, VMs, snapshots ($HEARTH_HOME)" },
	{ "--cache-dir", OPT_STR, offsetof(struct hd_config, cache_dir),
	  sizeof(((struct hd_config *)0)->cache_dir), "DIR  shared cache ($HEARTH_CACHE)" },
	{ "--image-dir", OPT_STR, offsetof(struct hd_config, image_dir),
	  sizeof(((struct hd_config *)0)->image_dir),
	  "DIR  managed images, DIR/NAME/image.json ($HEARTH_IMAGES)" },
	{ "--webterm-dir", OPT_STR, offsetof(struct hd_config, webterm_dir),
	  sizeof(((struct hd_config *)0)->webterm_dir),
	  "DIR  web terminal files (BINDIR/../share/hearth/webterm)" },
	{ "--dns-upstream", OPT_STR, offsetof(struct hd_config, dns_upstream),
	  sizeof(((struct hd_config *)0)->dns_upstream),
	  "ADDR:PORT  where the guests' DNS queries go (the first nameserver of /etc/resolv.conf)" },
	{ "--engine", OPT_STR, offsetof(struct hd_config, engine),
	  sizeof(((struct hd_config *)0)->engine), "NAME  VM engine: qemu, or host (no VM: the agent as a host process, for development and benchmarks)" },
	{ "--egress-uplink", OPT_STR, offsetof(struct hd_config, egress_uplink),
	  sizeof(((struct hd_config *)0)->egress_uplink),
	  "NETNS  where VMs' egress leaves: host (default), a network namespace, or none (no NIC)" },
	{ "--max-vms", OPT_MAX_VMS, 0, 0,
	  "N  most microVMs running at once (host memory / 64 MiB, after the reserve)" },
	{ "--max-memory", OPT_MAX_MEMORY, 0, 0,
	  "SIZE  most guest memory at once, e.g. 8G (3/4 of the host's MemTotal)" },
	{ "--max-builds", OPT_MAX_BUILDS, 0, 0, "N  image builds at once; the rest wait (2)" },
	{ "--shell-grace", OPT_SHELL_GRACE, 0, 0,
	  "SECONDS  how long a hearth.v1 shell outlives its last viewer (300)" },
	{ "--test-min-idle", OPT_MIN_IDLE, 0, 0,
	  "SECONDS  TEST ONLY: lower the 60 s minimum of maxIdleDurationSeconds" },
	{ "--test-tick-ms", OPT_TICK, 0, 0, "MS  TEST ONLY: timer resolution (1000)" },
	{ "--test-identity-ttl", OPT_IDENTITY_TTL, 0, 0,
	  "SECONDS  TEST ONLY: identity tokens' lifetime (3600, at least 10)" },
	{ "-v", OPT_VERBOSE, 0, 0, "verbose libwebsockets logging" },
	{ "--help", OPT_HELP, 0, 0, "this text" },
	{ "--version", OPT_VERSION, 0, 0, "print the version" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hearthd [options]\n");
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		fprintf(f, "  %-18s %s\n", options[i].name, options[i].help);
}

static int parse_args(int argc, char **argv, struct hd_config *c)
{
	for (int i = 1; i < argc; i++) {
		const struct option_def *o = NULL;
		const char *val = NULL;
		for (size_t k = 0; k < sizeof options / sizeof options[0]; k++) {
			size_t n = strlen(options[k].name);
			if (strncmp(argv[i], options[k].name, n) == 0 &&
			    (argv[i][n] == '\0' || argv[i][n] == '=')) {
				o = &options[k];
				val = argv[i][n] == '=' ? argv[i] + n + 1 : NULL;
				break;
			}
		}
		if (!o) {
			fprintf(stderr, "hearthd: unknown option %s\n", argv[i]);
			return -1;
		}
		int takes = o->kind == OPT_STR || o->kind == OPT_MIN_IDLE || o->kind == OPT_TICK ||
			    o->kind == OPT_SHELL_GRACE || o->kind == OPT_MAX_VMS ||
			    o->kind == OPT_MAX_MEMORY || o->kind == OPT_MAX_BUILDS ||
			    o->kind == OPT_IDENTITY_TTL;
		if (takes && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "hearthd: %s needs a value\n", o->name);
				return -1;
			}
			val = argv[++i];
		}
		int64_t n;
		switch (o->kind) {
		case OPT_STR:
			if (opt_str(c, val, o->off, o->size) < 0) {
				fprintf(stderr, "hearthd: %s: value too long\n", o->name);
				return -1;
			}
			break;
		case OPT_MIN_IDLE:
			if (opt_int(val, 1, API_MIN_IDLE, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 1..%d\n", o->name, API_MIN_IDLE);
				return -1;
			}
			c->min_idle = n;
			break;
		case OPT_TICK:
			if (opt_int(val, 10, 10000, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 10..10000\n", o->name);
				return -1;
			}
			c->tick_ms = n;
			break;
		case OPT_SHELL_GRACE:
			if (opt_int(val, 0, 86400, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 0..86400\n", o->name);
				return -1;
			}
			c->shell_grace = n;
			break;
		case OPT_IDENTITY_TTL:
			if (opt_int(val, 10, 86400, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 10..86400\n", o->name);
				return -1;
			}
			c->identity_ttl = n;
			break;
		case OPT_MAX_VMS:
			if (opt_int(val, 1, 1000000, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 1..1000000\n", o->name);
				return -1;
			}
			c->capacity.max_vms = n;
			break;
		case OPT_MAX_BUILDS:
			if (opt_int(val, 1, 64, &n) < 0) {
				fprintf(stderr, "hearthd: %s: 1..64\n", o->name);
				return -1;
			}
			c->max_builds = (int)n;
			break;
		case OPT_MAX_MEMORY:
			if (capacity_parse_size(val, &c->capacity.max_memory) < 0) {
				fprintf(stderr, "hearthd: %s: a size such as 512M or 8G\n", o->name);
				return -1;
			}
			break;
		case OPT_VERBOSE:
			c->verbose = 1;
			break;
		case OPT_NO_AWS_PROFILE:
			c->no_aws_profile = 1;
			break;
		case OPT_API_INSECURE:
			c->api_insecure = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("hearthd %s\n", HEARTHD_VERSION);
			exit(0);
		}
	}
	return 0;
}

/* Fill directories not given on the command line from the environment. */
static void default_dirs(struct hd_config *c, const char *argv0)
{
	const char *home = getenv("HOME");
	int root = geteuid() == 0;
	if (!c->state_dir[0]) {
		const char *e = getenv("HEARTH_HOME");
		if (e && *e)
			snprintf(c->state_dir, sizeof c->state_dir, "%s", e);
		else if (root || !home)
			snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/hearth");
		else
			snprintf(c->state_dir, sizeof c->state_dir, "%s/.local/share/hearth", home);
	}
	if (!c->cache_dir[0]) {
		const char *e = getenv("HEARTH_CACHE");
		if (e && *e)
			snprintf(c->cache_dir, sizeof c->cache_dir, "%s", e);
		else if (root || !home)
			snprintf(c->cache_dir, sizeof c->cache_dir, "/var/cache/hearth");
		else
			snprintf(c->cache_dir, sizeof c->cache_dir, "%s/.cache/hearth", home);
	}
	if (!c->image_dir[0]) {
		const char *e = getenv("HEARTH_IMAGES");
		char exe[PATH_MAX], cand[PATH_MAX + 16];
		struct stat st;
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		(void)argv0;
		if (e && *e) {
			snprintf(c->image_dir, sizeof c->image_dir, "%s", e);
			return;
		}
		if (n > 0) {
			exe[n] = '\0';
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
			/* A build tree: build/bin/hearthd next to build/guest/. */
			snprintf(cand, sizeof cand, "%s/../guest", exe);
			if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode) &&
			    realpath(cand, c->image_dir))
				return;
		}
		if (strlen(c->cache_dir) + 8 > sizeof c->image_dir)
			return;
		memcpy(c->image_dir, c->cache_dir, strlen(c->cache_dir));
		memcpy(c->image_dir + strlen(c->cache_dir), "/images", 8);
	}
}

static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* 127.0.0.0/8, ::1 or localhost: the only places the plain-HTTP API listens
 * by default (signed requests still travel in the clear elsewhere). */
static int loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* ---- event loop ---- */

static void tick(void *ctx)
{
	lifecycle_tick(ctx);
}

static void on_signal(int sig)
{
	(void)sig;
	hd.stopping = 1;
	if (hd.lws)
		lws_cancel_service(hd.lws);
}

/* VMs get a NIC when hearthd is root and runs QEMU; an uplink asked for by
 * name must work, the default one is best effort (logged). */
static int egress_start(const struct hd_config *c, struct egress **out, char *err, size_t n)
{
	const char *up = c->egress_uplink;
	*out = NULL;
	if (!strcmp(up, "none") || strcmp(c->engine, "qemu"))
		return 0;
	int named = up[0] && strcmp(up, "host");
	*out = egress_create(c->state_dir, named ? up : NULL, err, n);
	if (*out || named)
		return *out ? 0 : -1;
	hd_log("VM egress disabled: %s", err);
	return 0;
}

int main(int argc, char **argv)
{
	char err[1024], host[128], path[PATH_MAX + 32];
	int port;
	struct hd_config *c = &hd.cfg;
	if (argc > 1 && strcmp(argv[1], "--keeper") == 0)
		return keeper_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--ssh-worker") == 0)
		return sshd_worker_main(argc, argv);
	ssize_t en = readlink("/proc/self/exe", hd.exe, sizeof hd.exe - 1);
	if (en <= 0) {
		fprintf(stderr, "hearthd: cannot find its own executable\n");
		return 1;
	}
	hd.exe[en] = '\0';
	snprintf(c->api_listen, sizeof c->api_listen, "127.0.0.1:7400");
	snprintf(c->ingress_listen, sizeof c->ingress_listen, "127.0.0.1:7443");
	snprintf(c->ssh_listen, sizeof c->ssh_listen, SSHD_DEFAULT_LISTEN);
	snprintf(c->engine, sizeof c->engine, "qemu");
	snprintf(c->endpoint_domain, sizeof c->endpoint_domain, "localhost");
	c->min_idle = API_MIN_IDLE;
	c->tick_ms = 1000;
	c->shell_grace = 300;
	c->max_builds = 2;
	c->identity_ttl = IDENTITY_TTL_S;
	const char *ti = getenv("HEARTH_TEST_MIN_IDLE");
	if (ti && *ti) {
		int64_t n;
		if (opt_int(ti, 1, API_MIN_IDLE, &n) == 0)
			c->min_idle = n;
	}
	if (parse_args(argc, argv, c) < 0) {
		usage(stderr);
		return 2;
	}
	if (!vmhost_domain_valid(c->endpoint_domain)) {
		fprintf(stderr, "hearthd: bad --endpoint-domain %s (want DNS labels, e.g. "
				"localhost or vms.example.com)\n", c->endpoint_domain);
		return 2;
	}
	default_dirs(c, argv[0]);
	if (!c->webterm_dir[0]) {
		/* Installed as BINDIR/hearthd with BINDIR/../share/hearth/webterm (the build tree too). */
		char *slash = strrchr(hd.exe, '/');
		int dl = slash ? (int)(slash - hd.exe) : 1;
		snprintf(c->webterm_dir, sizeof c->webterm_dir, "%.*s/../share/hearth/webterm", dl,
			 slash ? hd.exe : ".");
	}
	if (httpd_parse_listen(c->api_listen, host, sizeof host, &port) < 0) {
		fprintf(stderr, "hearthd: bad --api-listen %s\n", c->api_listen);
		return 2;
	}
	if (!loopback(host) && !c->api_insecure) {
		fprintf(stderr, "hearthd: refusing to serve the API on %s: it is plain HTTP, and a "
				"non-loopback address exposes it to the network (--api-insecure to do "
				"it anyway)\n", c->api_listen);
		return 2;
	}
	if (mkdirs(c->state_dir) < 0 || mkdirs(c->cache_dir) < 0) {
		fprintf(stderr, "hearthd: cannot create %s or %s: %s\n", c->state_dir, c->cache_dir,
			strerror(errno));
		return 1;
	}
	chmod(c->state_dir, 0700);
	/* Before the store or any VM: a second hearthd here must change nothing. */
	hd.lock_fd = statelock_acquire(c->state_dir, err, sizeof err);
	if (hd.lock_fd < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		return 1;
	}
	if (capacity_init(&c->capacity, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof path, "%s/token.key", c->state_dir);
	if (keyfile_load(path, hd.key, sizeof hd.key, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		return 1;
	}
	if (auth_open(c->state_dir, c->credentials[0] ? c->credentials : NULL, !c->no_aws_profile &&
		      !c->credentials[0], &hd.auth, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		return 1;
	}
	httpd_set_auth(auth_httpd_hook, hd.auth);
	snprintf(path, sizeof path, "%s/hearth.db", c->state_dir);
	if (store_open(path, &hd.store, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (egress_start(c, &hd.egress, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		store_close(hd.store);
		return 1;
	}
	lws_set_log_level(c->verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = host;
	info.user = &hd;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL) |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* the ingress vhost is TLS */
	httpd_vhost_info(&info); /* the API: raw sockets, our own HTTP core */
	/* lws reads each socket into this buffer: its 4 KiB default caps every
	 * RAW_RX (relay output, proxied bytes) at 4 KiB per event-loop turn. */
	info.pt_serv_buf_size = 64 * 1024;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	hd.lws = lws_create_context(&info);
	if (!hd.lws) {
		fprintf(stderr, "hearthd: cannot listen on %s\n", c->api_listen);
		store_close(hd.store);
		return 1;
	}
	hd.loop = loop_create(hd.lws, err, sizeof err);
	if (!hd.loop || lifecycle_create(&hd, &hd.lc, err, sizeof err) < 0 ||
	    lifecycle_watch(hd.lc, hd.loop, err, sizeof err) < 0) {
		fprintf(stderr, "hearthd: %s\n", err);
		lifecycle_destroy(hd.lc);
		lws_context_destroy(hd.lws);
		loop_destroy(hd.loop);
		store_close(hd.store);
		return 1;
	}
	lifecycle_recover(hd.lc);
	/* Builds a crash cut short end FAILED before any new one starts. */
	ops_image_recover(&hd);
	hd.builder = builder_create(&hd, c->max_builds, ops_image_build_done, err, sizeof err);
	if (!hd.builder)
		hd_log("image builds disabled: %s", err);
	/* The API stays useful without the ingress (e.g. its port is taken). */
	if (ingress_start(&hd, err, sizeof err) < 0)
		hd_log("ingress disabled: %s", err);
	else
		hd_log("ingress on https://%s", c->ingress_listen);
	/* Like the ingress: a taken port costs SSH, not the daemon. */
	if (sshd_start(&hd, err, sizeof err) < 0)
		hd_log("ssh ingress disabled: %s", err);
	else if (strcmp(c->ssh_listen, "off"))
		hd_log("ssh ingress on %s (host key %s)", c->ssh_listen, sshd_fingerprint());
	if (webterm_load(c->webterm_dir, err, sizeof err) < 0)
		hd_log("web terminal disabled: %s", err);
	if (dns_start(&hd, err, sizeof err) < 0)
		hd_log("guest DNS answers SERVFAIL: %s", err);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	loop_every(hd.loop, c->tick_ms, tick, hd.lc);
	hd_log("listening on http://%s (state %s, images %s; at most %lld VMs, %llu MiB)",
	       c->api_listen, c->state_dir, c->image_dir, (long long)c->capacity.max_vms,
	       (unsigned long long)(c->capacity.max_memory >> 20));
	while (!hd.stopping)
		if (lws_service(hd.lws, 0) < 0)
			break;
	loop_stop(hd.loop);
	dns_stop();
	/* Let jobs in flight finish (bounded); running VMs stay with their keepers. */
	hd_log("stopping (%d VM operations in flight)", lifecycle_busy(hd.lc));
	int64_t until = hd_now_ms() + HEARTHD_STOP_MS;
	while (lifecycle_busy(hd.lc) && hd_now_ms() < until)
		if (lws_service(hd.lws, 0) < 0)
			break;
	/* Builds in flight end (cancelled, reported FAILED) while the store is open. */
	if (hd.builder)
		builder_destroy(hd.builder);
	hd.builder = NULL;
	lifecycle_destroy(hd.lc);
	hd.lc = NULL;
	lws_context_destroy(hd.lws);
	loop_destroy(hd.loop);
	webterm_unload();
	store_close(hd.store);
	auth_close(hd.auth);
	egress_destroy(hd.egress);
	close(hd.lock_fd);
	return 0;
}
