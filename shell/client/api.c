/*
 * api.c - shared plumbing of the API subcommands: options, one request with
 * the API's error convention (x-amzn-ErrorType header, {"message": ...}
 * body), and output helpers.
 */
#include "shell/client/api.h"
#include "shell/client/apiq.h"
#include "shell/client/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void api_init(struct api *a, const char *cmd, const char *usage)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	a->usage = usage;
	const char *env = getenv("HEARTH_API");
	a->url = env && *env ? env : API_DEFAULT_URL;
	a->timeout_s = 30;
}

int api_usage(const struct api *a, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hearth %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: hearth %s\n", a->usage);
	return API_EXIT_USAGE;
}

long api_number(const char *s, long lo, long hi)
{
	if (!s || !*s || strlen(s) > 9)
		return -1;
	long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v < lo || v > hi ? -1 : v;
}

int api_option(struct api *a, int opt, const char *arg)
{
	switch (opt) {
	case API_OPT_API:
		a->url = arg;
		return 0;
	case API_OPT_TIMEOUT: {
		long t = api_number(arg, 1, 86400);
		if (t < 0)
			return api_usage(a, "--timeout wants seconds (1-86400), not '%s'", arg);
		a->timeout_s = (int)t;
		return 0;
	}
	case API_OPT_JSON:
		a->json = 1;
		return 0;
	case API_OPT_HELP:
		a->help = 1;
		return 0;
	}
	return -1;
}

int api_parse(struct api *a, int argc, char **argv, const struct option *longopts,
	      int (*each)(void *ctx, int opt, const char *arg), void *ctx, int *first)
{
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (opt == '?')
			return api_usage(a, "unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return api_usage(a, "option '%s' needs a value", argv[optind - 1]);
		int r = api_option(a, opt, optarg);
		if (r == -1)
			r = each ? each(ctx, opt, optarg) : api_usage(a, "unexpected option");
		if (r != 0)
			return r;
	}
	if (a->help) {
		printf("usage: hearth %s\n", a->usage);
		printf("common options: --api URL (default $HEARTH_API or %s), --timeout S, --json\n",
		       API_DEFAULT_URL);
		exit(API_EXIT_OK); /* asked-for help is a success, and there is nothing to free */
	}
	*first = optind;
	return 0;
}

/* Report a non-2xx answer the way the API describes it. */
int api_call(const struct api *a, const char *method, const char *path, json_object *body,
	     json_object **out)
{
	char err[1024];
	if (apiq_call(a, method, path, body, out, err, sizeof(err)) != 0) {
		fprintf(stderr, "hearth: %s\n", err);
		return API_EXIT_FAIL;
	}
	return API_EXIT_OK;
}

int api_escape(const char *s, char *dst, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~", *p);
		size_t need = plain ? 1 : 3;
		if (o + need >= cap)
			return -1;
		if (plain) {
			dst[o++] = (char)*p;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 15];
		}
	}
	dst[o] = 0;
	return 0;
}

void api_print_json(json_object *doc)
{
	if (!doc) { /* an empty 2xx body: print the empty document */
		printf("{}\n");
		return;
	}
	printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_SPACED |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *api_str(json_object *obj, const char *key)
{
	static char ring[8][32];
	static int next;
	json_object *v;
	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
		return "-";
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get_string(v);
	case json_type_int:
	case json_type_double:
	case json_type_boolean: {
		char *b = ring[next++ % 8];
		snprintf(b, sizeof(ring[0]), "%s", json_object_get_string(v));
		return b;
	}
	default:
		return "-";
	}
}

const char *api_time(json_object *obj, const char *key, char *buf, size_t cap)
{
	json_object *v;
	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return "-";
	time_t t = (time_t)json_object_get_int64(v);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return "-";
	return buf;
}

void api_print_microvm(json_object *vm)
{
	char t1[64], t2[64], idle[160] = "-";
	json_object *ip;
	if (json_object_object_get_ex(vm, "idlePolicy", &ip) && json_object_is_type(ip, json_type_object))
		snprintf(idle, sizeof(idle), "idle %ss, then suspended %ss, auto-resume %s",
			 api_str(ip, "maxIdleDurationSeconds"), api_str(ip, "suspendedDurationSeconds"),
			 strcmp(api_str(ip, "autoResumeEnabled"), "true") == 0 ? "on" : "off");
	const char *rows[][2] = {
		{ "microvmId", api_str(vm, "microvmId") },
		{ "state", api_str(vm, "state") },
		{ "stateReason", api_str(vm, "stateReason") },
		{ "imageArn", api_str(vm, "imageArn") },
		{ "imageVersion", api_str(vm, "imageVersion") },
		{ "endpoint", api_str(vm, "endpoint") },
		{ "startedAt", api_time(vm, "startedAt", t1, sizeof(t1)) },
		{ "terminatedAt", api_time(vm, "terminatedAt", t2, sizeof(t2)) },
		{ "maxDuration", api_str(vm, "maximumDurationInSeconds") },
		{ "idlePolicy", idle },
	};
	struct table t;
	table_init(&t, 2, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(rows[i][1], "-") != 0 || i < 2)
			table_row(&t, rows[i]);
	table_print(&t, stdout);
	table_free(&t);
}

int api_list(const struct api *a, const char *path, int all, json_object **items, char **next)
{
	*items = json_object_new_array();
	*next = NULL;
	char url[2048];
	snprintf(url, sizeof(url), "%s", path);
	for (int page = 0; page < 100000; page++) {
		json_object *doc = NULL, *arr;
		int rc = api_call(a, "GET", url, NULL, &doc);
		if (rc) {
			json_object_put(*items);
			*items = NULL;
			free(*next);
			*next = NULL;
			return rc;
		}
		if (json_object_object_get_ex(doc, "items", &arr) && json_object_is_type(arr, json_type_array))
			for (size_t i = 0; i < json_object_array_length(arr); i++)
				json_object_array_add(*items, json_object_get(json_object_array_get_idx(arr, i)));
		free(*next);
		*next = NULL;
		json_object *tok;
		if (json_object_object_get_ex(doc, "nextToken", &tok) &&
		    json_object_is_type(tok, json_type_string) && json_object_get_string_len(tok) > 0)
			*next = strdup(json_object_get_string(tok));
		json_object_put(doc);
		if (!all || !*next)
			return 0;
		char enc[1024];
		if (api_escape(*next, enc, sizeof(enc)) != 0) {
			fprintf(stderr, "hearth: nextToken too long\n");
			break;
		}
		snprintf(url, sizeof(url), "%s%snextToken=%s", path, strchr(path, '?') ? "&" : "?", enc);
	}
	json_object_put(*items);
	*items = NULL;
	free(*next);
	*next = NULL;
	return API_EXIT_FAIL;
}
