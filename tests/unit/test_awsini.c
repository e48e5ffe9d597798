/* test_awsini.c - profiles of AWS shared-credentials and config files. */
#include <stdlib.h>

#include "protocol/awsini.h"
#include "test.h"

static const char creds[] =
	"aws_access_key_id = BEFORE_ANY_SECTION\n"
	"# a comment = not a key\n"
	"[default]\n"
	"aws_access_key_id=AKIADEFAULT\n"
	"aws_secret_access_key=s1\n"
	"\n"
	"  [ hearth ]  \r\n"
	"aws_access_key_id = AKIAHEARTH \r\n"
	"; aws_secret_access_key = commented\n"
	"aws_secret_access_key = a/b+c=d\n"
	"[profile hearth]\n"
	"region = eu-west-1\n"
	"[empty]";

TEST(iterate)
{
	struct awsini_profile p;
	size_t pos = 0;
	CHECK_EQ(awsini_next(creds, strlen(creds), &pos, &p), 1);
	CHECK_STR(p.name, "default");
	CHECK_STR(p.key_id, "AKIADEFAULT");
	CHECK_STR(p.secret, "s1");
	CHECK_EQ(awsini_next(creds, strlen(creds), &pos, &p), 1);
	CHECK_STR(p.name, "hearth");
	CHECK_STR(p.key_id, "AKIAHEARTH");
	CHECK_STR(p.secret, "a/b+c=d"); /* only the first '=' separates */
	CHECK_EQ(awsini_next(creds, strlen(creds), &pos, &p), 1);
	CHECK_STR(p.name, "profile hearth");
	CHECK_STR(p.region, "eu-west-1");
	CHECK_STR(p.key_id, "");
	CHECK_EQ(awsini_next(creds, strlen(creds), &pos, &p), 1);
	CHECK_STR(p.name, "empty");
	CHECK_EQ(awsini_next(creds, strlen(creds), &pos, &p), 0);
}

TEST(find)
{
	struct awsini_profile p;
	CHECK_EQ(awsini_find(creds, strlen(creds), "hearth", &p), 1);
	CHECK_STR(p.key_id, "AKIAHEARTH");
	CHECK_EQ(awsini_find(creds, strlen(creds), "nope", &p), 0);
	CHECK_STR(p.key_id, "");
	CHECK_EQ(awsini_find("", 0, "hearth", &p), 0);
}

TEST(too_long)
{
	char text[1024] = "[x]\naws_secret_access_key = ";
	size_t n = strlen(text);
	memset(text + n, 'a', 300);
	text[n + 300] = '\0';
	struct awsini_profile p;
	CHECK_EQ(awsini_find(text, strlen(text), "x", &p), 1);
	CHECK(p.too_long);
	CHECK_STR(p.secret, "");
}

TEST(set_section)
{
	struct awsini_profile p;
	/* Replaced in the middle: the sections around it stay byte for byte. */
	char *t = awsini_set_section(creds, "hearth", "aws_access_key_id = NEW\n"
				      "aws_secret_access_key = s\n", 0);
	CHECK(t != NULL);
	CHECK(strncmp(t, creds, strstr(creds, "  [ hearth ]") - creds) == 0);
	CHECK(strstr(t, "AKIAHEARTH") == NULL);
	CHECK(strstr(t, "[profile hearth]\nregion = eu-west-1\n[empty]") != NULL);
	CHECK_EQ(awsini_find(t, strlen(t), "hearth", &p), 1);
	CHECK_STR(p.key_id, "NEW");
	CHECK_EQ(awsini_find(t, strlen(t), "default", &p), 1);
	CHECK_STR(p.secret, "s1");
	free(t);
	/* Appended when missing, after a last line without a newline. */
	t = awsini_set_section("[a]\nx=1", "b", "region = r", 0);
	CHECK(t != NULL);
	CHECK_STR(t, "[a]\nx=1\n[b]\nregion = r\n");
	free(t);
	/* Kept when asked to. */
	t = awsini_set_section(creds, "profile hearth", "region = x\n", 1);
	CHECK(t != NULL);
	CHECK_STR(t, creds);
	free(t);
	/* The last section replaced; an empty file. */
	t = awsini_set_section("[a]\nx=1\n[b]\nold\n", "b", "new\n", 0);
	CHECK_STR(t, "[a]\nx=1\n[b]\nnew\n");
	free(t);
	t = awsini_set_section("", "hearth", "k = v\n", 0);
	CHECK_STR(t, "[hearth]\nk = v\n");
	free(t);
	CHECK(awsini_set_section("", "a]b", "", 0) == NULL);
	CHECK(awsini_set_section("", "", "", 0) == NULL);
}

TEST(path)
{
	char out[32];
	CHECK_EQ(awsini_path("/x/creds", "/home/u", "credentials", out, sizeof out), 0);
	CHECK_STR(out, "/x/creds");
	CHECK_EQ(awsini_path("", "/home/u", "config", out, sizeof out), 0);
	CHECK_STR(out, "/home/u/.aws/config");
	CHECK_EQ(awsini_path(NULL, "/home/u", "credentials", out, sizeof out), 0);
	CHECK_STR(out, "/home/u/.aws/credentials");
	CHECK_EQ(awsini_path(NULL, NULL, "config", out, sizeof out), -1);
	CHECK_EQ(awsini_path(NULL, "", "config", out, sizeof out), -1);
	CHECK_EQ(awsini_path(NULL, "/home/a-rather-long-name", "credentials", out, sizeof out), -1);
	CHECK_EQ(awsini_path("/a/path/that/is/too/long/for/out", NULL, "config", out, sizeof out),
		 -1);
}

TEST_MAIN(T(iterate), T(find), T(too_long), T(set_section), T(path))
