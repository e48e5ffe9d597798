/*
 * cmd_images.c - `hearth images`: the managed images (ListManagedMicrovmImages)
 * and each one's versions (ListManagedMicrovmImageVersions), then the built
 * images (ListMicrovmImages) with theirs (ListMicrovmImageVersions: STATUS is
 * the version's status/state, e.g. ACTIVE/SUCCESSFUL). --json prints
 * {"items": [image summary + "managed": bool + "versions": [...]]}.
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

/* The built images and their versions: rows of t, items appended to all. */
static int built_images(const struct api *a, struct table *t, json_object *all)
{
	json_object *images;
	char *next;
	int rc = api_list(a, API_VERSION_PREFIX "/microvm-images", 1, &images, &next);
	if (rc)
		return rc;
	free(next);
	for (size_t i = 0; i < json_object_array_length(images) && rc == 0; i++) {
		json_object *img = json_object_array_get_idx(images, i), *versions;
		const char *name = api_str(img, "name");
		char enc[512], path[700];
		if (api_escape(name, enc, sizeof(enc)) != 0) {
			rc = API_EXIT_FAIL;
			break;
		}
		snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvm-images/%s/versions", enc);
		if ((rc = api_list(a, path, 1, &versions, &next)) != 0)
			break;
		free(next);
		for (size_t v = 0; v < json_object_array_length(versions); v++) {
			json_object *ver = json_object_array_get_idx(versions, v);
			char when[64], status[64];
			snprintf(status, sizeof(status), "%s/%s", api_str(ver, "status"),
				 api_str(ver, "state"));
			const char *row[] = { name, api_str(ver, "imageVersion"), status,
					      api_time(ver, "createdAt", when, sizeof(when)),
					      api_str(img, "imageArn") };
			table_row(t, row);
		}
		json_object_object_add(img, "versions", versions);
		json_object_object_add(img, "managed", json_object_new_boolean(0));
		json_object_array_add(all, json_object_get(img));
	}
	json_object_put(images);
	return rc;
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
		json_object_object_add(img, "managed", json_object_new_boolean(1));
	}
	if (rc == 0)
		rc = built_images(&a, &t, images);
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
