/*
 * api_image.h - the managed image description (build/guest/<name>/image.json)
 * and the Hooks shape shared with the image API (pure).
 *
 * image.json: {"name","version","kernel","initrd","disk","cmdline","memoryMiB"}
 * plus an optional "command" (started with /bin/sh -c in the guest after boot,
 * before the ready hook and the snapshot: the image's app; it must return,
 * e.g. by starting the app with setsid ... &), an optional "additionalOsCapabilities"
 * (the API's list: [] or ["ALL"]; absent or [] = the service's default restricted set
 * for the app and the shells) and an optional "hooks" object shaped like the API's Hooks:
 * {"port":N,"microvmHooks":{"run":"ENABLED","runTimeoutInSeconds":N,...},
 *  "microvmImageHooks":{"ready":"ENABLED","readyTimeoutInSeconds":N,...}}
 *
 * A built image (CreateMicrovmImage) adds two optional keys:
 *  "app": {"argv":["python3","app.py"],"env":["K=V",...],"workdir":"/app","user":"u"}
 *   the image's ENTRYPOINT/CMD combination, ENV plus environmentVariables, WORKDIR
 *   and USER ("name", "uid", "name:group", "uid:gid" or ""). After "command", the
 *   snapshot build starts argv detached with exactly env (plus PATH/HOME when
 *   absent), in workdir, as user; an empty or absent argv starts nothing.
 *   Bounds: argv <= 256 entries, env <= 512 ("K=V", K non-empty), user <= 32
 *   bytes, all text together <= 64 KiB, no NUL anywhere.
 *  "ports": [8080, ...] the EXPOSEd tcp ports (1-65535, <= 1024 of them); without
 *   a ready hook the build waits until the first one accepts a connection.
 */
#ifndef HEARTH_API_IMAGE_H
#define HEARTH_API_IMAGE_H

#include <limits.h>
#include <stdint.h>

#include "api_json.h"

#define API_IMAGE_MAX_JSON (64 * 1024)

enum api_hook {
	API_HOOK_READY,
	API_HOOK_VALIDATE,
	API_HOOK_RUN,
	API_HOOK_RESUME,
	API_HOOK_SUSPEND,
	API_HOOK_TERMINATE,
	API_HOOK_COUNT
};

struct api_hooks {
	int port; /* 0: no hooks */
	int enabled[API_HOOK_COUNT];
	int timeout[API_HOOK_COUNT]; /* seconds */
};

#define API_IMAGE_APP_ARGV 256
#define API_IMAGE_APP_ENV 512
#define API_IMAGE_APP_USER 32 /* the agent's limit (MUX_MAX_USER) */
#define API_IMAGE_APP_TEXT (64 * 1024)
#define API_IMAGE_PORTS 1024

/* "app", flat so an api_image stays a plain value (copied, no free): every
 * string is NUL-terminated inside text, found by its offset. */
struct api_image_app {
	unsigned argc, envc; /* argc 0: no app */
	uint32_t argv[API_IMAGE_APP_ARGV];
	uint32_t env[API_IMAGE_APP_ENV];
	uint32_t workdir, user; /* offsets of "" when absent */
	uint32_t used;          /* bytes of text in use */
	char text[API_IMAGE_APP_TEXT];
};

struct api_image {
	char name[129];
	char version[65];
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char disk[PATH_MAX];
	char cmdline[4096];
	unsigned mem_mib;
	char command[4096]; /* optional start command run in the guest before the snapshot */
	int os_caps_all;    /* additionalOsCapabilities ["ALL"]; 0: the default set */
	struct api_hooks hooks;
	struct api_image_app app;
	unsigned nports;
	uint16_t ports[API_IMAGE_PORTS]; /* EXPOSEd tcp ports, in order */
};

/* Parse a Hooks object (API or image.json) with the spec's ranges/defaults. */
int api_image_parse_hooks(struct json_object *o, struct api_hooks *out, struct api_err *e);
/* Parse additionalOsCapabilities (API or image.json): absent or [] leaves *all 0,
 * ["ALL"] sets it; anything else is a validation error. */
int api_image_parse_os_caps(struct json_object *o, int *all, struct api_err *e);
/* Parse image.json text. Relative file paths are left as given. */
int api_image_parse(const char *text, size_t len, struct api_image *out, struct api_err *e);
/* The app's strings (i < argc / envc). */
static inline const char *api_image_app_arg(const struct api_image_app *a, unsigned i)
{
	return a->text + a->argv[i];
}
static inline const char *api_image_app_env(const struct api_image_app *a, unsigned i)
{
	return a->text + a->env[i];
}
static inline const char *api_image_app_workdir(const struct api_image_app *a)
{
	return a->text + a->workdir;
}
static inline const char *api_image_app_user(const struct api_image_app *a)
{
	return a->text + a->user;
}
/* The hook's name as used in the runtime path (/aws/lambda-microvms/runtime/v1/NAME). */
const char *api_image_hook_name(enum api_hook h);

#endif
