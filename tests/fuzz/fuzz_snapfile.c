/* fuzz_snapfile.c - snapshot manifest parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "vmm/snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_manifest m;
	char err[256];
	snapfile_parse((const char *)data, size, &m, err, sizeof(err));
	return 0;
}
