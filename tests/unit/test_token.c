/* test_token.c - signing, verification and tamper checks of protocol/token.c */
#include <stdlib.h>

#include "protocol/token.h"
#include "test.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcde";
static const uint8_t key2[32] = "fedcba9876543210fedcba987654321";

static struct token_claims sample(void)
{
	struct token_claims c;
	memset(&c, 0, sizeof c);
	c.kind = TOKEN_KIND_PROXY;
	strcpy(c.vm_id, "mvm-0123456789abcdef");
	c.generation = 7;
	c.issued = 1000000;
	c.expires = 1000000 + 600;
	c.nranges = 2;
	c.ranges[0] = (struct token_range){ 8080, 8080 };
	c.ranges[1] = (struct token_range){ 9000, 9100 };
	memcpy(c.nonce, "nonce123", 8);
	return c;
}

TEST(roundtrip)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	int n = token_sign(key, sizeof key, &c, tok, sizeof tok);
	CHECK(n > 0);
	CHECK_EQ((size_t)n, strlen(tok));
	CHECK(strncmp(tok, TOKEN_PREFIX, 5) == 0);
	CHECK_EQ(token_verify(key, sizeof key, tok, (size_t)n, 1000001, &out), TOKEN_OK);
	CHECK_STR(out.vm_id, c.vm_id);
	CHECK_EQ(out.generation, 7u);
	CHECK_EQ(out.kind, TOKEN_KIND_PROXY);
	CHECK_EQ(out.nranges, 2u);
	CHECK(token_allows_port(&out, 8080));
	CHECK(token_allows_port(&out, 9050));
	CHECK(!token_allows_port(&out, 8081));
	CHECK(!token_allows_port(&out, 22));
}

TEST(wrong_key_and_tamper)
{
	struct token_claims c = sample();
	char tok[TOKEN_MAX_LEN + 1];
	int n = token_sign(key, sizeof key, &c, tok, sizeof tok);
	CHECK(n > 0);
	CHECK_EQ(token_verify(key2, sizeof key2, tok, (size_t)n, 1000001, NULL), TOKEN_E_SIG);
	/* Flip every payload character in turn: never accepted. */
	for (int i = 5; i < n; i++) {
		char t[TOKEN_MAX_LEN + 1];
		memcpy(t, tok, (size_t)n + 1);
		if (t[i] == '.')
			continue;
		t[i] = t[i] == 'A' ? 'B' : 'A';
		CHECK(token_verify(key, sizeof key, t, (size_t)n, 1000001, NULL) != TOKEN_OK);
	}
	/* Truncations are refused. */
	for (int len = 0; len < n; len++)
		CHECK(token_verify(key, sizeof key, tok, (size_t)len, 1000001, NULL) != TOKEN_OK);
}

TEST(expiry)
{
	struct token_claims c = sample();
	char tok[TOKEN_MAX_LEN + 1];
	int n = token_sign(key, sizeof key, &c, tok, sizeof tok);
	CHECK(n > 0);
	CHECK_EQ(token_verify(key, sizeof key, tok, (size_t)n, c.expires, NULL), TOKEN_E_EXPIRED);
	CHECK_EQ(token_verify(key, sizeof key, tok, (size_t)n, c.expires - 1, NULL), TOKEN_OK);
	/* Issued in the future beyond the allowed slack. */
	CHECK_EQ(token_verify(key, sizeof key, tok, (size_t)n, c.issued - 120, NULL),
		 TOKEN_E_EXPIRED);
}

/* Claims kept after verification (ingress_authorize_cached) expire as the token would. */
TEST(current_matches_verify)
{
	struct token_claims c = sample();
	CHECK_EQ(token_current(&c, c.expires), TOKEN_E_EXPIRED);
	CHECK_EQ(token_current(&c, c.expires - 1), TOKEN_OK);
	CHECK_EQ(token_current(&c, c.issued - 60), TOKEN_OK);
	CHECK_EQ(token_current(&c, c.issued - 61), TOKEN_E_EXPIRED);
}

TEST(sign_refuses_bad_claims)
{
	char tok[TOKEN_MAX_LEN + 1];
	struct token_claims c = sample();
	c.expires = c.issued + TOKEN_MAX_LIFETIME + 1; /* longer than 60 minutes */
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, sizeof tok), TOKEN_E_ARG);
	c = sample();
	c.kind = 9;
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, sizeof tok), TOKEN_E_ARG);
	c = sample();
	c.nranges = 0; /* a proxy token needs ports */
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, sizeof tok), TOKEN_E_ARG);
	c = sample();
	c.vm_id[0] = '\0';
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, sizeof tok), TOKEN_E_ARG);
	c = sample();
	c.ranges[0] = (struct token_range){ 10, 5 };
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, sizeof tok), TOKEN_E_ARG);
	c = sample();
	CHECK_EQ(token_sign(key, 8, &c, tok, sizeof tok), TOKEN_E_ARG); /* short key */
	CHECK_EQ(token_sign(key, sizeof key, &c, tok, 20), TOKEN_E_SPACE);
}

TEST(shell_token_without_ports)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	c.kind = TOKEN_KIND_SHELL;
	c.nranges = 0;
	int n = token_sign(key, sizeof key, &c, tok, sizeof tok);
	CHECK(n > 0);
	CHECK_EQ(token_verify(key, sizeof key, tok, (size_t)n, 1000001, &out), TOKEN_OK);
	CHECK_EQ(out.kind, TOKEN_KIND_SHELL);
	CHECK(!token_allows_port(&out, 80));
}

TEST(garbage)
{
	const char *bad[] = { "", "hth1.", "hth1..", "hth1.AAAA.AAAA", "hth2.AAAA.BBBB",
			      "hth1.!!!!.AAAA", "Bearer x", "hth1.A.A" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(token_verify(key, sizeof key, bad[i], strlen(bad[i]), 1, NULL) ==
		      TOKEN_E_FORMAT);
	char big[TOKEN_MAX_LEN + 10];
	memset(big, 'A', sizeof big);
	memcpy(big, "hth1.", 5);
	CHECK_EQ(token_verify(key, sizeof key, big, sizeof big, 1, NULL), TOKEN_E_FORMAT);
}

TEST(b64url)
{
	uint8_t in[7] = { 0, 1, 2, 0xfd, 0xfe, 0xff, 0x80 }, out[16];
	char enc[32];
	for (size_t n = 0; n <= sizeof in; n++) {
		int e = token_b64url_encode(in, n, enc, sizeof enc);
		CHECK(e >= 0);
		CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL);
		CHECK_EQ(token_b64url_decode(enc, (size_t)e, out, sizeof out), (int)n);
		CHECK(n == 0 || memcmp(in, out, n) == 0);
	}
	/* Non-canonical trailing bits are refused ("AB" decodes to 0x00 + stray bits). */
	CHECK_EQ(token_b64url_decode("AB", 2, out, sizeof out), -1);
	CHECK_EQ(token_b64url_decode("A", 1, out, sizeof out), -1);
	CHECK_EQ(token_b64url_encode(in, 7, enc, 4), -1);
}

TEST_MAIN(T(roundtrip), T(wrong_key_and_tamper), T(expiry), T(current_matches_verify), T(sign_refuses_bad_claims),
	  T(shell_token_without_ports), T(garbage), T(b64url))
