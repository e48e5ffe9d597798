/* test_dfword.c - the reference's word expansion and quoting rules, as a table. */
#include <stdlib.h>

#include "protocol/dfword.h"
#include "tests/unit/test.h"

static const char *const vars[][2] = {
	{ "FOO", "foo" }, { "EMPTY", "" }, { "SP", "a b" }, { "X_1", "x1" },
};

static const char *look(void *ctx, const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (strlen(vars[i][0]) == len && !memcmp(vars[i][0], name, len))
			return vars[i][1];
	return NULL;
}

struct wcase {
	const char *in;
	char esc;
	int flags;
	const char *out; /* NULL: must fail */
};

static const struct wcase wcases[] = {
	{ "$FOO", '\\', 0, "foo" },
	{ "${FOO}", '\\', 0, "foo" },
	{ "${FOO}bar", '\\', 0, "foobar" },
	{ "$FOO_bar", '\\', 0, "" }, /* the name runs on */
	{ "$X_1/$FOO.txt", '\\', 0, "x1/foo.txt" },
	{ "a$", '\\', 0, "a$" },
	{ "$ x", '\\', 0, "$ x" },
	{ "$1", '\\', 0, "" },
	{ "${UNSET:-def}", '\\', 0, "def" },
	{ "${EMPTY:-def}", '\\', 0, "def" },
	{ "${EMPTY-def}", '\\', 0, "" },
	{ "${UNSET-def}", '\\', 0, "def" },
	{ "${FOO:-def}", '\\', 0, "foo" },
	{ "${FOO:+alt}", '\\', 0, "alt" },
	{ "${EMPTY:+alt}", '\\', 0, "" },
	{ "${EMPTY+alt}", '\\', 0, "alt" },
	{ "${UNSET+alt}", '\\', 0, "" },
	{ "${UNSET:-${FOO:-x}y}", '\\', 0, "fooy" },
	{ "${UNSET:-a b}", '\\', 0, "a b" },
	{ "${UNSET:-\\}}", '\\', 0, "}" },
	{ "${FOO:?}", '\\', 0, "foo" },
	{ "${UNSET:?must be set}", '\\', 0, NULL },
	{ "${UNSET?}", '\\', 0, NULL },
	{ "'$FOO'", '\\', 0, "$FOO" },
	{ "\"$FOO\"", '\\', 0, "foo" },
	{ "\"${SP}\"", '\\', 0, "a b" },
	{ "\"a\\\"b\"", '\\', 0, "a\"b" },
	{ "\"a\\nb\"", '\\', 0, "a\\nb" }, /* only \" \$ \\ are escapes in "..." */
	{ "\"\\$FOO\"", '\\', 0, "$FOO" },
	{ "\\$FOO", '\\', 0, "$FOO" },
	{ "a\\ b", '\\', 0, "a b" },
	{ "a\\\\b", '\\', 0, "a\\b" },
	{ "'a\\b'", '\\', 0, "a\\b" },
	{ "x'a b'\"c\"y", '\\', 0, "xa bcy" },
	{ "trail\\", '\\', 0, "trail" },
	{ "`$FOO", '`', 0, "$FOO" },
	{ "C:\\dir\\$FOO", '`', 0, "C:\\dir\\foo" },
	{ "\"`\"q`\"\"", '`', 0, "\"q\"" },
	{ "'$FOO' \"x\" \\$FOO \\q", '\\', DFWORD_NOQUOTES, "'foo' \"x\" $FOO q" },
	{ "\"abc", '\\', 0, NULL },
	{ "'abc", '\\', 0, NULL },
	{ "${", '\\', 0, NULL },
	{ "${FOO", '\\', 0, NULL },
	{ "${}", '\\', 0, NULL },
	{ "${:-x}", '\\', 0, NULL },
	{ "${FOO:=x}", '\\', 0, NULL },
	{ "${FOO/a/b}", '\\', 0, NULL },
	{ "${UNSET:-x", '\\', 0, NULL },
};

TEST(table)
{
	for (size_t i = 0; i < sizeof wcases / sizeof wcases[0]; i++) {
		const struct wcase *c = &wcases[i];
		char *out = NULL, err[128] = "";
		int r = dfword_expand(c->in, strlen(c->in), c->esc, c->flags, look, NULL, 4096, &out,
				      err, sizeof err);
		int ok = c->out ? (r == 0 && out && !strcmp(out, c->out)) : (r < 0 && !out && err[0]);
		if (!ok)
			fprintf(stderr, "  case %zu: %s -> %s (want %s) err=%s\n", i, c->in,
				out ? out : "(fail)", c->out ? c->out : "(fail)", err);
		free(out);
		CHECK(ok);
	}
}

static const char *twice(void *ctx, const char *name, size_t len)
{
	return ctx;
}

TEST(bounds)
{
	/* A word that grows past the limit fails instead of growing. */
	char big[300], *out = NULL, err[128];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(dfword_expand("$A$A$A$A", 8, '\\', 0, twice, big, 1000, &out, err, sizeof err),
		 -1);
	CHECK(out == NULL);
	CHECK(strstr(err, "longer") != NULL);
	CHECK_EQ(dfword_expand("$A$A$A", 6, '\\', 0, twice, big, 1000, &out, err, sizeof err), 0);
	CHECK_EQ(strlen(out), 897);
	free(out);
	/* Nesting is bounded. */
	char deep[600] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "${A:-");
	for (int i = 0; i < 40; i++)
		strcat(deep, "}");
	CHECK_EQ(dfword_expand(deep, strlen(deep), '\\', 0, look, NULL, 1000, &out, err, sizeof err),
		 -1);
	CHECK(strstr(err, "nested") != NULL);
}

TEST(split_quoted)
{
	char *store, **w;
	size_t n;
	const char *in = "a=\"b c\" d=e\\ f  g='h \\' '' x\\\"y";
	CHECK_EQ(dfword_split_quoted(in, strlen(in), '\\', &store, &w, &n), 0);
	int ok = n == 5 && !strcmp(w[0], "a=\"b c\"") && !strcmp(w[1], "d=e\\ f") &&
		 !strcmp(w[2], "g='h \\'") && !strcmp(w[3], "''") && !strcmp(w[4], "x\\\"y") &&
		 w[5] == NULL;
	free(store);
	free(w);
	CHECK(ok);
	CHECK_EQ(dfword_split_quoted("  ", 2, '\\', &store, &w, &n), 0);
	free(store);
	free(w);
	CHECK_EQ(n, 0);
}

TEST(split_blank)
{
	char *store, **w;
	size_t n;
	const char *in = " a  \"b c\"\tz ";
	CHECK_EQ(dfword_split_blank(in, strlen(in), &store, &w, &n), 0);
	int ok = n == 4 && !strcmp(w[0], "a") && !strcmp(w[1], "\"b") && !strcmp(w[2], "c\"") &&
	     !strcmp(w[3], "z");
	free(store);
	free(w);
	CHECK(ok);
}

TEST_MAIN(T(table), T(bounds), T(split_quoted), T(split_blank))
