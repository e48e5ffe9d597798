/* fuzz_ramdelta.c - memory delta records (vmm/ramfile.h) applied to a small
 * in-memory RAM file: arbitrary bytes are refused or stay inside it. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/ramfile.h"

#define RAM (64 * 4096)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int d = memfd_create("delta", 0), m = memfd_create("ram", 0);
	char err[256];
	if (d >= 0 && m >= 0 && ftruncate(m, RAM) == 0 &&
	    write(d, data, size) == (ssize_t)size) {
		ramfile_apply_delta(d, m, RAM, err, sizeof(err));
		if (lseek(m, 0, SEEK_END) != RAM)
			__builtin_trap(); /* a record wrote past the RAM */
	}
	if (d >= 0)
		close(d);
	if (m >= 0)
		close(m);
	return 0;
}
