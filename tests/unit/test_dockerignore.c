/*
 * test_dockerignore.c - .dockerignore rules (protocol/dockerignore.c) as a
 * table of the Docker reference's examples and moby's matcher behaviour.
 */
#include "protocol/dockerignore.h"
#include "tests/unit/test.h"

#include <stdlib.h>

struct ign_case {
	const char *rules;
	const char *path;
	int excluded;
};

static const struct ign_case ign_cases[] = {
	/* the reference's examples */
	{ "*/temp*", "somedir/temporary.txt", 1 },
	{ "*/temp*", "somedir/temp", 1 },
	{ "*/temp*", "somedir/temp/inner.txt", 1 }, /* a parent matches */
	{ "*/temp*", "temp", 0 },
	{ "*/temp*", "a/b/temp", 0 },
	{ "*/*/temp*", "somedir/subdir/temporary.txt", 1 },
	{ "*/*/temp*", "somedir/temporary.txt", 0 },
	{ "temp?", "tempa", 1 },
	{ "temp?", "tempb", 1 },
	{ "temp?", "temp", 0 },
	{ "temp?", "tempab", 0 },
	{ "temp?", "temp/", 0 },
	{ "**/*.go", "x.go", 1 },
	{ "**/*.go", "a/b/c.go", 1 },
	{ "**/*.go", "a/b/c.gox", 0 },
	{ "*.md\n!README.md\n", "a.md", 1 },
	{ "*.md\n!README.md\n", "README.md", 0 },
	{ "*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", 1 },
	{ "*.md\n!README*.md\nREADME-secret.md\n", "README-x.md", 0 },
	{ "*.md\nREADME-secret.md\n!README*.md\n", "README-secret.md", 0 },
	/* a directory excludes what is below it */
	{ "node_modules", "node_modules/a/b.js", 1 },
	{ "node_modules", "src/node_modules", 0 },
	{ "**/node_modules", "src/node_modules/x", 1 },
	/* "**" */
	{ "**", "anything/at/all", 1 },
	{ "a/**", "a/x", 1 },
	{ "a/**", "a/x/y", 1 },
	{ "a/**", "b/x", 0 },
	{ "a/**/b", "a/b", 1 },
	{ "a/**/b", "a/x/y/b", 1 },
	{ "a/**/b", "a/x/y/bb", 0 },
	{ "a**b", "ab", 1 },
	{ "a**b", "ax/b", 1 },
	/* '*' never crosses '/' */
	{ "*.txt", "a.txt", 1 },
	{ "*.txt", "d/a.txt", 0 },
	{ "d/*", "d/a", 1 },
	{ "d/*", "d/a/b", 1 }, /* parent d/a matches */
	/* classes and escapes */
	{ "[a-c].txt", "b.txt", 1 },
	{ "[a-c].txt", "d.txt", 0 },
	{ "[^a].txt", "b.txt", 1 },
	{ "[^a].txt", "a.txt", 0 },
	{ "\\*", "*", 1 },
	{ "\\*", "x", 0 },
	{ "a.b", "axb", 0 }, /* '.' is literal */
	/* cleaning and comments */
	{ "/foo/bar/", "foo/bar", 1 },
	{ "./a", "a", 1 },
	{ "a/../b", "b", 1 },
	{ "a/../b", "a", 0 },
	{ "foo//bar", "foo/bar", 1 },
	{ "!/x\n", "x", 0 },
	{ "x\n! /x\n", "x", 0 },
	{ "# x\n", "# x", 0 },
	{ "#x\n", "#x", 0 },
	{ "  #x\n", "#x", 1 }, /* '#' counts only at the very start */
	{ "  a  \r\n", "a", 1 },
	{ "\xef\xbb\xbf" "a\n", "a", 1 },
	{ "", "a", 0 },
	{ "\n\n   \n", "a", 0 },
	{ "Dockerfile\n.dockerignore\n", "Dockerfile", 1 },
	/* the last match wins, exclusions included */
	{ "a\n!a\na\n", "a", 1 },
	{ "a\n!a\n", "a", 0 },
	{ "dir\n!dir/keep\n", "dir/keep", 0 },
	{ "dir\n!dir/keep\n", "dir/other", 1 },
};

TEST(test_table)
{
	char err[128];
	for (size_t i = 0; i < sizeof ign_cases / sizeof ign_cases[0]; i++) {
		const struct ign_case *c = &ign_cases[i];
		struct dfignore *ig = dfignore_parse(c->rules, strlen(c->rules), err, sizeof err);
		if (!ig)
			fprintf(stderr, "  case %zu (%s): parse failed: %s\n", i, c->rules, err);
		CHECK(ig != NULL);
		int m = dfignore_match(ig, c->path);
		if (m != c->excluded)
			fprintf(stderr, "  case %zu: rules %s, path %s: got %d\n", i, c->rules,
				c->path, m);
		dfignore_free(ig);
		CHECK_EQ(m, c->excluded);
	}
}

TEST(test_bad_patterns)
{
	char err[128];
	static const char *const bad[] = { "[", "a[", "[]", "[-a]", "[z-a]", "a\\", "!", "  !  \n",
					   "a\0b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = i == 8 ? 3 : strlen(bad[i]);
		err[0] = '\0';
		struct dfignore *ig = dfignore_parse(bad[i], n, err, sizeof err);
		if (ig)
			fprintf(stderr, "  bad pattern %zu accepted\n", i);
		dfignore_free(ig);
		CHECK(ig == NULL);
		CHECK(err[0] != '\0');
	}
	/* bounds */
	size_t big = DFIGN_MAX_TEXT + 1;
	char *t = malloc(big);
	CHECK(t != NULL);
	memset(t, 'a', big);
	struct dfignore *ig = dfignore_parse(t, big, err, sizeof err);
	CHECK(ig == NULL);
	size_t n = 0;
	for (int i = 0; i <= DFIGN_MAX_PATTERNS; i++)
		n += (size_t)snprintf(t + n, big - n, "p%d\n", i);
	ig = dfignore_parse(t, n, err, sizeof err);
	free(t);
	CHECK(ig == NULL);
	CHECK(strstr(err, "patterns") != NULL);
}

TEST(test_glob)
{
	CHECK_EQ(dfignore_glob("*.txt", "a.txt"), 1);
	CHECK_EQ(dfignore_glob("*.txt", "d/a.txt"), 0);
	CHECK_EQ(dfignore_glob("d/*", "d/a"), 1);
	CHECK_EQ(dfignore_glob("d/*", "d/a/b"), 0); /* no parent rule for globs */
	CHECK_EQ(dfignore_glob("**/x", "x"), 1);
	CHECK_EQ(dfignore_glob("**/x", "a/b/x"), 1);
	CHECK_EQ(dfignore_glob("fil?", "file"), 1);
	CHECK_EQ(dfignore_glob("fil?", "fil/"), 0);
	CHECK_EQ(dfignore_glob("[", "x"), -1);
	CHECK_EQ(dfignore_glob("x\\", "x"), -1);
	CHECK_EQ(dfignore_glob("", ""), 1);
	CHECK_EQ(dfignore_glob("", "a"), 0);
	/* no blow-up on a pathological pattern */
	char pat[2048], path[4096];
	for (int i = 0; i < 1000; i++)
		pat[2 * i] = '*', pat[2 * i + 1] = 'a';
	pat[2000] = 'b';
	pat[2001] = '\0';
	memset(path, 'a', sizeof path - 1);
	path[sizeof path - 1] = '\0';
	CHECK_EQ(dfignore_glob(pat, path), 0);
}

TEST(test_may_reinclude)
{
	char err[128];
	const char *r1 = "dir\n!dir/keep\n";
	struct dfignore *ig = dfignore_parse(r1, strlen(r1), err, sizeof err);
	CHECK(ig != NULL);
	int a = dfignore_may_reinclude(ig, "dir"), b = dfignore_may_reinclude(ig, "other"),
	    c = dfignore_may_reinclude(ig, "di");
	dfignore_free(ig);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 0);
	CHECK_EQ(c, 0);
	const char *r2 = "dir\n";
	ig = dfignore_parse(r2, strlen(r2), err, sizeof err);
	CHECK(ig != NULL);
	a = dfignore_may_reinclude(ig, "dir");
	dfignore_free(ig);
	CHECK_EQ(a, 0);
	const char *r3 = "dir\n!**/*.keep\n";
	ig = dfignore_parse(r3, strlen(r3), err, sizeof err);
	CHECK(ig != NULL);
	a = dfignore_may_reinclude(ig, "dir/sub");
	dfignore_free(ig);
	CHECK_EQ(a, 1);
	CHECK_EQ(dfignore_match(NULL, "x"), 0);
	CHECK_EQ(dfignore_may_reinclude(NULL, "x"), 0);
}

TEST_MAIN(T(test_table), T(test_bad_patterns), T(test_glob), T(test_may_reinclude))
