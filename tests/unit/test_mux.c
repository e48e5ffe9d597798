/* Unit tests for protocol/mux.c: every message round-trips; every refusal. */
#include "protocol/mux.h"
#include "tests/unit/test.h"

#include <stdlib.h>

static struct mux_reader rdr;

/* Encode into b, then feed the whole buffer to a fresh reader: one frame. */
static int parse_one(struct buf *b, struct mux_frame *f)
{
	size_t used = 0;
	int rc;

	mux_reader_init(&rdr);
	rc = mux_reader_feed(&rdr, buf_ptr(b), buf_used(b), &used, f);
	if (rc == MUX_OK && used != buf_used(b))
		return -100;
	return rc;
}

static void hdr(uint8_t *h, uint8_t ver, uint8_t type, uint16_t res, uint32_t ch, uint32_t len)
{
	h[0] = ver;
	h[1] = type;
	put_be16(h + 2, res);
	put_be32(h + 4, ch);
	put_be32(h + 8, len);
}

TEST(hello_roundtrip)
{
	struct buf b;
	struct mux_frame f;
	struct mux_hello h;

	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_hello(&b, MUX_HELLO_F_HOST, 7, "hearthd/1"), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(f.hdr.type, MUX_HELLO);
	CHECK_EQ(f.hdr.channel, 0u);
	CHECK_EQ(mux_decode_hello(&f, &h), MUX_OK);
	CHECK_EQ(h.version, MUX_VERSION);
	CHECK_EQ(h.flags, MUX_HELLO_F_HOST);
	CHECK_EQ(h.features, 7u);
	CHECK(h.software.len == 9 && memcmp(h.software.p, "hearthd/1", 9) == 0);
	buf_free(&b);
}

TEST(ping_pong)
{
	struct buf b;
	struct mux_frame f;
	uint64_t c;

	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_ping(&b, MUX_PONG, 0x1122334455667788ull), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_ping(&f, &c), MUX_OK);
	CHECK_EQ(c, 0x1122334455667788ull);
	CHECK_EQ(mux_put_ping(&b, MUX_DATA, 1), MUX_E_PROTO);
	buf_free(&b);
}

TEST(open_shell_roundtrip)
{
	struct buf b;
	struct mux_frame f;
	static struct mux_open o, d;

	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_SHELL;
	o.window = 65536;
	o.term = mux_cstr("xterm-256color");
	o.has_size = 1;
	o.rows = 40;
	o.cols = 120;
	o.env[0] = mux_cstr("FOO=bar");
	o.env[1] = mux_cstr("LANG=C.UTF-8");
	o.nenv = 2;
	o.cwd = mux_cstr("/tmp");
	o.login = 1;
	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_open(&b, 5, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(f.hdr.channel, 5u);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK_EQ(d.kind, MUX_KIND_SHELL);
	CHECK_EQ(d.window, 65536u);
	CHECK(d.term.len == 14 && !memcmp(d.term.p, "xterm-256color", 14));
	CHECK(d.has_size && d.rows == 40 && d.cols == 120);
	CHECK_EQ(d.nenv, 2u);
	CHECK(d.env[1].len == 12 && !memcmp(d.env[1].p, "LANG=C.UTF-8", 12));
	CHECK(d.cwd.len == 4 && d.login == 1 && d.want_stdin == 0);
	buf_free(&b);
}

TEST(open_exec_and_tcp)
{
	struct buf b;
	struct mux_frame f;
	static struct mux_open o, d;

	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_EXEC;
	o.window = 1024;
	o.argv[0] = mux_cstr("/bin/echo");
	o.argv[1] = mux_cstr("hi");
	o.nargv = 2;
	o.want_stdin = 1;
	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_open(&b, 1, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK(d.nargv == 2 && d.argv[1].len == 2 && d.want_stdin);

	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_TCP;
	o.window = 1024;
	o.has_port = 1;
	o.port = 8080;
	o.host = mux_cstr("127.0.0.1");
	buf_reset(&b);
	CHECK_EQ(mux_put_open(&b, 2, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK(d.has_port && d.port == 8080 && d.host.len == 9);

	/* the FILES builtin (1.3.1) */
	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_EXEC;
	o.window = 1024;
	o.files_op = MUX_FILES_GET;
	o.files_flags = MUX_FILES_RECURSIVE;
	o.files_path = mux_cstr("/etc");
	buf_reset(&b);
	CHECK_EQ(mux_put_open(&b, 3, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK(d.files_op == MUX_FILES_GET && d.files_flags == MUX_FILES_RECURSIVE &&
	      d.files_path.len == 4 && !memcmp(d.files_path.p, "/etc", 4) && d.nargv == 0);

	/* the multi-root put of a build's COPY: the flag travels in byte 2 */
	o.files_op = MUX_FILES_PUT;
	o.files_flags = MUX_FILES_MULTI;
	o.want_stdin = 1;
	o.files_path = mux_cstr("/srv");
	buf_reset(&b);
	CHECK_EQ(mux_put_open(&b, 4, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK(d.files_op == MUX_FILES_PUT && d.files_flags == MUX_FILES_MULTI && d.want_stdin &&
	      d.files_path.len == 4 && !memcmp(d.files_path.p, "/srv", 4));

	/* DETACH (1.3.2): an exec flag, not with stdin; 512 env entries fit */
	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_EXEC;
	o.window = 1024;
	o.argv[0] = mux_cstr("httpd");
	o.nargv = 1;
	o.detach = 1;
	for (unsigned i = 0; i < MUX_MAX_ENV; i++)
		o.env[i] = mux_cstr("K=V");
	o.nenv = MUX_MAX_ENV;
	CHECK_EQ(MUX_MAX_ENV, 512);
	buf_reset(&b);
	CHECK_EQ(mux_put_open(&b, 4, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_OK);
	CHECK(d.detach && d.nenv == MUX_MAX_ENV && !d.want_stdin);
	o.want_stdin = 1;
	buf_reset(&b);
	CHECK_EQ(mux_put_open(&b, 5, &o), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_open(&f, &d), MUX_E_PROTO);
	buf_free(&b);
}

/* Hand-built OPEN payloads that must be refused. */
static int open_raw(const uint8_t *payload, uint32_t n)
{
	static uint8_t frame[MUX_HDR_LEN + 512];
	struct mux_frame f;
	static struct mux_open d;

	hdr(frame, MUX_VERSION, MUX_OPEN, 0, 3, n);
	memcpy(frame + MUX_HDR_LEN, payload, n);
	f.hdr.type = MUX_OPEN;
	f.hdr.channel = 3;
	f.hdr.length = n;
	f.payload = frame + MUX_HDR_LEN;
	return mux_decode_open(&f, &d);
}

TEST(open_dns_kind)
{
	/* kind 5 (dns) takes no fields; kind 4 is not defined here */
	const uint8_t dns[] = { 5, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t dnsterm[] = { 5, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 'x' };
	const uint8_t dnsport[] = { 5, 0, 0, 0, 0, 0, 1, 0, 10, 0, 2, 0, 53 };
	const uint8_t kind4[] = { 4, 0, 0, 0, 0, 0, 1, 0 };
	/* kind 6 (identity) takes no fields either; 7 is unknown */
	const uint8_t ident[] = { 6, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t identport[] = { 6, 0, 0, 0, 0, 0, 1, 0, 10, 0, 2, 0, 53 };
	const uint8_t kind7[] = { 7, 0, 0, 0, 0, 0, 1, 0 };
	struct buf b;
	struct mux_open o;
	CHECK_EQ(open_raw(dns, sizeof(dns)), MUX_OK);
	CHECK_EQ(open_raw(dnsterm, sizeof(dnsterm)), MUX_E_KIND);
	CHECK_EQ(open_raw(dnsport, sizeof(dnsport)), MUX_E_KIND);
	CHECK_EQ(open_raw(kind4, sizeof(kind4)), MUX_E_KIND);
	CHECK_EQ(open_raw(ident, sizeof(ident)), MUX_OK);
	CHECK_EQ(open_raw(identport, sizeof(identport)), MUX_E_KIND);
	CHECK_EQ(open_raw(kind7, sizeof(kind7)), MUX_E_KIND);
	buf_init(&b, 4096);
	memset(&o, 0, sizeof(o));
	o.kind = MUX_KIND_DNS;
	o.window = 65536;
	CHECK_EQ(mux_put_open(&b, 7, &o), MUX_OK);
	o.kind = 4;
	CHECK_EQ(mux_put_open(&b, 8, &o), MUX_E_PROTO);
	buf_free(&b);
}

TEST(open_refusals)
{
	/* kind 9 */
	const uint8_t badkind[] = { 9, 0, 0, 0, 0, 0, 1, 0 };
	/* window 0 */
	const uint8_t win0[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	/* unknown tag 99 */
	const uint8_t badtag[] = { 1, 0, 0, 0, 0, 0, 1, 0, 99, 0, 0 };
	/* TLV length past the end */
	const uint8_t trunc[] = { 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 50, 'x' };
	/* PORT on a shell */
	const uint8_t wrongkind[] = { 1, 0, 0, 0, 0, 0, 1, 0, 10, 0, 2, 0, 80 };
	/* exec with neither argv nor cmdline */
	const uint8_t noargv[] = { 2, 0, 0, 0, 0, 0, 1, 0 };
	/* exec with both */
	const uint8_t both[] = { 2, 0, 0, 0, 0, 0, 1, 0, 7, 0, 1, 'a', 8, 0, 1, 'b' };
	/* string with a NUL */
	const uint8_t nul[] = { 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2, 'x', 0 };
	/* env without '=' */
	const uint8_t env[] = { 1, 0, 0, 0, 0, 0, 1, 0, 3, 0, 3, 'a', 'b', 'c' };
	/* TERM twice */
	const uint8_t dup[] = { 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 'a', 1, 0, 1, 'b' };
	/* tcp without port; tcp port 0 */
	const uint8_t noport[] = { 3, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t port0[] = { 3, 0, 0, 0, 0, 0, 1, 0, 10, 0, 2, 0, 0 };
	/* reserved bytes set */
	const uint8_t res[] = { 1, 1, 0, 0, 0, 0, 1, 0 };
	/* window above max */
	const uint8_t bigwin[] = { 1, 0, 0, 0, 0xff, 0, 0, 0 };
	/* header cut short */
	const uint8_t shorth[] = { 1, 0, 0 };
	/* FILES: with argv; unknown op; unknown flag; PUT without STDIN; empty path; on a shell */
	const uint8_t fargv[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 2, 0, '/', 7, 0, 1, 'a' };
	const uint8_t fop[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 9, 0, '/' };
	const uint8_t fflag[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 2, 4, '/' };
	const uint8_t fput[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 1, 0, '/' };
	const uint8_t fputok[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 1, 0, '/', 9, 0, 0 };
	/* MULTI (0x02) is a PUT's flag: with GET refused, with PUT accepted */
	const uint8_t fmultiget[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 2, 2, '/' };
	const uint8_t fmultiput[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 1, 2, '/', 9, 0, 0 };
	const uint8_t fempty[] = { 2, 0, 0, 0, 0, 0, 1, 0, 13, 0, 2, 2, 0 };
	const uint8_t fshell[] = { 1, 0, 0, 0, 0, 0, 1, 0, 13, 0, 3, 2, 0, '/' };

	CHECK_EQ(open_raw(badkind, sizeof(badkind)), MUX_E_KIND);
	CHECK_EQ(open_raw(win0, sizeof(win0)), MUX_E_PROTO);
	CHECK_EQ(open_raw(badtag, sizeof(badtag)), MUX_E_KIND);
	CHECK_EQ(open_raw(trunc, sizeof(trunc)), MUX_E_PROTO);
	CHECK_EQ(open_raw(wrongkind, sizeof(wrongkind)), MUX_E_KIND);
	/* CMDLINE on a shell (a command on a pty) is allowed; STDIN is not. */
	const uint8_t shcmd[] = { 1, 0, 0, 0, 0, 0, 1, 0, 8, 0, 2, 'l', 's' };
	const uint8_t shstdin[] = { 1, 0, 0, 0, 0, 0, 1, 0, 9, 0, 0 };
	CHECK_EQ(open_raw(shcmd, sizeof(shcmd)), MUX_OK);
	CHECK_EQ(open_raw(shstdin, sizeof(shstdin)), MUX_E_KIND);
	CHECK_EQ(open_raw(noargv, sizeof(noargv)), MUX_E_PROTO);
	CHECK_EQ(open_raw(both, sizeof(both)), MUX_E_PROTO);
	CHECK_EQ(open_raw(nul, sizeof(nul)), MUX_E_PROTO);
	CHECK_EQ(open_raw(env, sizeof(env)), MUX_E_PROTO);
	CHECK_EQ(open_raw(dup, sizeof(dup)), MUX_E_PROTO);
	CHECK_EQ(open_raw(noport, sizeof(noport)), MUX_E_PROTO);
	CHECK_EQ(open_raw(port0, sizeof(port0)), MUX_E_PROTO);
	CHECK_EQ(open_raw(res, sizeof(res)), MUX_E_PROTO);
	CHECK_EQ(open_raw(bigwin, sizeof(bigwin)), MUX_E_PROTO);
	CHECK_EQ(open_raw(shorth, sizeof(shorth)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fargv, sizeof(fargv)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fop, sizeof(fop)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fflag, sizeof(fflag)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fput, sizeof(fput)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fputok, sizeof(fputok)), MUX_OK);
	CHECK_EQ(open_raw(fmultiget, sizeof(fmultiget)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fmultiput, sizeof(fmultiput)), MUX_OK);
	CHECK_EQ(open_raw(fempty, sizeof(fempty)), MUX_E_PROTO);
	CHECK_EQ(open_raw(fshell, sizeof(fshell)), MUX_E_KIND);
}

TEST(open_limits)
{
	struct buf b;
	static struct mux_open o;
	char term[MUX_MAX_TERM + 2];

	memset(&o, 0, sizeof(o));
	memset(term, 'x', sizeof(term) - 1);
	term[sizeof(term) - 1] = 0;
	o.kind = MUX_KIND_SHELL;
	o.window = 1;
	o.term = mux_cstr(term);
	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_open(&b, 1, &o), MUX_E_LIMIT);
	CHECK_EQ(buf_used(&b), 0u); /* nothing half-written */
	buf_free(&b);
}

TEST(small_messages)
{
	struct buf b;
	struct mux_frame f;
	struct mux_open_ok ok;
	struct mux_fail fl;
	struct mux_data d;
	struct mux_resize rz = { 50, 132, 0, 0 }, rz2;
	struct mux_exit ex = { MUX_EXIT_SIGNAL, 1, 9 }, ex2;
	uint32_t w;
	uint8_t u;

	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_open_ok(&b, 4, 4096, 1234), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_open_ok(&f, &ok) == MUX_OK && ok.window == 4096 && ok.pid == 1234);

	buf_reset(&b);
	CHECK_EQ(mux_put_fail(&b, MUX_OPEN_FAIL, 4, MUX_E_SPAWN, "no such file"), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_fail(&f, &fl) == MUX_OK && fl.code == MUX_E_SPAWN && fl.msg.len == 12);
	CHECK_EQ(mux_put_fail(&b, MUX_OPEN_FAIL, 0, 1, "x"), MUX_E_PROTO);

	buf_reset(&b);
	CHECK_EQ(mux_put_data(&b, 4, MUX_STREAM_STDERR, "oops", 4), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_data(&f, &d) == MUX_OK && d.stream == 2 && d.len == 4);
	CHECK_MEM(d.p, "oops", 4);

	buf_reset(&b);
	CHECK_EQ(mux_put_window(&b, 4, 100), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_window(&f, &w) == MUX_OK && w == 100);
	CHECK_EQ(mux_put_window(&b, 4, 0), MUX_E_PROTO);

	buf_reset(&b);
	CHECK_EQ(mux_put_resize(&b, 4, &rz), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_resize(&f, &rz2) == MUX_OK && rz2.rows == 50 && rz2.cols == 132);

	buf_reset(&b);
	CHECK_EQ(mux_put_signal(&b, 4, 2), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_signal(&f, &u) == MUX_OK && u == 2);
	CHECK_EQ(mux_put_signal(&b, 4, 0), MUX_E_PROTO);

	buf_reset(&b);
	CHECK_EQ(mux_put_eof(&b, 4, MUX_STREAM_STDOUT), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_eof(&f, &u) == MUX_OK && u == 1);

	buf_reset(&b);
	CHECK_EQ(mux_put_exit(&b, 4, &ex), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_exit(&f, &ex2) == MUX_OK && ex2.how == 1 && ex2.core == 1 && ex2.value == 9);

	buf_reset(&b);
	CHECK_EQ(mux_put_close(&b, 4), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK_EQ(mux_decode_close(&f), MUX_OK);
	CHECK_EQ(f.hdr.length, 0u);
	buf_free(&b);
}

TEST(data_limits)
{
	struct buf b;
	uint8_t *big = calloc(1, MUX_MAX_PAYLOAD + 1);
	struct mux_frame f;
	struct mux_data d;

	CHECK(big != NULL);
	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_data(&b, 1, 0, big, MUX_MAX_DATA + 1), MUX_E_LIMIT);
	CHECK_EQ(mux_put_data(&b, 1, 0, big, MUX_MAX_DATA), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_data(&f, &d) == MUX_OK && d.len == MUX_MAX_DATA);
	CHECK_EQ(mux_put_data(&b, 0, 0, "x", 1), MUX_E_PROTO); /* not on the control channel */
	CHECK_EQ(mux_put_data(&b, 1, 3, "x", 1), MUX_E_PROTO); /* no such stream */
	buf_free(&b);
	/* A full buffer refuses the whole frame. */
	buf_init(&b, 20);
	CHECK_EQ(mux_put_data(&b, 1, 0, big, 10), MUX_E_LIMIT);
	CHECK_EQ(buf_used(&b), 0u);
	buf_free(&b);
	free(big);
}

TEST(ctl_messages)
{
	struct buf b, body;
	struct mux_frame f;
	struct mux_ctl_req q;
	struct mux_ctl_resp p;
	struct mux_chan_info ci;
	uint8_t t[12];
	uint64_t sec;
	uint32_t nsec, count;
	struct mux_str s;
	struct rd r;
	uint8_t tag;

	buf_init(&b, 1 << 20);
	put_be64(t, 1700000000ull);
	put_be32(t + 8, 5);
	CHECK_EQ(mux_put_ctl_req(&b, 77, MUX_CTL_TIME, t, 12), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_ctl_req(&f, &q) == MUX_OK && q.id == 77 && q.op == MUX_CTL_TIME);
	CHECK_EQ(mux_decode_ctl_time(q.arg, q.arglen, &sec, &nsec), MUX_OK);
	CHECK(sec == 1700000000ull && nsec == 5);
	put_be32(t + 8, 1000000000u);
	CHECK_EQ(mux_decode_ctl_time(t, 12, &sec, &nsec), MUX_E_PROTO);
	CHECK_EQ(mux_put_ctl_req(&b, 1, 99, NULL, 0), MUX_E_PROTO);
	/* NET_RESET is the last op; the next one is unknown */
	buf_reset(&b);
	CHECK_EQ(mux_put_ctl_req(&b, 78, MUX_CTL_NET_RESET, NULL, 0), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_ctl_req(&f, &q) == MUX_OK && q.op == MUX_CTL_NET_RESET && q.arglen == 0);
	CHECK_EQ(mux_put_ctl_req(&b, 1, MUX_CTL_NET_RESET + 1, NULL, 0), MUX_E_PROTO);

	/* LIST reply with one entry */
	buf_init(&body, 4096);
	CHECK(!buf_put_u32(&body, 1) && !buf_put_u32(&body, 9) && !buf_put_u8(&body, 1) &&
	      !buf_put_u8(&body, 0) && !buf_put_u32(&body, 4242));
	buf_reset(&b);
	CHECK_EQ(mux_put_ctl_resp(&b, 78, 0, buf_ptr(&body), buf_used(&body)), MUX_OK);
	CHECK_EQ(parse_one(&b, &f), MUX_OK);
	CHECK(mux_decode_ctl_resp(&f, &p) == MUX_OK && p.id == 78 && p.status == 0);
	CHECK(mux_decode_list(p.body, p.bodylen, &count) == MUX_OK && count == 1);
	CHECK(mux_decode_list_entry(p.body, p.bodylen, 0, &ci) == MUX_OK);
	CHECK(ci.id == 9 && ci.kind == 1 && ci.pid == 4242);
	CHECK_EQ(mux_decode_list_entry(p.body, p.bodylen, 1, &ci), MUX_E_PROTO);
	CHECK_EQ(mux_decode_list(p.body, p.bodylen - 1, &count), MUX_E_PROTO);

	/* INFO TLVs */
	buf_reset(&body);
	CHECK_EQ(mux_put_tlv(&body, MUX_INFO_HOSTNAME, "vm1", 3), MUX_OK);
	CHECK_EQ(mux_put_tlv_u64(&body, MUX_INFO_UPTIME, 1234), MUX_OK);
	r = rd_make(buf_ptr(&body), buf_used(&body));
	CHECK(mux_info_next(&r, &tag, &s) == MUX_OK && tag == MUX_INFO_HOSTNAME && s.len == 3);
	CHECK(mux_info_next(&r, &tag, &s) == MUX_OK && tag == MUX_INFO_UPTIME && s.len == 8);
	CHECK_EQ(get_be64((const uint8_t *)s.p), 1234u);
	CHECK_EQ(mux_info_next(&r, &tag, &s), MUX_AGAIN);

	/* hostnames */
	buf_reset(&body);
	CHECK_EQ(buf_put_str16(&body, "vm-1.local", 10), BUF_OK);
	CHECK_EQ(mux_decode_ctl_hostname(buf_ptr(&body), (uint32_t)buf_used(&body), &s), MUX_OK);
	buf_reset(&body);
	CHECK_EQ(buf_put_str16(&body, "a b", 3), BUF_OK);
	CHECK_EQ(mux_decode_ctl_hostname(buf_ptr(&body), (uint32_t)buf_used(&body), &s), MUX_E_PROTO);
	buf_free(&body);
	buf_free(&b);
}

TEST(reader_refusals_stay_in_sync)
{
	/* Frames: bad version (len 3), unknown type (len 2), oversized (skipped),
	 * DATA on channel 0, then a good CLOSE: the reader must land on it. */
	static uint8_t s[4096];
	size_t n = 0, used, pos = 0;
	struct mux_frame f;
	int rcs[8], nrc = 0, rc;

	hdr(s + n, 9, MUX_DATA, 0, 1, 3);
	n += MUX_HDR_LEN + 3;
	hdr(s + n, MUX_VERSION, 0x7f, 0, 1, 2);
	n += MUX_HDR_LEN + 2;
	hdr(s + n, MUX_VERSION, MUX_DATA, 1, 1, 1); /* reserved non-zero */
	n += MUX_HDR_LEN + 1;
	hdr(s + n, MUX_VERSION, MUX_DATA, 0, 0, 1); /* data on channel 0 */
	n += MUX_HDR_LEN + 1;
	hdr(s + n, MUX_VERSION, MUX_CLOSE, 0, 6, 0);
	n += MUX_HDR_LEN;
	mux_reader_init(&rdr);
	while (pos < n && nrc < 8) {
		rc = mux_reader_feed(&rdr, s + pos, n - pos, &used, &f);
		pos += used;
		if (rc != MUX_AGAIN)
			rcs[nrc++] = rc;
	}
	CHECK_EQ(nrc, 5);
	CHECK_EQ(rcs[0], MUX_E_VERSION);
	CHECK_EQ(rcs[1], MUX_E_TYPE);
	CHECK_EQ(rcs[2], MUX_E_PROTO);
	CHECK_EQ(rcs[3], MUX_E_PROTO);
	CHECK_EQ(rcs[4], MUX_OK);
	CHECK(f.hdr.type == MUX_CLOSE && f.hdr.channel == 6);
}

TEST(reader_oversized_skipped_bytewise)
{
	/* An oversized frame's payload is discarded without buffering, even when
	 * it arrives one byte at a time, and the next frame still parses. */
	static uint8_t s[MUX_HDR_LEN * 2 + 70000];
	size_t n = 0, used;
	struct mux_frame f;
	int toobig = 0, ok = 0, rc;

	hdr(s, MUX_VERSION, MUX_DATA, 0, 1, 70000);
	n = MUX_HDR_LEN + 70000;
	hdr(s + n, MUX_VERSION, MUX_CLOSE, 0, 2, 0);
	n += MUX_HDR_LEN;
	mux_reader_init(&rdr);
	for (size_t i = 0; i < n; i++) {
		rc = mux_reader_feed(&rdr, s + i, 1, &used, &f);
		CHECK_EQ(used, 1u);
		if (rc == MUX_E_TOOBIG) {
			toobig++;
			CHECK_EQ(f.hdr.channel, 1u);
		} else if (rc == MUX_OK) {
			ok++;
			CHECK_EQ(f.hdr.channel, 2u);
		}
	}
	CHECK_EQ(toobig, 1);
	CHECK_EQ(ok, 1);
}

TEST(reader_split_everywhere)
{
	/* A frame split at every possible point parses the same. */
	struct buf b;
	struct mux_frame f;
	struct mux_data d;
	size_t total, used;
	int rc;

	buf_init(&b, 1 << 20);
	CHECK_EQ(mux_put_data(&b, 3, 0, "hello world", 11), MUX_OK);
	total = buf_used(&b);
	for (size_t cut = 0; cut <= total; cut++) {
		mux_reader_init(&rdr);
		rc = mux_reader_feed(&rdr, buf_ptr(&b), cut, &used, &f);
		CHECK_EQ(used, cut);
		if (cut < total) {
			CHECK_EQ(rc, MUX_AGAIN);
			rc = mux_reader_feed(&rdr, buf_ptr(&b) + cut, total - cut, &used, &f);
			CHECK_EQ(used, total - cut);
		}
		CHECK_EQ(rc, MUX_OK);
		CHECK(mux_decode_data(&f, &d) == MUX_OK && d.len == 11);
		CHECK_MEM(d.p, "hello world", 11);
	}
	buf_free(&b);
}

TEST(trailing_bytes_refused)
{
	uint8_t fr[MUX_HDR_LEN + 6];
	struct mux_frame f;
	uint32_t w;

	hdr(fr, MUX_VERSION, MUX_WINDOW, 0, 1, 6);
	put_be32(fr + MUX_HDR_LEN, 10);
	f.hdr.type = MUX_WINDOW;
	f.hdr.channel = 1;
	f.hdr.length = 6;
	f.payload = fr + MUX_HDR_LEN;
	CHECK_EQ(mux_decode_window(&f, &w), MUX_E_PROTO);
	f.hdr.length = 4;
	CHECK_EQ(mux_decode_window(&f, &w), MUX_OK);
	f.hdr.length = 3;
	CHECK_EQ(mux_decode_window(&f, &w), MUX_E_PROTO);
}

TEST(names)
{
	CHECK_STR(mux_type_name(MUX_DATA), "DATA");
	CHECK(mux_type_name(0x7f) == NULL);
	CHECK_STR(mux_strerror(MUX_E_WINDOW), "data beyond window");
	CHECK_STR(mux_strerror(-999), "unknown error");
}

TEST_MAIN(T(hello_roundtrip), T(ping_pong), T(open_shell_roundtrip), T(open_exec_and_tcp),
	  T(open_dns_kind), T(open_refusals), T(open_limits), T(small_messages), T(data_limits),
	  T(ctl_messages),
	  T(reader_refusals_stay_in_sync), T(reader_oversized_skipped_bytewise),
	  T(reader_split_everywhere), T(trailing_bytes_refused), T(names))
