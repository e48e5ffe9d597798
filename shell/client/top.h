/*
 * top.h - what `hearth top`'s two files share: the model of the screen
 * (cmd_top.c fills it from the API and acts on keys; top_draw.c paints it).
 */
#ifndef HEARTH_TOP_H
#define HEARTH_TOP_H

#include <stdint.h>

#include <json-c/json.h>

#include "shell/client/api.h"

#define TOP_LINE 1024        /* widest line drawn */

/* Color pairs (only used when colors are on). */
enum { C_GOOD = 1, C_WARN, C_BAD, C_BUSY };

/* What the status line holds: nothing, a note, an action error, a refresh error. */
enum { ST_NONE, ST_INFO, ST_ERROR, ST_REFRESH_ERROR };

struct top_vm {
	char id[64];
	char state[24];
	char image[64];   /* image name (last ARN component) */
	char version[24];
	int64_t started;  /* epoch seconds, 0 if absent */
	/* hearth's own fields (the "hearth" member; absent on other servers) */
	int64_t active;   /* last endpoint activity, epoch seconds, 0 if absent */
	int64_t mem;      /* resident bytes of a running VM, -1 if absent */
	int64_t shells;   /* live shells, -1 if absent */
};

struct top {
	struct api a;
	int interval_s;
	struct top_vm *vms;
	size_t n;
	size_t sel, scroll;
	char sel_id[64];
	json_object *detail;     /* GetMicrovm of the selected VM, or NULL */
	char status[384];
	int status_kind;
	char confirm_id[64];     /* a terminate waiting for y/n */
	int colors;
	char refreshed[16];      /* HH:MM:SS of the last good refresh */
	int64_t next_refresh_ms;
	int quit;
};

/* A number field (epoch seconds, durations), 0 when absent. */
int64_t top_int(json_object *o, const char *key);
/* The same, dflt when absent. */
int64_t top_int_or(json_object *o, const char *key, int64_t dflt);

/* Paint the whole screen from t (adjusts t->scroll to keep the selection shown). */
void top_draw(struct top *t);

#endif
