/*
 * routes.c - the AWS REST route table (restJson1 paths under /2025-09-09/
 * and the Lambda tags paths under /2017-03-31/) and the error shape.
 */
#include "session/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route {
	enum route_method method;
	const char *pattern; /* "{}" matches one non-empty path segment */
	route_fn fn;
};

static const struct route route_table[] = {
	{ RM_POST, "/2025-09-09/microvms", ops_vm_run },
	{ RM_GET, "/2025-09-09/microvms", ops_vm_list },
	{ RM_GET, "/2025-09-09/microvms/{}", ops_vm_get },
	{ RM_DELETE, "/2025-09-09/microvms/{}", ops_vm_terminate },
	{ RM_POST, "/2025-09-09/microvms/{}/suspend", ops_vm_suspend },
	{ RM_POST, "/2025-09-09/microvms/{}/resume", ops_vm_resume },
	{ RM_POST, "/2025-09-09/microvms/{}/auth-token", ops_vm_auth_token },
	{ RM_POST, "/2025-09-09/microvms/{}/shell-auth-token", ops_vm_shell_token },
	/* hearth's own: files in and out as a tar stream (hearthd.8, FILES) */
	{ RM_GET, "/2025-09-09/microvms/{}/files", ops_files_get },
	{ RM_PUT, "/2025-09-09/microvms/{}/files", ops_files_put },
	/* hearth extension: allowlist egress connectors (hearthd.8 NETWORK) */
	{ RM_POST, "/2025-09-09/network-connectors", ops_conn_create },
	{ RM_GET, "/2025-09-09/network-connectors", ops_conn_list },
	{ RM_GET, "/2025-09-09/network-connectors/{}", ops_conn_get },
	{ RM_DELETE, "/2025-09-09/network-connectors/{}", ops_conn_delete },
	{ RM_GET, "/2025-09-09/managed-microvm-images", ops_image_managed_list },
	{ RM_GET, "/2025-09-09/managed-microvm-images/{}/versions", ops_image_managed_versions },
	{ RM_POST, "/2025-09-09/microvm-images", ops_image_create },
	{ RM_GET, "/2025-09-09/microvm-images", ops_image_list },
	{ RM_GET, "/2025-09-09/microvm-images/{}", ops_image_get },
	{ RM_PUT, "/2025-09-09/microvm-images/{}", ops_image_update },
	{ RM_DELETE, "/2025-09-09/microvm-images/{}", ops_image_delete },
	{ RM_GET, "/2025-09-09/microvm-images/{}/versions", ops_image_versions },
	{ RM_GET, "/2025-09-09/microvm-images/{}/versions/{}", ops_image_version_get },
	{ RM_PATCH, "/2025-09-09/microvm-images/{}/versions/{}", ops_image_version_update },
	{ RM_DELETE, "/2025-09-09/microvm-images/{}/versions/{}", ops_image_version_delete },
	{ RM_GET, "/2025-09-09/microvm-images/{}/versions/{}/builds", ops_image_builds },
	{ RM_GET, "/2025-09-09/microvm-images/{}/versions/{}/builds/{}", ops_image_build_get },
	/* hearth extension: a build's log (PROTOCOL.md, hearthd.8 IMAGES) */
	{ RM_GET, "/2025-09-09/microvm-images/{}/versions/{}/builds/{}/logs", ops_image_build_logs },
	{ RM_GET, "/2017-03-31/tags/{}", ops_tags_list },
	{ RM_POST, "/2017-03-31/tags/{}", ops_tags_tag },
	{ RM_DELETE, "/2017-03-31/tags/{}", ops_tags_untag },
	{ RM_GET, "/hearth/ssh", ops_ssh_info },
	/* hearth's own: the VM identity tokens' keys (public, unsigned GETs) */
	{ RM_GET, "/.well-known/jwks.json", ops_identity_jwks },
	{ RM_GET, "/.well-known/openid-configuration", ops_identity_discovery },
};

static const struct {
	const char *type;
	int status;
} error_status[] = {
	{ "ValidationException", 400 },
	{ "InvalidParameterValueException", 400 },
	{ "SerializationException", 400 },
	{ "ServiceQuotaExceededException", 402 },
	{ "AccessDeniedException", 403 },
	/* SigV4 refusals (session/auth.c), named as AWS names them. */
	{ "MissingAuthenticationTokenException", 403 },
	{ "UnrecognizedClientException", 403 },
	{ "InvalidSignatureException", 403 },
	{ "IncompleteSignatureException", 403 },
	{ "ResourceNotFoundException", 404 },
	{ "UnknownOperationException", 404 },
	{ "MethodNotAllowedException", 405 },
	{ "ConflictException", 409 },
	{ "ResourceConflictException", 409 },
	{ "RequestEntityTooLargeException", 413 },
	{ "ThrottlingException", 429 },
	{ "TooManyRequestsException", 429 },
	{ "InternalServerException", 500 },
	{ "ServiceException", 500 },
	{ "InsufficientCapacityException", 500 },
	{ "NotImplementedException", 501 },
};

int routes_status(const char *type)
{
	for (size_t i = 0; i < sizeof error_status / sizeof error_status[0]; i++)
		if (strcmp(error_status[i].type, type) == 0)
			return error_status[i].status;
	return 500;
}

void routes_error(struct route_resp *resp, int status, const char *type, const char *msg)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	resp->status = status;
	resp->err_type = type;
	resp->body = strdup(s);
	resp->len = resp->body ? strlen(resp->body) : 0;
	json_object_put(o);
}

const char *routes_query(const struct route_call *c, const char *name)
{
	for (unsigned i = 0; i < c->nquery; i++)
		if (strcmp(c->query[i].name, name) == 0)
			return c->query[i].value;
	return NULL;
}

/*
 * Match path against pattern, collecting "{}" segments into params (copied
 * into seg storage). Returns 1 on a match.
 */
static int match(const char *pattern, const char *path, char seg[][2049], unsigned *nseg)
{
	const char *p = pattern, *s = path;
	*nseg = 0;
	while (*p && *s) {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t n = end ? (size_t)(end - s) : strlen(s);
			if (n == 0 || n > 2048 || *nseg >= ROUTE_MAX_PARAMS)
				return 0;
			memcpy(seg[*nseg], s, n);
			seg[*nseg][n] = '\0';
			(*nseg)++;
			s += n;
			p += 2;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	/* A single trailing slash is tolerated, as AWS does. */
	if (*p == '\0' && s[0] == '/' && s[1] == '\0')
		return 1;
	return *p == '\0' && *s == '\0';
}

/* Routes whose request body is handed to them as it comes (apistream.h). */
static const struct {
	enum route_method method;
	const char *pattern;
} streamed_routes[] = {
	{ RM_PUT, "/2025-09-09/microvms/{}/files" },
};

int routes_streams_body(enum route_method m, const char *path)
{
	static char seg[ROUTE_MAX_PARAMS][2049]; /* event-loop thread only */
	unsigned nseg = 0;
	for (size_t i = 0; i < sizeof streamed_routes / sizeof streamed_routes[0]; i++)
		if (streamed_routes[i].method == m && match(streamed_routes[i].pattern, path, seg, &nseg))
			return 1;
	return 0;
}

void routes_dispatch(struct hearthd *hd, enum route_method m, const char *path,
		     const struct route_query *query, unsigned nquery, const char *body,
		     size_t body_len, int body_streamed, void *conn, struct route_resp *resp)
{
	static char seg[ROUTE_MAX_PARAMS][2049]; /* event-loop thread only */
	const struct route *hit = NULL;
	int path_known = 0;
	unsigned nseg = 0;
	memset(resp, 0, sizeof *resp);
	for (size_t i = 0; i < sizeof route_table / sizeof route_table[0]; i++) {
		if (!match(route_table[i].pattern, path, seg, &nseg))
			continue;
		path_known = 1;
		if (route_table[i].method == m) {
			hit = &route_table[i];
			break;
		}
	}
	if (!hit) {
		if (path_known)
			routes_error(resp, 405, "MethodNotAllowedException",
				     "method not allowed for this resource");
		else
			routes_error(resp, 404, "UnknownOperationException",
				     "no operation matches this method and path");
		return;
	}
	struct route_call c = {
		.hd = hd, .body = body, .body_len = body_len, .body_streamed = body_streamed, .conn = conn
	};
	for (unsigned i = 0; i < nseg; i++)
		c.params[i] = seg[i];
	c.nquery = nquery > ROUTE_MAX_QUERY ? ROUTE_MAX_QUERY : nquery;
	memcpy(c.query, query, c.nquery * sizeof *query);
	struct json_object *out = NULL;
	struct api_err e = { 0 };
	int status = hit->fn(&c, &out, &e);
	if (status < 0) {
		json_object_put(out);
		if (!e.type)
			api_fail(&e, API_E_INTERNAL, "internal error");
		routes_error(resp, routes_status(e.type), e.type, e.msg);
		return;
	}
	resp->status = status;
	if (status == ROUTE_DEFERRED) { /* the handler answers through apistream */
		json_object_put(out);
		return;
	}
	if (out) {
		const char *s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
									JSON_C_TO_STRING_NOSLASHESCAPE);
		resp->body = strdup(s);
		resp->len = resp->body ? strlen(resp->body) : 0;
		json_object_put(out);
	}
}
