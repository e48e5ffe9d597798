/* fuzz_imgreq.c - Create/UpdateMicrovmImage and UpdateMicrovmImageVersion
 * request validation (protocol/api_imgreq.c) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api_imgreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_err e = { 0 };
	/* The logs query: two NUL-terminated halves of the input. */
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t off, max;
	api_imgreq_logs_query(s, s + strlen(s) / 2, &off, &max, &e);
	free(s);
	struct json_object *o = api_json_parse((const char *)data, size, &e);
	if (!o)
		return 0;
	for (int update = 0; update < 2; update++) {
		struct api_imgreq r;
		if (api_imgreq_parse(o, update, &r, &e) == 0) {
			char env[API_IMGREQ_MAX_ENV_TEXT];
			(void)api_imgreq_fingerprint(&r);
			api_imgreq_env_text(&r, env, sizeof env);
			api_imgreq_free(&r);
		}
	}
	int active;
	api_imgreq_version_status(o, &active, &e);
	json_object_put(o);
	return 0;
}
