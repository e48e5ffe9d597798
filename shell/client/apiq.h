/*
 * apiq.h - API calls that return their error as text instead of printing it:
 * for the full-screen `hearth top` and the prompt's completion, where stderr
 * belongs to the screen.
 */
#ifndef HEARTH_APIQ_H
#define HEARTH_APIQ_H

#include <stddef.h>

#include <json-c/json.h>

#include "shell/client/api.h"

/* One request with an optional JSON body. On 2xx returns 0 and *out (NULL
 * for an empty body); otherwise -1 and err holds "ErrorType: message" or why
 * the API could not be reached. api_call is this plus printing. */
int apiq_call(const struct api *a, const char *method, const char *path, json_object *body,
	      json_object **out, char *err, size_t errlen);

/* Every page of ListMicrovms (at most max_pages pages) into *items, a new
 * array. 0, or -1 with err set and *items NULL. */
int apiq_list_vms(const struct api *a, int max_pages, json_object **items, char *err,
		  size_t errlen);

#endif
