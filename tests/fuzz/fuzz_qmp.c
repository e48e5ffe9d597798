/* fuzz_qmp.c - QMP reader + parser on arbitrary bytes from "QEMU". */
#include <stddef.h>
#include <stdint.h>

#include "vmm/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_reader r;
	qmp_reader_init(&r);
	while (size) {
		const char *line;
		size_t len, used;
		/* Feed in uneven pieces to exercise line joining. */
		size_t piece = (size_t)(data[0] % 64) + 1;
		if (piece > size)
			piece = size;
		int rc = qmp_reader_feed(&r, data, piece, &used, &line, &len);
		data += used, size -= used;
		if (rc < 0)
			break;
		if (rc == QMP_OK) {
			struct qmp_msg m;
			if (qmp_parse(line, len, &m) == QMP_OK)
				qmp_msg_free(&m);
		}
	}
	qmp_reader_free(&r);
	return 0;
}
