/* cmd_list.c - `hearth list`: ListMicrovms, one page or (--all) every page. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_IMAGE = 1, O_MAX, O_ALL };

struct list_opts {
	struct api *a;
	const char *image;
	long max;
	int all;
};

static int list_opt(void *ctx, int opt, const char *arg)
{
	struct list_opts *o = ctx;
	switch (opt) {
	case O_IMAGE: o->image = arg; return 0;
	case O_ALL: o->all = 1; return 0;
	case O_MAX:
		if ((o->max = api_number(arg, 1, 1000)) < 0)
			return api_usage(o->a, "--max-results wants 1-1000");
		return 0;
	}
	return api_usage(o->a, "unexpected option");
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, O_IMAGE },
		{ "max-results", required_argument, NULL, O_MAX },
		{ "all", no_argument, NULL, O_ALL },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "list", "list [--image I] [--max-results N] [--all] [--json]");
	struct list_opts o = { .a = &a, .max = -1 };
	int first, rc = api_parse(&a, argc, argv, longopts, list_opt, &o, &first);
	if (rc)
		return rc;
	if (first != argc)
		return api_usage(&a, "unexpected argument '%s'", argv[first]);
	char path[1024], enc[512];
	int n = snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms");
	const char *sep = "?";
	if (o.max > 0) {
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%smaxResults=%ld", sep, o.max);
		sep = "&";
	}
	if (o.image) {
		if (api_escape(o.image, enc, sizeof(enc)) != 0)
			return api_usage(&a, "--image too long");
		snprintf(path + n, sizeof(path) - (size_t)n, "%simageIdentifier=%s", sep, enc);
	}
	json_object *items;
	char *next;
	if ((rc = api_list(&a, path, o.all, &items, &next)) != 0)
		return rc;
	if (a.json) {
		json_object *doc = json_object_new_object();
		json_object_object_add(doc, "items", json_object_get(items));
		if (next)
			json_object_object_add(doc, "nextToken", json_object_new_string(next));
		api_print_json(doc);
		json_object_put(doc);
	} else {
		struct table t;
		table_init(&t, 5, 1);
		const char *head[] = { "MICROVM", "STATE", "IMAGE", "VERSION", "STARTED" };
		table_row(&t, head);
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *vm = json_object_array_get_idx(items, i);
			char when[64];
			const char *arn = api_str(vm, "imageArn");
			const char *img = strrchr(arn, ':');
			const char *row[] = { api_str(vm, "microvmId"), api_str(vm, "state"),
					      img ? img + 1 : arn, api_str(vm, "imageVersion"),
					      api_time(vm, "startedAt", when, sizeof(when)) };
			table_row(&t, row);
		}
		table_print(&t, stdout);
		table_free(&t);
		if (next)
			fprintf(stderr, "(more microVMs: use --all)\n");
	}
	free(next);
	json_object_put(items);
	return 0;
}
