/*
 * routes.h - the API's route table and dispatcher (no HTTP library here:
 * httpd.c feeds decoded requests in and writes the answers out).
 */
#ifndef HEARTH_ROUTES_H
#define HEARTH_ROUTES_H

#include <stddef.h>

#include "protocol/api_json.h"
#include "session/hearthd.h"

enum route_method { RM_GET = 1, RM_POST, RM_PUT, RM_PATCH, RM_DELETE, RM_OTHER };

#define ROUTE_MAX_PARAMS 3
#define ROUTE_MAX_QUERY 64

struct route_query {
	const char *name, *value;
};

struct route_call {
	struct hearthd *hd;
	const char *params[ROUTE_MAX_PARAMS];
	unsigned nquery;
	struct route_query query[ROUTE_MAX_QUERY];
	const char *body;
	size_t body_len;
	int body_streamed; /* the body comes later, through apistream's body_* (body_len 0) */
	void *conn; /* the API connection (session/apistream.h), for answers given later */
};

/* A handler's status meaning "the answer comes later, through apistream". */
#define ROUTE_DEFERRED 1

struct route_resp {
	int status;
	const char *err_type; /* x-amzn-ErrorType when set */
	char *body;           /* malloc'd JSON text (may be NULL for no body) */
	size_t len;
};

/* A handler returns the success status (200/201/204) with *out set (or NULL
 * for no body), or -1 with *e filled. */
typedef int (*route_fn)(struct route_call *c, struct json_object **out, struct api_err *e);

/*
 * Route one request. path is URL-decoded; query holds decoded name/value
 * pairs. Always fills *resp (the caller frees resp->body).
 */
void routes_dispatch(struct hearthd *hd, enum route_method m, const char *path,
		     const struct route_query *query, unsigned nquery, const char *body,
		     size_t body_len, int body_streamed, void *conn, struct route_resp *resp);
/* 1 when this route takes its request body as it comes (apistream.h). */
int routes_streams_body(enum route_method m, const char *path);
/* Build an error response (for the HTTP layer's own refusals). */
void routes_error(struct route_resp *resp, int status, const char *type, const char *msg);
/* First query value with this name, or NULL. */
const char *routes_query(const struct route_call *c, const char *name);
/* HTTP status of an AWS error name. */
int routes_status(const char *err_type);

/* Handlers, by resource. */
int ops_vm_run(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_get(struct route_call *c, struct json_object **out, struct api_err *e);
/* ops_ssh.c: GET /hearth/ssh, the SSH ingress's address and host key (a hearth extension). */
int ops_ssh_info(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_list(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_suspend(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_resume(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_terminate(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_auth_token(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_vm_shell_token(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_managed_list(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_managed_versions(struct route_call *c, struct json_object **out,
			       struct api_err *e);
/* Built images (ops_image_*.c). */
int ops_image_create(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_update(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_delete(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_get(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_list(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_versions(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_version_get(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_version_update(struct route_call *c, struct json_object **out,
			     struct api_err *e);
int ops_image_version_delete(struct route_call *c, struct json_object **out,
			     struct api_err *e);
int ops_image_builds(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_image_build_get(struct route_call *c, struct json_object **out, struct api_err *e);
/* hearth extension: a build's log (PROTOCOL.md, "Build logs") */
int ops_image_build_logs(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_conn_create(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_conn_list(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_conn_get(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_conn_delete(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_tags_list(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_tags_tag(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_tags_untag(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_files_get(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_files_put(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_identity_jwks(struct route_call *c, struct json_object **out, struct api_err *e);
int ops_identity_discovery(struct route_call *c, struct json_object **out, struct api_err *e);

#endif
