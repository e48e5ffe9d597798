/* fuzz_shellmsg.c - shellmsg_parse on arbitrary bytes; an accepted frame
 * is a resize, and the error frame encoder takes any reason text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/shellmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shellmsg m;
	char err[256], out[512];
	err[0] = '\0';
	if (shellmsg_parse((const char *)data, size, &m, err, sizeof err) == 0) {
		if (m.type != SHELLMSG_RESIZE)
			abort();
	} else {
		if (err[0] == '\0')
			abort();
		if (shellmsg_error(out, sizeof out, err) < 0)
			abort();
	}
	return 0;
}
