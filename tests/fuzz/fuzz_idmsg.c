/* fuzz_idmsg.c - identity frames from arbitrary bytes fed in arbitrary
 * pieces: the reader never returns a body past its buffer, a message it
 * returns re-encodes to the bytes it came from, and the audience rule agrees
 * with a byte-by-byte check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/idmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rb[IDMSG_HDR + IDMSG_REQ_MAX];
	struct idmsg_reader r;
	struct idmsg m;
	struct buf b;
	size_t off = 1, used;
	if (size < 1)
		return 0;
	/* The first byte picks the piece size, so splits are explored too. */
	size_t piece = (size_t)data[0] % 17 + 1;
	idmsg_reader_init(&r, rb, (size_t)data[0] < 128 ? sizeof rb : IDMSG_HDR + 16);
	buf_init(&b, IDMSG_HDR + IDMSG_MAX_BODY);
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		int rc = idmsg_feed(&r, data + off, n, &used, &m);
		if (used > n)
			abort();
		off += used;
		if (rc < 0)
			break;
		if (rc == 1) {
			if (m.body + m.len > r.buf + r.cap || m.body < r.buf)
				abort();
			buf_reset(&b);
			if (idmsg_put(&b, m.id, m.status, m.body, m.len) != 0 ||
			    buf_used(&b) != IDMSG_HDR + (size_t)m.len ||
			    memcmp(buf_ptr(&b), r.buf, buf_used(&b)) != 0)
				abort();
			int ok = m.len >= 1 && m.len <= IDMSG_AUD_MAX;
			for (size_t i = 0; ok && i < m.len; i++)
				ok = m.body[i] > 0x20 && m.body[i] < 0x7f;
			if (ok != idmsg_audience_ok(m.body, m.len))
				abort();
		} else if (used != n) {
			abort();
		}
	}
	buf_free(&b);
	return 0;
}
