/*
 * api.h - what the API subcommands share: the common options (--api,
 * --timeout, --json), one call with AWS-style error reporting, and output.
 */
#ifndef HEARTH_API_H
#define HEARTH_API_H

#include <getopt.h>
#include <stddef.h>

#include <json-c/json.h>

#include "shell/client/apiconn.h"

#define API_DEFAULT_URL "http://127.0.0.1:7400"
#define API_VERSION_PREFIX "/2025-09-09"
#define API_TAGS_PREFIX "/2017-03-31"

/* Exit codes of every subcommand. */
enum { API_EXIT_OK = 0, API_EXIT_FAIL = 1, API_EXIT_USAGE = 2 };

/* Option values >= 0x100 so they never collide with a command's short options. */
enum { API_OPT_API = 0x100, API_OPT_TIMEOUT, API_OPT_JSON, API_OPT_HELP };

/* Append to every subcommand's long option table. */
#define API_COMMON_OPTIONS                                          \
	{ "api", required_argument, NULL, API_OPT_API },            \
	{ "timeout", required_argument, NULL, API_OPT_TIMEOUT },    \
	{ "json", no_argument, NULL, API_OPT_JSON },                \
	{ "help", no_argument, NULL, API_OPT_HELP }

struct api {
	const char *cmd;    /* subcommand name, for messages */
	const char *usage;  /* its usage line */
	const char *url;
	int timeout_s;
	int json;
	int help;
};

/* Defaults: HEARTH_API or API_DEFAULT_URL, 30 s, tables. */
void api_init(struct api *a, const char *cmd, const char *usage);

/* Handle a common option; returns 0 if handled, -1 if opt is not common,
 * API_EXIT_USAGE after printing a usage error. */
int api_option(struct api *a, int opt, const char *arg);

/* Print "hearth CMD: MSG" plus the usage line to stderr; returns API_EXIT_USAGE. */
int api_usage(const struct api *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse every option of argv with `longopts` (which ends with API_COMMON_OPTIONS
 * and a zero entry); `each` gets the command's own options. Returns 0 or an
 * exit code; on 0, *first is the index of the first positional argument. */
int api_parse(struct api *a, int argc, char **argv, const struct option *longopts,
	      int (*each)(void *ctx, int opt, const char *arg), void *ctx, int *first);

/* One request. body may be NULL. On 2xx returns 0 and sets *out (NULL for an
 * empty body). Otherwise prints "hearth: <ErrorType>: <message>" (or the
 * connection failure) and returns API_EXIT_FAIL. */
int api_call(const struct api *a, const char *method, const char *path, json_object *body,
	     json_object **out);

/* Percent-encode s (everything but RFC 3986 unreserved) into dst. -1 if too long. */
int api_escape(const char *s, char *dst, size_t cap);

/* Print doc as pretty JSON on stdout ({} for NULL, an empty body). */
void api_print_json(json_object *doc);

/* A string field, or "-" when absent or not a string/number. */
const char *api_str(json_object *obj, const char *key);

/* Format an epoch-seconds field as "YYYY-MM-DD HH:MM:SS UTC" ("-" if absent). */
const char *api_time(json_object *obj, const char *key, char *buf, size_t cap);

/* Parse a non-negative decimal int within [lo, hi]; -1 if not. */
long api_number(const char *s, long lo, long hi);

/* Print a microVM (RunMicrovm/GetMicrovm shape) as aligned "field  value" lines. */
void api_print_microvm(json_object *vm);



/* GET a paged list: path already holds its query (or none). Appends every
 * item to *items (a new array) and follows nextToken while `all`; *next gets
 * the last nextToken (or NULL; malloc'd). Returns 0 or API_EXIT_FAIL. */
int api_list(const struct api *a, const char *path, int all, json_object **items, char **next);
#endif
