/* test_httphead.c - head ends, lines, fields and lists shared by the head parsers (protocol/httphead.c) */
#include "protocol/httphead.h"
#include "test.h"

TEST(end_of_head)
{
	const char *h = "GET / HTTP/1.1\r\nA: b\r\n\r\nbody";
	size_t hl = strlen(h) - 4;
	CHECK_EQ(httphead_end(h, strlen(h), 1000), (int)hl);
	CHECK_EQ(httphead_end(h, hl - 1, 1000), HTTPHEAD_MORE);
	/* The blank line must lie within max: exactly max is fine, one short is too big. */
	CHECK_EQ(httphead_end(h, strlen(h), hl), (int)hl);
	CHECK_EQ(httphead_end(h, strlen(h), hl - 1), HTTPHEAD_E_TOOBIG);
	CHECK_EQ(httphead_end(h, hl - 1, hl - 1), HTTPHEAD_E_TOOBIG);
	CHECK_EQ(httphead_end(h, hl - 2, hl - 1), HTTPHEAD_MORE);
	/* A bare LF or CR is refused as soon as it shows, not when the head
	 * would time out: "\n\n" never ends a head. */
	CHECK_EQ(httphead_end("GET /\n\n", 7, 1000), HTTPHEAD_E_BAD);
	CHECK_EQ(httphead_end("GET /\n", 6, 1000), HTTPHEAD_E_BAD);
	CHECK_EQ(httphead_end("\n", 1, 1000), HTTPHEAD_E_BAD);
	CHECK_EQ(httphead_end("GET / HTTP/1.1\r\nA: b\n\r\n", 23, 1000), HTTPHEAD_E_BAD);
	CHECK_EQ(httphead_end("GET / HTTP/1.1\rA", 17, 1000), HTTPHEAD_E_BAD);
	/* A CR at the end of what came may still get its LF. */
	CHECK_EQ(httphead_end("GET / HTTP/1.1\r", 15, 1000), HTTPHEAD_MORE);
	/* Bytes after the head are the body's: never checked here. */
	CHECK_EQ(httphead_end("GET / HTTP/1.1\r\n\r\n\nx\r", 20, 1000), 18);
	CHECK_EQ(httphead_end("\r\n\r\n", 4, 1000), 4);
	CHECK_EQ(httphead_end("", 0, 1000), HTTPHEAD_MORE);
}

TEST(lines)
{
	const char h[] = "first\r\nA: b\r\n\r\n";
	struct httphead_lines it;
	const char *line;
	size_t ll;
	httphead_lines_init(&it, h, sizeof h - 1);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 1);
	CHECK(ll == 5 && memcmp(line, "first", 5) == 0);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 1);
	CHECK(ll == 4 && memcmp(line, "A: b", 4) == 0);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 0);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 0);
	/* An empty head has one empty first line. */
	httphead_lines_init(&it, "\r\n\r\n", 4);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 1);
	CHECK_EQ(ll, 0);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 0);
	/* Bare CR and bare LF inside a line are refused where the line is reached. */
	static const char *const bad[] = { "a\rb\r\n\r\n", "a\nb\r\n\r\n", "a\r\r\n\r\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		httphead_lines_init(&it, bad[i], strlen(bad[i]));
		CHECK_EQ(httphead_lines_next(&it, &line, &ll), HTTPHEAD_E_BAD);
	}
	httphead_lines_init(&it, "ok\r\nb\nad\r\n\r\n", 13);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), 1);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), HTTPHEAD_E_BAD);
	/* A region that breaks the contract (no CRLF at all) is refused, not overrun. */
	httphead_lines_init(&it, "abcdef", 6);
	CHECK_EQ(httphead_lines_next(&it, &line, &ll), HTTPHEAD_E_BAD);
}

struct seen {
	char first[32];
	char names[256];
	int fields;
	int first_rc, field_rc;
};

static int on_first(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;
	if (len >= sizeof s->first)
		return HTTPHEAD_E_TOOBIG;
	memcpy(s->first, line, len);
	s->first[len] = '\0';
	return s->first_rc;
}

static int on_field(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
	struct seen *s = ctx;
	size_t have = strlen(s->names);
	if (have + nl + vl + 3 > sizeof s->names)
		return -1;
	/* name=value| with the value as given (untrimmed) */
	memcpy(s->names + have, name, nl);
	s->names[have + nl] = '=';
	memcpy(s->names + have + nl + 1, value, vl);
	s->names[have + nl + 1 + vl] = '|';
	s->names[have + nl + 2 + vl] = '\0';
	s->fields++;
	return s->field_rc;
}

static const struct httphead_parser parser = { 64, 2, on_first, on_field };

TEST(parse_calls_back_in_order)
{
	struct seen s = { .first_rc = 0 };
	const char *h = "GET / HTTP/1.1\r\nHost:  x \r\nA:b:c\r\n\r\nrest";
	int n = httphead_parse(&parser, &s, NULL, 0, h, strlen(h));
	CHECK_EQ(n, (int)strlen(h) - 4);
	CHECK_STR(s.first, "GET / HTTP/1.1");
	CHECK_STR(s.names, "Host=  x |A=b:c|");
	CHECK_EQ(s.fields, 2);
}

TEST(parse_clears_only_a_whole_head)
{
	struct seen s;
	memset(&s, 'z', sizeof s);
	s.first_rc = s.field_rc = 0;
	CHECK_EQ(httphead_parse(&parser, &s, s.names, sizeof s.names, "GET /\r\n", 7), HTTPHEAD_MORE);
	CHECK_EQ(s.names[0], 'z');
	static char big[100];
	memset(big, 'a', sizeof big);
	CHECK_EQ(httphead_parse(&parser, &s, s.names, sizeof s.names, big, sizeof big),
		 HTTPHEAD_E_TOOBIG);
	CHECK_EQ(s.names[0], 'z');
	CHECK_EQ(httphead_parse(&parser, &s, s.names, sizeof s.names, "L\r\nA: 1\r\n\r\n", 11), 11);
	CHECK_STR(s.names, "A= 1|");
}

TEST(parse_refusals)
{
	static const struct {
		const char *head;
		int want;
	} cases[] = {
		{ "L\r\nno colon\r\n\r\n", HTTPHEAD_E_BAD },
		{ "L\r\n: empty name\r\n\r\n", HTTPHEAD_E_BAD },
		{ "L\r\nA: b\rc\r\n\r\n", HTTPHEAD_E_BAD },
		{ "L\r\nA: b\nc\r\n\r\n", HTTPHEAD_E_BAD },
		{ "L\r\nA: 1\r\nB: 2\r\n\r\n", 17 },                  /* fields_max fields */
		{ "L\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", HTTPHEAD_E_TOOBIG }, /* one more */
		{ "L\r\nA: 1\r\nB: 2\r\nno colon\r\n\r\n", HTTPHEAD_E_BAD }, /* bad before too many */
		{ "\r\n\r\n", 4 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct seen s = { .first_rc = 0 };
		CHECK_EQ(httphead_parse(&parser, &s, NULL, 0, cases[i].head, strlen(cases[i].head)),
			 cases[i].want);
	}
	/* A NUL anywhere in a line. */
	static const char nul[] = "L\r\nA: b\0c\r\n\r\n";
	struct seen s = { .first_rc = 0 };
	CHECK_EQ(httphead_parse(&parser, &s, NULL, 0, nul, sizeof nul - 1), HTTPHEAD_E_BAD);
	/* What the callbacks say: first_line's code as it is, a field's as too big. */
	s.first_rc = HTTPHEAD_E_BAD;
	CHECK_EQ(httphead_parse(&parser, &s, NULL, 0, "L\r\n\r\n", 5), HTTPHEAD_E_BAD);
	s.first_rc = HTTPHEAD_E_TOOBIG;
	CHECK_EQ(httphead_parse(&parser, &s, NULL, 0, "L\r\n\r\n", 5), HTTPHEAD_E_TOOBIG);
	memset(&s, 0, sizeof s);
	s.field_rc = -1;
	CHECK_EQ(httphead_parse(&parser, &s, NULL, 0, "L\r\nA: b\r\n\r\n", 11), HTTPHEAD_E_TOOBIG);
	CHECK_EQ(s.fields, 1);
}

TEST(trim_and_names)
{
	const char *p = " \t a b\t ";
	size_t n = strlen(p);
	httphead_trim(&p, &n);
	CHECK(n == 3 && memcmp(p, "a b", 3) == 0);
	p = " \t ";
	n = 3;
	httphead_trim(&p, &n);
	CHECK_EQ(n, 0);
	CHECK(httphead_name_is("Content-Length", 14, "content-length"));
	CHECK(!httphead_name_is("Content-Length", 13, "content-length"));
	CHECK(!httphead_name_is("Content-Lengths", 15, "content-length"));
	CHECK(httphead_name_is("", 0, ""));
}

TEST(lists)
{
	const char *p = " a ,,\tB c , ", *item;
	size_t n = strlen(p), il;
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 1);
	CHECK(il == 1 && item[0] == 'a');
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 1);
	CHECK_EQ(il, 0);
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 1);
	CHECK(il == 3 && memcmp(item, "B c", 3) == 0);
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 1);
	CHECK_EQ(il, 0);
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 0);
	/* "a," is one item; an empty list none. */
	p = "a,";
	n = 2;
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 1);
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 0);
	n = 0;
	CHECK_EQ(httphead_list_next(&p, &n, &item, &il), 0);
	const char *conn = "keep-alive, Upgrade";
	CHECK(httphead_list_has(conn, strlen(conn), "upgrade"));
	CHECK(httphead_list_has(conn, strlen(conn), "KEEP-ALIVE"));
	CHECK(!httphead_list_has(conn, strlen(conn), "keep"));
	CHECK(!httphead_list_has(conn, strlen(conn) - 1, "upgrade")); /* bounded by n */
	CHECK(!httphead_list_has("", 0, "x"));
}

TEST(bounded_copy)
{
	char out[4];
	memset(out, 'z', sizeof out);
	CHECK_EQ(httphead_copy(out, sizeof out, "  abcd ", 7), -1);
	CHECK_EQ(out[0], 'z'); /* untouched */
	CHECK_EQ(httphead_copy(out, sizeof out, " abc ", 5), 0);
	CHECK_STR(out, "abc");
	CHECK_EQ(httphead_copy(out, sizeof out, "\t\t", 2), 0);
	CHECK_STR(out, "");
	CHECK_EQ(httphead_copy(out, 0, "", 0), -1);
}

TEST(tchars_and_hex_digits)
{
	int n = 0;
	for (int c = 0; c < 256; c++)
		n += httphead_is_tchar(c);
	CHECK_EQ(n, 77); /* 62 letters and digits, 15 marks */
	CHECK(httphead_is_tchar('!') && httphead_is_tchar('~') && httphead_is_tchar('Z'));
	CHECK(!httphead_is_tchar(0) && !httphead_is_tchar(':') && !httphead_is_tchar(' '));
	CHECK(!httphead_is_tchar('"') && !httphead_is_tchar(0x7f) && !httphead_is_tchar(0xe9));
	CHECK_EQ(httphead_hexval('0'), 0);
	CHECK_EQ(httphead_hexval('9'), 9);
	CHECK_EQ(httphead_hexval('a'), 10);
	CHECK_EQ(httphead_hexval('F'), 15);
	CHECK_EQ(httphead_hexval('g'), -1);
	CHECK_EQ(httphead_hexval('G'), -1);
	CHECK_EQ(httphead_hexval('/'), -1);
	CHECK_EQ(httphead_hexval(0), -1);
}

TEST(decimal_numbers)
{
	uint64_t v = 7;
	CHECK_EQ(httphead_dec("0", 1, 10, &v), 0);
	CHECK_EQ(v, 0u);
	CHECK_EQ(httphead_dec("65535x", 5, 65535, &v), 0); /* bounded by n */
	CHECK_EQ(v, 65535u);
	v = 7;
	CHECK_EQ(httphead_dec("65536", 5, 65535, &v), -1);
	CHECK_EQ(httphead_dec("", 0, 10, &v), -1);
	CHECK_EQ(httphead_dec("+1", 2, 10, &v), -1);
	CHECK_EQ(httphead_dec(" 1", 2, 10, &v), -1);
	CHECK_EQ(httphead_dec("00000000000000000001", 20, UINT64_MAX, &v), -1); /* 20 digits */
	CHECK_EQ(v, 7u);
	CHECK_EQ(httphead_dec("9999999999999999999", 19, UINT64_MAX, &v), 0);
	CHECK(v == 9999999999999999999u);
}

TEST_MAIN(T(end_of_head), T(lines), T(parse_calls_back_in_order), T(parse_clears_only_a_whole_head),
	  T(parse_refusals), T(trim_and_names), T(lists), T(bounded_copy), T(tchars_and_hex_digits),
	  T(decimal_numbers))
