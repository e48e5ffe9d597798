/* cmd_image_get.c - `hearth image get NAME`: GetMicrovmImage. */
#include "shell/client/api.h"
#include "shell/client/client.h"

#include <stdio.h>
#include <string.h>

int cmd_image_get(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "image get", "image get NAME [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	char enc[512], path[640], when[64];
	json_object *im = NULL;
	if (rc)
		return rc;
	if (argc - first != 1)
		return api_usage(&a, "want exactly one image NAME");
	if (api_escape(argv[first], enc, sizeof enc) != 0)
		return api_usage(&a, "NAME too long");
	snprintf(path, sizeof path, API_VERSION_PREFIX "/microvm-images/%s", enc);
	if ((rc = api_call(&a, "GET", path, NULL, &im)) != 0)
		return rc;
	if (a.json) {
		api_print_json(im);
	} else {
		static const char *const fields[] = { "name", "imageArn", "state",
						      "latestActiveImageVersion",
						      "latestFailedImageVersion", "description" };
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			if (strcmp(api_str(im, fields[i]), "-"))
				printf("%-26s %s\n", fields[i], api_str(im, fields[i]));
		printf("%-26s %s\n", "createdAt", api_time(im, "createdAt", when, sizeof when));
		printf("%-26s %s\n", "updatedAt", api_time(im, "updatedAt", when, sizeof when));
	}
	json_object_put(im);
	return 0;
}
