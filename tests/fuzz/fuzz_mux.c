/*
 * fuzz_mux.c - libFuzzer target for the agent protocol decoder. Feeds the
 * input through the stream reader in uneven chunks and runs every frame it
 * yields through every body decoder; re-encodes what decodes and checks the
 * result decodes to the same values.
 */
#include "protocol/mux.h"

#include <stdlib.h>
#include <string.h>

static struct mux_reader rdr;
static struct mux_open op, op2;

static void reencode_open(const struct mux_open *o)
{
	struct buf b;
	struct mux_reader *r2 = malloc(sizeof(*r2));
	struct mux_frame f;
	size_t used;

	if (r2 == NULL)
		return;
	buf_init(&b, 1 << 20);
	if (mux_put_open(&b, 1, o) == MUX_OK) {
		mux_reader_init(r2);
		if (mux_reader_feed(r2, buf_ptr(&b), buf_used(&b), &used, &f) != MUX_OK ||
		    mux_decode_open(&f, &op2) != MUX_OK || op2.kind != o->kind ||
		    op2.nenv != o->nenv || op2.nargv != o->nargv || op2.port != o->port)
			abort();
	}
	buf_free(&b);
	free(r2);
}

static void decode_all(const struct mux_frame *f)
{
	struct mux_hello h;
	struct mux_open_ok ok;
	struct mux_fail fl;
	struct mux_data d;
	struct mux_resize rz;
	struct mux_exit ex;
	struct mux_ctl_req q;
	struct mux_ctl_resp p;
	struct mux_chan_info ci;
	struct mux_str s;
	uint64_t u64;
	uint32_t u32, count;
	uint8_t u8, tag;
	struct rd r;

	(void)mux_decode_hello(f, &h);
	(void)mux_decode_ping(f, &u64);
	if (mux_decode_open(f, &op) == MUX_OK)
		reencode_open(&op);
	(void)mux_decode_open_ok(f, &ok);
	(void)mux_decode_fail(f, &fl);
	if (mux_decode_data(f, &d) == MUX_OK && d.len > MUX_MAX_DATA)
		abort();
	(void)mux_decode_window(f, &u32);
	(void)mux_decode_resize(f, &rz);
	(void)mux_decode_signal(f, &u8);
	(void)mux_decode_eof(f, &u8);
	(void)mux_decode_exit(f, &ex);
	(void)mux_decode_close(f);
	if (mux_decode_ctl_req(f, &q) == MUX_OK) {
		(void)mux_decode_ctl_time(q.arg, q.arglen, &u64, &u32);
		(void)mux_decode_ctl_hostname(q.arg, q.arglen, &s);
	}
	if (mux_decode_ctl_resp(f, &p) == MUX_OK) {
		if (mux_decode_list(p.body, p.bodylen, &count) == MUX_OK)
			for (uint32_t i = 0; i < count; i++)
				if (mux_decode_list_entry(p.body, p.bodylen, i, &ci) != MUX_OK)
					abort();
		r = rd_make(p.body, p.bodylen);
		while (mux_info_next(&r, &tag, &s) == MUX_OK)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mux_frame f;
	size_t pos = 0, used, chunk;
	int rc;

	mux_reader_init(&rdr);
	/* First byte picks the chunk size so split frames get exercised. */
	chunk = size ? (size_t)(data[0] % 37) + 1 : 1;
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		size_t off = 0;
		while (off < n) {
			rc = mux_reader_feed(&rdr, data + pos + off, n - off, &used, &f);
			if (used > n - off)
				abort();
			off += used;
			if (rc == MUX_OK)
				decode_all(&f);
			else if (rc == MUX_AGAIN)
				break;
		}
		pos += n;
	}
	return 0;
}
