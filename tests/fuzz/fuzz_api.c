/* fuzz_api.c - every API request model, identifiers, paging tokens,
 * image.json and the hook status parser on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_auth.h"
#include "protocol/api_connector.h"
#include "protocol/api_hook.h"
#include "protocol/api_ident.h"
#include "protocol/api_image.h"
#include "protocol/api_page.h"
#include "protocol/api_run.h"
#include "protocol/api_tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_err e = { 0 };
	struct json_object *o = api_json_parse((const char *)data, size, &e);
	if (o) {
		struct api_run_req r;
		struct api_auth_req a;
		struct api_tags_req t;
		struct api_hooks h;
		if (api_run_parse(o, 1, &r, &e) == 0)
			(void)api_run_fingerprint(&r);
		api_auth_parse_proxy(o, &a, &e);
		api_auth_parse_shell(o, &a, &e);
		api_tags_parse(o, &t, &e);
		api_image_parse_hooks(o, &h, &e);
		struct api_connector *c = malloc(sizeof *c);
		if (c)
			api_connector_parse(o, c, &e);
		free(c);
		json_object_put(o);
	}
	static struct api_image img; /* large (the app's text): off the stack */
	if (api_image_parse((const char *)data, size, &img, &e) == 0) {
		/* Every offset must land on a NUL-terminated string inside text. */
		size_t sum = strlen(api_image_app_workdir(&img.app)) +
			     strlen(api_image_app_user(&img.app));
		for (unsigned i = 0; i < img.app.argc; i++)
			sum += strlen(api_image_app_arg(&img.app, i));
		for (unsigned i = 0; i < img.app.envc; i++)
			sum += strlen(api_image_app_env(&img.app, i));
		if (sum > img.app.used || img.nports > API_IMAGE_PORTS)
			abort();
	}
	int st;
	api_hook_status((const char *)data, size, &st);
	/* NUL-terminated copies for the string-based parsers. */
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct api_ident id;
	api_ident_microvm(s, &id, &e);
	api_ident_image(s, &id, &e);
	api_ident_resource(s, &id, &e);
	api_ident_version(s, &e);
	struct api_conn_cidr cidr;
	char host[API_CONN_HOST_MAX + 1];
	api_connector_cidr(s, &cidr);
	if (strlen(s) <= API_CONN_HOST_MAX)
		api_connector_host(s, host);
	static const uint8_t key[32] = "fuzz";
	struct api_page pg;
	api_page_decode(key, sizeof key, s, 1, 0, &pg, &e);
	int m;
	api_page_max_results(s, 100, &m, &e);
	free(s);
	return 0;
}
