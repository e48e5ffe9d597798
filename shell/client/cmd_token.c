/* cmd_token.c - `hearth token ID --minutes M [ports]`: CreateMicrovmAuthToken. */
#include "shell/client/api.h"
#include "shell/client/client.h"
#include "shell/client/token_out.h"

#include <stdio.h>
#include <string.h>

enum { O_MIN = 1, O_PORT, O_PORTS, O_ALLPORTS };

struct token_opts {
	struct api *a;
	long minutes;
	json_object *ports;  /* allowedPorts being built */
};

static int token_opt(void *ctx, int opt, const char *arg)
{
	struct token_opts *o = ctx;
	json_object *p = NULL;
	long lo, hi;
	switch (opt) {
	case O_MIN:
		if ((o->minutes = api_number(arg, 1, 60)) < 0)
			return api_usage(o->a, "--minutes wants 1-60");
		return 0;
	case O_PORT:
		if ((lo = api_number(arg, 1, 65535)) < 0)
			return api_usage(o->a, "--port wants 1-65535, not '%s'", arg);
		p = json_object_new_object();
		json_object_object_add(p, "port", json_object_new_int64(lo));
		break;
	case O_PORTS: {
		const char *dash = strchr(arg, '-');
		char a1[16];
		if (!dash || (size_t)(dash - arg) >= sizeof(a1))
			return api_usage(o->a, "--ports wants A-B");
		memcpy(a1, arg, (size_t)(dash - arg));
		a1[dash - arg] = 0;
		lo = api_number(a1, 1, 65535);
		hi = api_number(dash + 1, 1, 65535);
		if (lo < 0 || hi < lo)
			return api_usage(o->a, "--ports wants A-B with 1 <= A <= B <= 65535");
		json_object *r = json_object_new_object();
		json_object_object_add(r, "startPort", json_object_new_int64(lo));
		json_object_object_add(r, "endPort", json_object_new_int64(hi));
		p = json_object_new_object();
		json_object_object_add(p, "range", r);
		break;
	}
	case O_ALLPORTS:
		p = json_object_new_object();
		json_object_object_add(p, "allPorts", json_object_new_object());
		break;
	default:
		return api_usage(o->a, "unexpected option");
	}
	json_object_array_add(o->ports, p);
	return 0;
}

int cmd_token(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "minutes", required_argument, NULL, O_MIN },
		{ "port", required_argument, NULL, O_PORT },
		{ "ports", required_argument, NULL, O_PORTS },
		{ "all-ports", no_argument, NULL, O_ALLPORTS },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct api a;
	api_init(&a, "token", "token ID --minutes M [--port N|--ports A-B|--all-ports]... [--json]");
	struct token_opts o = { .a = &a, .minutes = -1, .ports = json_object_new_array() };
	int first, rc = api_parse(&a, argc, argv, longopts, token_opt, &o, &first);
	if (!rc && argc - first != 1)
		rc = api_usage(&a, "want exactly one microVM ID");
	if (!rc && o.minutes < 0)
		rc = api_usage(&a, "--minutes is required");
	if (!rc && json_object_array_length(o.ports) == 0)
		rc = api_usage(&a, "name the ports: --port N, --ports A-B or --all-ports");
	char enc[512], path[700];
	if (!rc && api_escape(argv[first], enc, sizeof(enc)) != 0)
		rc = api_usage(&a, "ID too long");
	if (rc) {
		json_object_put(o.ports);
		return rc;
	}
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s/auth-token", enc);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "expirationInMinutes", json_object_new_int64(o.minutes));
	json_object_object_add(req, "allowedPorts", o.ports);
	return token_out_request(&a, path, req);
}
