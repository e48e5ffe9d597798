/*
 * ops_vm.c - the microVM operations: RunMicrovm, GetMicrovm, ListMicrovms,
 * Suspend/Resume/TerminateMicrovm and the two token mints.
 *
 * Ingress connectors (protocol/api_ingress.h): HTTP_INGRESS (app endpoint),
 * SHELL_INGRESS (shell), hearth's ALL_INGRESS and NO_INGRESS. A VM run
 * without ingressNetworkConnectors gets HTTP_INGRESS, as in the service, and
 * SHELL_INGRESS too: hearth's endpoint is a loopback service of the
 * operator's own machine, a shell is the point, and hearth's default has
 * always included it (ALL_INGRESS). GetMicrovm lists both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "protocol/api_auth.h"
#include "protocol/api_ingress.h"
#include "protocol/api_ident.h"
#include "protocol/api_page.h"
#include "protocol/api_run.h"
#include "protocol/token.h"
#include "session/catalog.h"
#include "session/lifecycle.h"
#include "session/ops.h"
#include "session/httpd.h"
#include "session/egress_int.h"
#include "session/routes.h"
#include "session/shellhub.h"
#include "session/store.h"
#include "session/vmstate.h"

#define PAGE_LIST_MICROVMS 1

int ops_vm_ingress_flags(const struct store_vm *v)
{
	struct json_object *a = json_tokener_parse(v->ingress);
	int flags = 0;
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		int k = api_ingress_flags(json_object_get_string(json_object_array_get_idx(a, i)));
		if (k >= 0)
			flags |= k;
	}
	json_object_put(a);
	return flags;
}

static struct json_object *str_array(const char *json)
{
	struct json_object *a = json_tokener_parse(json);
	if (!a || !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		a = json_object_new_array();
	}
	return a;
}

/* Resident memory of a running VM's engine process (QEMU, not its keeper):
 * VmRSS of /proc/PID/status, or -1. */
static int64_t engine_rss(int64_t pid)
{
	char p[64], line[256];
	long long kib = -1;
	if (pid <= 0)
		return -1;
	snprintf(p, sizeof p, "/proc/%lld/status", (long long)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib >= 0 ? kib * 1024 : -1;
}

/*
 * hearth's own fields, kept in one "hearth" member outside the AWS shape
 * (SDKs ignore members they do not know): what `hearth top` shows.
 * lastActivityAt is written to the store every few seconds, not per packet.
 */
static struct json_object *hearth_fields(const struct store_vm *v)
{
	struct json_object *h = json_object_new_object();
	json_object_object_add(h, "lastActivityAt", json_object_new_int64(v->last_activity));
	if (vmstate_parse(v->state) == VS_SUSPENDED && v->suspended_at)
		json_object_object_add(h, "suspendedAt", json_object_new_int64(v->suspended_at));
	int64_t rss = vmstate_parse(v->state) == VS_RUNNING ? engine_rss(v->engine_pid) : -1;
	if (rss >= 0)
		json_object_object_add(h, "memoryBytes", json_object_new_int64(rss));
	json_object_object_add(h, "shells", json_object_new_int64(shellhub_count(v->id)));
	return h;
}

struct json_object *ops_vm_json(struct hearthd *hd, const struct store_vm *v)
{
	/* The lifecycle's copy is the fresher one (a state write may be pending). */
	const struct store_vm *live = hd->lc ? lifecycle_row(hd->lc, v->id) : NULL;
	if (live)
		v = live;
	struct json_object *o = json_object_new_object();
	char arn[512], endpoint[320], host[128];
	int port = 7443;
	json_object_object_add(o, "microvmId", json_object_new_string(v->id));
	json_object_object_add(o, "state", json_object_new_string(v->state));
	if (httpd_parse_listen(hd->cfg.ingress_listen, host, sizeof host, &port) < 0)
		port = 7443;
	snprintf(endpoint, sizeof endpoint, "https://%s.%s:%d", v->id, hd->cfg.endpoint_domain,
		 port);
	json_object_object_add(o, "endpoint", json_object_new_string(endpoint));
	api_ident_image_arn(v->image, v->image_managed, arn, sizeof arn);
	json_object_object_add(o, "imageArn", json_object_new_string(arn));
	json_object_object_add(o, "imageVersion", json_object_new_string(v->image_version));
	if (v->exec_role[0])
		json_object_object_add(o, "executionRoleArn", json_object_new_string(v->exec_role));
	if (v->has_idle) {
		struct json_object *ip = json_object_new_object();
		json_object_object_add(ip, "maxIdleDurationSeconds",
				       json_object_new_int64(v->max_idle));
		json_object_object_add(ip, "suspendedDurationSeconds",
				       json_object_new_int64(v->suspended_for));
		json_object_object_add(ip, "autoResumeEnabled",
				       json_object_new_boolean(v->auto_resume));
		json_object_object_add(o, "idlePolicy", ip);
	}
	json_object_object_add(o, "maximumDurationInSeconds",
			       json_object_new_int64(v->max_duration));
	json_object_object_add(o, "startedAt", json_object_new_int64(v->started_at));
	if (v->terminated_at)
		json_object_object_add(o, "terminatedAt", json_object_new_int64(v->terminated_at));
	if (v->reason[0])
		json_object_object_add(o, "stateReason", json_object_new_string(v->reason));
	json_object_object_add(o, "ingressNetworkConnectors", str_array(v->ingress));
	json_object_object_add(o, "egressNetworkConnectors", str_array(v->egress));
	json_object_object_add(o, "hearth", hearth_fields(v));
	return o;
}


/* Hex of nbytes random bytes; -1 when the kernel gives no randomness. */
static int random_hex(char *out, size_t nbytes)
{
	uint8_t b[32];
	if (nbytes > sizeof b)
		nbytes = sizeof b;
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	return 0;
}

/* Look up a VM by id or ARN: 1 found, -1 with e set. */
int ops_vm_lookup(struct hearthd *hd, const char *ident, struct store_vm *v, struct api_err *e)
{
	struct api_ident id;
	if (api_ident_microvm(ident, &id, e) < 0)
		return -1;
	int rc = store_vm_get(hd->store, id.name, v);
	if (rc < 0)
		return api_fail(e, API_E_INTERNAL, "state store error");
	if (rc == 0)
		return api_fail(e, API_E_NOTFOUND, "microVM %s not found", id.name);
	return 1;
}

static int connectors_json(const char *const *list, unsigned n, const char *dflt, char *out,
			   size_t cap, struct api_err *e)
{
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(list[i]));
	if (n == 0 && dflt)
		json_object_array_add(a, json_object_new_string(dflt));
	const char *s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = 0;
	if (strlen(s) >= cap)
		rc = api_fail(e, API_E_VALIDATION, "network connector list is too long");
	else
		snprintf(out, cap, "%s", s);
	json_object_put(a);
	return rc;
}

/* The ingress connectors applied (api_ingress.h), bare names as ARNs. */
static int ingress_json(const char *const *list, unsigned n, char *out, size_t cap,
			struct api_err *e)
{
	static const char *const dflt[] = { API_INGRESS_ARN_PREFIX "HTTP_INGRESS",
					    API_INGRESS_ARN_PREFIX "SHELL_INGRESS" };
	char arns[API_MAX_CONNECTORS][API_MAX_ARN + 80];
	const char *given[API_MAX_CONNECTORS];
	if (n == 0)
		return connectors_json(dflt, 2, NULL, out, cap, e);
	for (unsigned i = 0; i < n && i < API_MAX_CONNECTORS; i++) {
		if (api_ingress_canonical(list[i], arns[i], sizeof arns[i]) < 0)
			return api_fail(e, API_E_VALIDATION, "network connector name is too long");
		given[i] = arns[i];
	}
	return connectors_json(given, n, NULL, out, cap, e);
}

/* The version of built image `image` a run gets: the given one (it must have
 * built), else the latest ACTIVE one that built. 0, or -1 with e. */
static int built_version(struct hearthd *hd, const char *image, const char *given, char *out,
			 size_t n, struct api_err *e)
{
	struct store_version *v = malloc(sizeof *v);
	struct store_image im;
	int rc = -1, f;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (store_image_get(hd->store, image, &im) == 1 && strcmp(im.state, "DELETING") == 0) {
		api_fail(e, API_E_CONFLICT, "image %s is being deleted", image);
		goto out;
	}
	if (given)
		f = store_version_get(hd->store, image, given, v);
	else
		f = store_version_latest(hd->store, image, "SUCCESSFUL", 1, v);
	if (f < 0) {
		api_fail(e, API_E_INTERNAL, "state store error");
	} else if (f == 0 && given) {
		api_fail(e, API_E_NOTFOUND, "image %s has no version %s", image, given);
	} else if (f == 0) {
		api_fail(e, API_E_VALIDATION,
			 "image %s has no ACTIVE version that built successfully (image state %s)",
			 image, im.state);
	} else if (strcmp(v->state, "SUCCESSFUL") != 0) {
		api_fail(e, API_E_VALIDATION, "version %s of image %s is %s, not SUCCESSFUL",
			 v->version, image, v->state);
	} else {
		snprintf(out, n, "%s", v->version);
		rc = 0;
	}
out:
	free(v);
	return rc;
}

static int run_body(struct route_call *c, struct json_object *body, struct json_object **out,
		    struct api_err *e)
{
	struct hearthd *hd = c->hd;
	struct api_run_req r;
	char image[129], version[65] = "";
	int managed = 1;
	struct catalog_entry ce;
	struct store_vm *v = calloc(1, sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (api_run_parse(body, hd->cfg.min_idle, &r, e) < 0 ||
	    ops_resolve_any(hd, r.image, image, sizeof image, &managed, e) < 0)
		goto out;
	if (r.image_version && api_ident_version(r.image_version, e) < 0)
		goto out;
	if (r.n_egress > 1) {
		api_fail(e, API_E_VALIDATION, "at most one egress network connector");
		goto out;
	}
	for (unsigned i = 0; i < r.n_egress; i++)
		if (!egress_connector_known(hd->cfg.state_dir, r.egress[i])) {
			api_fail(e, API_E_VALIDATION,
				 "unknown egress network connector (hearth knows *:INTERNET_EGRESS, "
				 "*:NO_EGRESS and its allowlists, *:allowlist/NAME)");
			goto out;
		}
	/* Asked for by name, internet egress is never silently missing. */
	if (r.n_egress && !hd->egress && strstr(r.egress[0], ":INTERNET_EGRESS")) {
		api_fail(e, API_E_VALIDATION, "INTERNET_EGRESS is not available: this hearthd "
					      "gives VMs no network (not root, or --egress-uplink none)");
		goto out;
	}
	if (r.client_token) {
		int f = store_vm_by_client_token(hd->store, r.client_token, v);
		char fp[17];
		snprintf(fp, sizeof fp, "%016llx", (unsigned long long)api_run_fingerprint(&r));
		if (f < 0) {
			api_fail(e, API_E_INTERNAL, "state store error");
			goto out;
		}
		if (f == 1) {
			if (strcmp(fp, v->fingerprint) != 0) {
				api_fail(e, API_E_CONFLICT,
					 "clientToken was already used with different parameters");
				goto out;
			}
			*out = ops_vm_json(hd, v);
			rc = 200;
			goto out;
		}
	}
	if (!managed && built_version(hd, image, r.image_version, version, sizeof version, e) < 0)
		goto out;
	int lr = catalog_load_vm(hd, image, managed, version, &ce, e);
	if (lr < 0)
		goto out;
	if (lr == 0 && !managed) {
		api_fail(e, API_E_INTERNAL, "version %s of image %s has no files on this host",
			 version, image);
		goto out;
	}
	if (lr == 0) {
		api_fail(e, API_E_NOTFOUND, "managed image %s is not built on this host", image);
		goto out;
	}
	if (managed && r.image_version && strcmp(r.image_version, ce.img.version) != 0) {
		api_fail(e, API_E_NOTFOUND, "image %s has no version %s", image, r.image_version);
		goto out;
	}
	/* Refused beyond the host's capacity before anything is stored or started. */
	if (lifecycle_admit(hd->lc, ce.img.mem_mib, e) < 0)
		goto out;
	memset(v, 0, sizeof *v);
	memcpy(v->id, "mvm-", 4);
	if (random_hex(v->id + 4, 8) < 0) {
		api_fail(e, API_E_INTERNAL, "no randomness for a microVM id");
		goto out;
	}
	snprintf(v->state, sizeof v->state, "%s", vmstate_name(VS_PENDING));
	snprintf(v->image, sizeof v->image, "%s", image);
	v->image_managed = managed;
	snprintf(v->image_version, sizeof v->image_version, "%s", ce.img.version);
	if (r.execution_role)
		snprintf(v->exec_role, sizeof v->exec_role, "%s", r.execution_role);
	v->has_idle = r.has_idle;
	v->max_idle = r.max_idle;
	v->suspended_for = r.suspended;
	v->auto_resume = r.auto_resume;
	v->max_duration = r.max_duration;
	v->started_at = v->last_activity = hd_now();
	v->generation = 1;
	if (r.client_token)
		snprintf(v->client_token, sizeof v->client_token, "%s", r.client_token);
	snprintf(v->fingerprint, sizeof v->fingerprint, "%016llx",
		 (unsigned long long)api_run_fingerprint(&r));
	if (ingress_json(r.ingress, r.n_ingress, v->ingress, sizeof v->ingress, e) < 0 ||
	    connectors_json(r.egress, r.n_egress, hd->egress ? API_INGRESS_ARN_PREFIX "INTERNET_EGRESS" : NULL,
			    v->egress, sizeof v->egress, e) < 0)
		goto out;
	if (store_vm_insert(hd->store, v, r.hook_payload, r.hook_payload_len) < 0) {
		api_fail(e, API_E_INTERNAL, "state store error: %s", store_errmsg(hd->store));
		goto out;
	}
	if (lifecycle_run(hd->lc, v, e) < 0)
		goto out;
	*out = ops_vm_json(hd, v);
	rc = 200;
out:
	free(v);
	return rc;
}

int ops_vm_run(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	int rc = run_body(c, body, out, e);
	json_object_put(body);
	return rc;
}

int ops_vm_get(struct route_call *c, struct json_object **out, struct api_err *e)
{
	struct store_vm *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_vm_lookup(c->hd, c->params[0], v, e) == 1) {
		*out = ops_vm_json(c->hd, v);
		rc = 200;
	}
	free(v);
	return rc;
}

struct list_ctx {
	struct json_object *items;
	int64_t last;
	struct lifecycle *life;
};

static int list_item(const struct store_vm *v, void *p)
{
	struct list_ctx *lc = p;
	int64_t seq = v->seq;
	const struct store_vm *live = lc->life ? lifecycle_row(lc->life, v->id) : NULL;
	if (live)
		v = live; /* fresher state and activity */
	struct json_object *o = json_object_new_object();
	char arn[512];
	json_object_object_add(o, "microvmId", json_object_new_string(v->id));
	json_object_object_add(o, "state", json_object_new_string(v->state));
	api_ident_image_arn(v->image, v->image_managed, arn, sizeof arn);
	json_object_object_add(o, "imageArn", json_object_new_string(arn));
	json_object_object_add(o, "imageVersion", json_object_new_string(v->image_version));
	json_object_object_add(o, "startedAt", json_object_new_int64(v->started_at));
	json_object_object_add(o, "hearth", hearth_fields(v));
	json_object_array_add(lc->items, o);
	lc->last = seq;
	return 0;
}



int ops_vm_list(struct route_call *c, struct json_object **out, struct api_err *e)
{
	const char *img = routes_query(c, "imageIdentifier"), *ver = routes_query(c, "imageVersion");
	char image[129];
	int max, more = 0;
	struct api_page pg;
	int managed;
	if (img && ops_resolve_any(c->hd, img, image, sizeof image, &managed, e) < 0)
		return -1;
	if (ver && api_ident_version(ver, e) < 0)
		return -1;
	const char *filters[] = { img ? image : NULL, ver };
	uint64_t fh = api_page_filter_hash(filters, 2);
	if (ops_paging(c, PAGE_LIST_MICROVMS, fh, &max, &pg, e) < 0)
		return -1;
	struct list_ctx lc = { json_object_new_array(), 0, c->hd->lc };
	int n = store_vm_list(c->hd->store, (int64_t)pg.after, filters[0], ver, max, list_item,
			      &lc, &more);
	if (n < 0) {
		json_object_put(lc.items);
		return api_fail(e, API_E_INTERNAL, "state store error");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "items", lc.items);
	if (more)
		ops_next_token(c->hd, *out, PAGE_LIST_MICROVMS, fh, (uint64_t)lc.last);
	return 200;
}

typedef int (*vm_op)(struct lifecycle *lc, struct store_vm *v, struct api_err *e);

static int simple_op(struct route_call *c, struct json_object **out, struct api_err *e, vm_op op)
{
	struct store_vm *v = malloc(sizeof *v);
	int rc = -1;
	if (!v)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	if (ops_vm_lookup(c->hd, c->params[0], v, e) == 1 && op(c->hd->lc, v, e) == 0) {
		*out = json_object_new_object();
		rc = 200;
	}
	free(v);
	return rc;
}

static int terminate_by_user(struct lifecycle *lc, struct store_vm *v, struct api_err *e)
{
	return lifecycle_terminate(lc, v, "terminated by TerminateMicrovm", e);
}

int ops_vm_suspend(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return simple_op(c, out, e, lifecycle_suspend);
}

int ops_vm_resume(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return simple_op(c, out, e, lifecycle_resume);
}

int ops_vm_terminate(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return simple_op(c, out, e, terminate_by_user);
}

static int mint(struct route_call *c, struct json_object **out, struct api_err *e, int kind)
{
	struct api_auth_req r;
	struct store_vm *v = NULL;
	int rc = -1;
	struct json_object *body = api_json_parse(c->body, c->body_len, e);
	if (!body)
		return -1;
	if ((kind == TOKEN_KIND_PROXY ? api_auth_parse_proxy(body, &r, e)
				      : api_auth_parse_shell(body, &r, e)) < 0)
		goto out;
	v = malloc(sizeof *v);
	if (!v) {
		api_fail(e, API_E_INTERNAL, "out of memory");
		goto out;
	}
	if (ops_vm_lookup(c->hd, c->params[0], v, e) < 0)
		goto out;
	enum vm_state st = vmstate_parse(v->state);
	if (st == VS_TERMINATED || st == VS_TERMINATING) {
		api_fail(e, API_E_CONFLICT, "microVM %s is %s", v->id, v->state);
		goto out;
	}
	int flags = ops_vm_ingress_flags(v);
	if (!(flags & (kind == TOKEN_KIND_PROXY ? API_INGRESS_HTTP : API_INGRESS_SHELL))) {
		api_fail(e, API_E_VALIDATION,
			 kind == TOKEN_KIND_PROXY
				 ? "microVM was not run with the HTTP_INGRESS (or ALL_INGRESS) "
				   "network connector"
				 : "microVM was not run with the SHELL_INGRESS (or ALL_INGRESS) "
				   "network connector");
		goto out;
	}
	struct token_claims cl = { .kind = (uint8_t)kind, .generation = (uint32_t)v->generation };
	snprintf(cl.vm_id, sizeof cl.vm_id, "%s", v->id);
	cl.issued = (uint64_t)hd_now();
	cl.expires = cl.issued + (uint64_t)r.minutes * 60;
	cl.nranges = r.nranges;
	memcpy(cl.ranges, r.ranges, sizeof cl.ranges);
	if (getrandom(cl.nonce, sizeof cl.nonce, 0) != (ssize_t)sizeof cl.nonce) {
		api_fail(e, API_E_INTERNAL, "no randomness");
		goto out;
	}
	char tok[TOKEN_MAX_LEN + 1];
	if (token_sign(c->hd->key, sizeof c->hd->key, &cl, tok, sizeof tok) < 0) {
		api_fail(e, API_E_INTERNAL, "token signing failed");
		goto out;
	}
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "X-aws-proxy-auth", json_object_new_string(tok));
	*out = json_object_new_object();
	json_object_object_add(*out, "authToken", m);
	rc = 200;
out:
	free(v);
	json_object_put(body);
	return rc;
}

int ops_vm_auth_token(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return mint(c, out, e, TOKEN_KIND_PROXY);
}

int ops_vm_shell_token(struct route_call *c, struct json_object **out, struct api_err *e)
{
	return mint(c, out, e, TOKEN_KIND_SHELL);
}
