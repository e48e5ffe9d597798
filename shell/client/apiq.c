/*
 * apiq.c - quiet API calls: the same request and error convention as
 * api_call, which prints what this hands back (x-amzn-ErrorType header,
 * {"message": ...} body).
 */
#include "shell/client/apiq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The API's error as "ErrorType: message". */
static void error_text(const struct apiconn_resp *r, char *err, size_t errlen)
{
	json_object *doc = r->body_len ? json_tokener_parse(r->body) : NULL;
	json_object *m = NULL;
	const char *msg = NULL;
	if (doc && (json_object_object_get_ex(doc, "message", &m) ||
		    json_object_object_get_ex(doc, "Message", &m)) &&
	    json_object_is_type(m, json_type_string))
		msg = json_object_get_string(m);
	char type[160];
	if (r->error_type[0])
		snprintf(type, sizeof(type), "%s", r->error_type);
	else
		snprintf(type, sizeof(type), "HTTP %d", r->status);
	if (msg)
		snprintf(err, errlen, "%s: %s", type, msg);
	else
		snprintf(err, errlen, "%s: %.200s", type, r->body_len ? r->body : "(no message)");
	json_object_put(doc);
}

int apiq_call(const struct api *a, const char *method, const char *path, json_object *body,
	      json_object **out, char *err, size_t errlen)
{
	struct apiconn c;
	struct apiconn_resp r;
	/* Found once per process: every request is signed with the same key. */
	static struct apicreds creds;
	static int have_creds;
	*out = NULL;
	if (!have_creds && apicreds_load(&creds, err, errlen) != 0)
		return -1;
	have_creds = 1;
	if (apiconn_init(&c, a->url, a->timeout_s * 1000, err, errlen) != 0)
		return -1;
	c.creds = &creds;
	if (apiconn_request(&c, method, path,
			    body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL,
			    &r, err, errlen) != 0)
		return -1;
	int rc = 0;
	if (r.status < 200 || r.status > 299) {
		error_text(&r, err, errlen);
		rc = -1;
	} else if (r.body_len) {
		struct json_tokener *tok = json_tokener_new_ex(64);
		json_object *doc = tok ? json_tokener_parse_ex(tok, r.body, (int)r.body_len) : NULL;
		if (!doc || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != r.body_len) {
			snprintf(err, errlen, "the API at %s answered %d with a body that is not JSON",
				 a->url, r.status);
			json_object_put(doc);
			rc = -1;
		} else {
			*out = doc;
		}
		if (tok)
			json_tokener_free(tok);
	}
	apiconn_resp_free(&r);
	return rc;
}

int apiq_list_vms(const struct api *a, int max_pages, json_object **items, char *err,
		  size_t errlen)
{
	char path[2048], enc[1024];
	*items = json_object_new_array();
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms");
	for (int page = 0; page < max_pages; page++) {
		json_object *doc = NULL, *arr, *tok;
		if (apiq_call(a, "GET", path, NULL, &doc, err, errlen) != 0)
			goto fail;
		if (json_object_object_get_ex(doc, "items", &arr) &&
		    json_object_is_type(arr, json_type_array))
			for (size_t i = 0; i < json_object_array_length(arr); i++)
				json_object_array_add(*items,
						      json_object_get(json_object_array_get_idx(arr, i)));
		int more = json_object_object_get_ex(doc, "nextToken", &tok) &&
			   json_object_is_type(tok, json_type_string) &&
			   json_object_get_string_len(tok) > 0;
		int fits = more && api_escape(json_object_get_string(tok), enc, sizeof(enc)) == 0;
		json_object_put(doc);
		if (!more)
			return 0;
		if (!fits) {
			snprintf(err, errlen, "the API's nextToken is too long");
			goto fail;
		}
		snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms?nextToken=%s", enc);
	}
	snprintf(err, errlen, "more than %d pages of microVMs", max_pages);
fail:
	json_object_put(*items);
	*items = NULL;
	return -1;
}
