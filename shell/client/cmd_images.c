/*
 * cmd_images.c - `hearth images`: the managed images (ListManagedMicrovmImages)
 * and each one's versions (ListManagedMicrovmImageVersions). --json prints
 * {"items": [image summary + "versions": [...]]}.
 */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An image ARN ends "...:microvm-image:NAME": the name addresses it. */
static const char *image_name(const char *arn)
{
	const char *c = strrchr(arn, ':');
	return c ? c + 1 : arn;
}

int cmd_images(int argc, char **argv)
{
	static const struct option longopts[] = { API_COMMON_OPTIONS, { 0 } };
	struct api a;
	api_init(&a, "images", "images [--json]");
	int first, rc = api_parse(&a, argc, argv, longopts, NULL, NULL, &first);
	if (rc)
		return rc;
	if (first != argc)
		return api_usage(&a, "unexpected argument '%s'", argv[first]);
	json_object *images;
	char *next;
	if ((rc = api_list(&a, API_VERSION_PREFIX "/managed-microvm-images", 1, &images, &next)) != 0)
		return rc;
	free(next);
	struct table t;
	table_init(&t, 5, 1);
	const char *head[] = { "IMAGE", "VERSION", "STATUS", "CREATED", "ARN" };
	table_row(&t, head);
	for (size_t i = 0; i < json_object_array_length(images) && rc == 0; i++) {
		json_object *img = json_object_array_get_idx(images, i), *versions;
		const char *arn = api_str(img, "imageArn");
		char enc[512], path[700];
		if (api_escape(image_name(arn), enc, sizeof(enc)) != 0) {
			fprintf(stderr, "hearth: image name too long\n");
			rc = API_EXIT_FAIL;
			break;
		}
		snprintf(path, sizeof(path), API_VERSION_PREFIX "/managed-microvm-images/%s/versions", enc);
		if ((rc = api_list(&a, path, 1, &versions, &next)) != 0)
			break;
		free(next);
		for (size_t v = 0; v < json_object_array_length(versions); v++) {
			json_object *ver = json_object_array_get_idx(versions, v);
			char when[64];
			const char *row[] = { image_name(arn), api_str(ver, "imageVersion"),
					      api_str(ver, "status"),
					      api_time(ver, "createdAt", when, sizeof(when)), arn };
			table_row(&t, row);
		}
		if (json_object_array_length(versions) == 0) {
			char when[64];
			const char *row[] = { image_name(arn), "-", "-",
					      api_time(img, "createdAt", when, sizeof(when)), arn };
			table_row(&t, row);
		}
		json_object_object_add(img, "versions", versions);
	}
	if (rc == 0) {
		if (a.json) {
			json_object *doc = json_object_new_object();
			json_object_object_add(doc, "items", json_object_get(images));
			api_print_json(doc);
			json_object_put(doc);
		} else {
			table_print(&t, stdout);
		}
	}
	table_free(&t);
	json_object_put(images);
	return rc;
}
