/*
 * fuzz_tarhdr.c - libFuzzer target for the tar header decoder: walks the
 * input as a tar stream (headers, pax records, skipped data), checks every
 * decoded path with tarhdr_path_check, re-encodes each entry and checks the
 * encoding decodes back to the same fields.
 */
#include "protocol/tarhdr.h"

#include <stdlib.h>
#include <string.h>

static struct tar_entry e, back;
static uint8_t enc[TARHDR_ENCODE_MAX];

static void roundtrip(void)
{
	int n = tarhdr_encode(&e, enc, sizeof enc);
	if (n < 0)
		return;
	if (n % TAR_BLOCK)
		abort();
	memset(&back, 0, sizeof back);
	int off = 0;
	for (;;) {
		if (off + TAR_BLOCK > n)
			abort();
		int rc = tarhdr_decode(enc + off, &back);
		off += TAR_BLOCK;
		if (rc == TARHDR_PAX) {
			uint64_t hs = back.hdr_size;
			if (off + (int)hs > n || tarhdr_pax(enc + off, (size_t)hs, &back))
				abort();
			off += (int)(hs + tarhdr_pad(hs));
			continue;
		}
		if (rc != TARHDR_ENTRY || off != n)
			abort();
		break;
	}
	if (strcmp(back.path, e.path) || back.mode != (e.mode & 07777) || back.uid != e.uid ||
	    back.gid != e.gid || (e.type == TAR_REG && back.size != e.size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	memset(&e, 0, sizeof e);
	while (off + TAR_BLOCK <= size) {
		int rc = tarhdr_decode(data + off, &e);
		off += TAR_BLOCK;
		if (rc == TARHDR_ZERO || rc < 0)
			continue;
		if (rc == TARHDR_PAX) {
			if (e.hdr_size > size - off)
				break;
			size_t n = (size_t)e.hdr_size;
			if (n > size - off)
				break;
			tarhdr_pax(data + off, n, &e);
			off += n + tarhdr_pad(n);
			continue;
		}
		if (rc == TARHDR_SKIP) {
			uint64_t hs = e.hdr_size + tarhdr_pad(e.hdr_size);
			if (hs > size - off)
				break;
			off += (size_t)hs;
			continue;
		}
		struct tar_entry keep = e;
		int plain = e.type == TAR_REG || e.type == TAR_DIR || e.type == TAR_SYMLINK;
		if (plain && e.mtime >= 0 && tarhdr_path_check(e.path) == 0) {
			if (e.path[0] == '/' || strstr(e.path, "//"))
				abort();
			roundtrip();
		}
		e = keep;
		uint64_t skip = e.size + tarhdr_pad(e.size);
		if (skip > size - off)
			break;
		off += (size_t)skip;
	}
	return 0;
}
