/* token_out.c - the token commands' output: the bare token suits $(hearth token ...). */
#include "shell/client/token_out.h"

#include <stdio.h>

static int token_out_print(const struct api *a, json_object *doc)
{
	json_object *map;
	if (!json_object_object_get_ex(doc, "authToken", &map) ||
	    !json_object_is_type(map, json_type_object) || json_object_object_length(map) < 1) {
		fprintf(stderr, "hearth: the API answered without an authToken\n");
		return API_EXIT_FAIL;
	}
	if (a->json) {
		api_print_json(doc);
		return 0;
	}
	int one = json_object_object_length(map) == 1;
	json_object_object_foreach(map, key, val) {
		if (one)
			printf("%s\n", json_object_get_string(val));
		else
			printf("%s: %s\n", key, json_object_get_string(val));
	}
	return 0;
}

int token_out_request(const struct api *a, const char *path, json_object *req)
{
	json_object *doc = NULL;
	int rc = api_call(a, "POST", path, req, &doc);

	json_object_put(req);
	if (rc)
		return rc;
	rc = token_out_print(a, doc);
	json_object_put(doc);
	return rc;
}
