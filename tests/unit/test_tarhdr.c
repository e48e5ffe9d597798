/* test_tarhdr.c - ustar/pax header encode and decode, path checks. */
#include "protocol/tarhdr.h"
#include "tests/unit/test.h"

#include <stdint.h>

static uint8_t out[TARHDR_ENCODE_MAX];
static struct tar_entry e, d;

/* Decode what tarhdr_encode wrote; returns the bytes consumed or -1. */
static int decode_all(const uint8_t *p, int n, struct tar_entry *t)
{
	int off = 0;
	memset(t, 0, sizeof *t);
	while (off + TAR_BLOCK <= n) {
		int rc = tarhdr_decode(p + off, t);
		off += TAR_BLOCK;
		if (rc == TARHDR_PAX) {
			uint64_t hs = t->hdr_size;
			if (tarhdr_pax(p + off, (size_t)hs, t) != 0)
				return -1;
			off += (int)(hs + tarhdr_pad(hs));
			continue;
		}
		return rc == TARHDR_ENTRY ? off : -1;
	}
	return -1;
}

TEST(plain_file_is_one_ustar_block)
{
	memset(&e, 0, sizeof e);
	strcpy(e.path, "dir/file.txt");
	e.type = TAR_REG;
	e.mode = 0755;
	e.uid = 1000;
	e.gid = 100;
	e.size = 12345;
	e.mtime = 1700000000;
	int n = tarhdr_encode(&e, out, sizeof out);
	CHECK_EQ(n, TAR_BLOCK);
	CHECK_MEM(out + 257, "ustar\0" "00", 8);
	CHECK_EQ(decode_all(out, n, &d), n);
	CHECK_STR(d.path, "dir/file.txt");
	CHECK_EQ(d.type, TAR_REG);
	CHECK_EQ(d.mode, 0755u);
	CHECK_EQ(d.uid, 1000u);
	CHECK_EQ(d.gid, 100u);
	CHECK_EQ(d.size, 12345u);
	CHECK_EQ(d.mtime, 1700000000);
}

TEST(long_path_link_and_big_size_use_pax)
{
	memset(&e, 0, sizeof e);
	memset(e.path, 'p', 300);
	memset(e.link, 'l', 200);
	e.type = TAR_REG;
	e.mode = 0600;
	e.size = 20ull * 1024 * 1024 * 1024; /* past ustar's 8 GiB */
	e.uid = 5000000;                    /* past 7 octal digits */
	e.mtime = 5;
	int n = tarhdr_encode(&e, out, sizeof out);
	CHECK(n > TAR_BLOCK);
	CHECK_EQ(out[156], 'x');
	CHECK_EQ(decode_all(out, n, &d), n);
	CHECK_EQ(strlen(d.path), 300u);
	CHECK_EQ(strlen(d.link), 200u);
	CHECK_EQ(d.size, 20ull * 1024 * 1024 * 1024);
	CHECK_EQ(d.uid, 5000000u);
	CHECK_EQ(d.set, 0u);
}

TEST(directory_and_symlink_carry_no_data)
{
	memset(&e, 0, sizeof e);
	strcpy(e.path, "d");
	e.type = TAR_DIR;
	e.mode = 01777;
	int n = tarhdr_encode(&e, out, sizeof out);
	CHECK_EQ(decode_all(out, n, &d), n);
	CHECK_EQ(d.type, TAR_DIR);
	CHECK_EQ(d.mode, 01777u);
	CHECK_EQ(d.size, 0u);
	strcpy(e.path, "d/l");
	strcpy(e.link, "../target");
	e.type = TAR_SYMLINK;
	n = tarhdr_encode(&e, out, sizeof out);
	CHECK_EQ(decode_all(out, n, &d), n);
	CHECK_STR(d.link, "../target");
}

TEST(bad_checksum_and_zero_block)
{
	uint8_t z[TAR_BLOCK] = { 0 };
	CHECK_EQ(tarhdr_decode(z, &d), TARHDR_ZERO);
	memset(&e, 0, sizeof e);
	strcpy(e.path, "f");
	e.type = TAR_REG;
	int n = tarhdr_encode(&e, out, sizeof out);
	CHECK_EQ(n, TAR_BLOCK);
	out[0] = 'g';
	CHECK_EQ(tarhdr_decode(out, &d), TARHDR_BAD);
	memcpy(out + 257, "nope!", 5);
	CHECK_EQ(tarhdr_decode(out, &d), TARHDR_BAD);
}

TEST(pax_records_are_checked)
{
	memset(&d, 0, sizeof d);
	const char ok[] = "12 path=abc\n";
	CHECK_EQ(tarhdr_pax((const uint8_t *)ok, sizeof ok - 1, &d), 0);
	CHECK_STR(d.path, "abc");
	CHECK(d.set & TAR_SET_PATH);
	const char badlen[] = "99 path=abc\n";
	CHECK(tarhdr_pax((const uint8_t *)badlen, sizeof badlen - 1, &d) < 0);
	const char nonl[] = "12 path=abcd";
	CHECK(tarhdr_pax((const uint8_t *)nonl, sizeof nonl - 1, &d) < 0);
	const char badnum[] = "12 size=1x2\n";
	CHECK(tarhdr_pax((const uint8_t *)badnum, sizeof badnum - 1, &d) < 0);
	const char frac[] = "22 mtime=1700000000.5\n";
	CHECK_EQ(tarhdr_pax((const uint8_t *)frac, sizeof frac - 1, &d), 0);
	CHECK_EQ(d.mtime, 1700000000);
	const char ignored[] = "14 uname=root\n";
	CHECK_EQ(tarhdr_pax((const uint8_t *)ignored, sizeof ignored - 1, &d), 0);
}

TEST(encode_refuses_what_it_cannot_hold)
{
	memset(&e, 0, sizeof e);
	CHECK_EQ(tarhdr_encode(&e, out, sizeof out), -1); /* empty path */
	strcpy(e.path, "f");
	CHECK_EQ(tarhdr_encode(&e, out, 100), -1);
	memset(e.path, 'a', TAR_PATH_MAX + 1);
	e.path[TAR_PATH_MAX] = 'a';
	CHECK_EQ(tarhdr_encode(&e, out, sizeof out), -1);
}

TEST(path_check)
{
	char p[64];
	strcpy(p, "./a/b/");
	CHECK_EQ(tarhdr_path_check(p), 0);
	CHECK_STR(p, "a/b");
	strcpy(p, "a");
	CHECK_EQ(tarhdr_path_check(p), 0);
	strcpy(p, "/etc/passwd");
	CHECK_EQ(tarhdr_path_check(p), -1);
	strcpy(p, "a/../../x");
	CHECK_EQ(tarhdr_path_check(p), -1);
	strcpy(p, "..");
	CHECK_EQ(tarhdr_path_check(p), -1);
	strcpy(p, "a//b");
	CHECK_EQ(tarhdr_path_check(p), -1);
	strcpy(p, "./");
	CHECK_EQ(tarhdr_path_check(p), -1);
	strcpy(p, "a/..b");
	CHECK_EQ(tarhdr_path_check(p), 0);
}

TEST(pad)
{
	CHECK_EQ(tarhdr_pad(0), 0u);
	CHECK_EQ(tarhdr_pad(1), 511u);
	CHECK_EQ(tarhdr_pad(512), 0u);
	CHECK_EQ(tarhdr_pad(513), 511u);
}

TEST_MAIN(T(plain_file_is_one_ustar_block), T(long_path_link_and_big_size_use_pax),
	  T(directory_and_symlink_carry_no_data), T(bad_checksum_and_zero_block),
	  T(pax_records_are_checked), T(encode_refuses_what_it_cannot_hold), T(path_check), T(pad))
