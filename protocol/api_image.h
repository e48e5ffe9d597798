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
 */
#ifndef HEARTH_API_IMAGE_H
#define HEARTH_API_IMAGE_H

#include <limits.h>

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
};

/* Parse a Hooks object (API or image.json) with the spec's ranges/defaults. */
int api_image_parse_hooks(struct json_object *o, struct api_hooks *out, struct api_err *e);
/* Parse additionalOsCapabilities (API or image.json): absent or [] leaves *all 0,
 * ["ALL"] sets it; anything else is a validation error. */
int api_image_parse_os_caps(struct json_object *o, int *all, struct api_err *e);
/* Parse image.json text. Relative file paths are left as given. */
int api_image_parse(const char *text, size_t len, struct api_image *out, struct api_err *e);
/* The hook's name as used in the runtime path (/aws/lambda-microvms/runtime/v1/NAME). */
const char *api_image_hook_name(enum api_hook h);

#endif
