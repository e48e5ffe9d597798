/* test_vmhost.c - endpoint host names (protocol/vmhost.c). */
#include "protocol/vmhost.h"
#include "test.h"

static int parse(const char *h, const char *domain, int port, char *id)
{
	return vmhost_parse(h, strlen(h), domain, port, id, VMHOST_ID_MAX + 1);
}

TEST(names_a_vm_under_the_domain)
{
	char id[VMHOST_ID_MAX + 1];
	CHECK_EQ(parse("mvm-0123456789abcdef.localhost", "localhost", 0, id), 0);
	CHECK_STR(id, "mvm-0123456789abcdef");
	CHECK_EQ(parse("mvm-0123456789abcdef.localhost:7443", "localhost", 1, id), 0);
	CHECK_STR(id, "mvm-0123456789abcdef");
	CHECK_EQ(parse("MVM-ABC.LocalHost.", "localhost", 0, id), 0);
	CHECK_STR(id, "mvm-abc");
	CHECK_EQ(parse("mvm-1.vms.example.com:443", "vms.example.com", 1, id), 0);
	CHECK_STR(id, "mvm-1");
}

TEST(refuses_what_names_no_vm)
{
	char id[VMHOST_ID_MAX + 1];
	const char *bad[] = { "localhost", "localhost:7443", ".localhost", "a.b.localhost",
			      "127.0.0.1", "[::1]:7443", "mvm-1.localhost:", "mvm-1.localhost:x",
			      "mvm-1.localhost:123456", "mvm-1.localhostx", "mvm-1xlocalhost",
			      "-a.localhost", "a-.localhost", "a_b.localhost", "a b.localhost",
			      "mvm-1.example.com", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		id[0] = 'Z';
		CHECK_EQ(parse(bad[i], "localhost", 1, id), -1);
	}
	/* A port is only taken from a Host header. */
	CHECK_EQ(parse("mvm-1.localhost:7443", "localhost", 0, id), -1);
	/* Longer than a DNS label. */
	char longest[100];
	memset(longest, 'a', 64);
	memcpy(longest + 64, ".localhost", 11);
	CHECK_EQ(parse(longest, "localhost", 0, id), -1);
	memcpy(longest + 63, ".localhost", 11);
	CHECK_EQ(parse(longest, "localhost", 0, id), 0);
	CHECK_EQ(strlen(id), 63u);
	/* The id buffer bounds the id too. */
	char small[4];
	CHECK_EQ(vmhost_parse("abcd.localhost", 14, "localhost", 0, small, sizeof small), -1);
	CHECK_EQ(vmhost_parse("abc.localhost", 13, "localhost", 0, small, sizeof small), 0);
	/* Only len bytes are read: a NUL-free buffer ending at the domain. */
	CHECK_EQ(vmhost_parse("abc.localhostXXXX", 13, "localhost", 0, small, sizeof small), 0);
}

TEST(domain_check)
{
	CHECK(vmhost_domain_valid("localhost"));
	CHECK(vmhost_domain_valid("vms.example.com"));
	CHECK(vmhost_domain_valid("Example-1.test"));
	const char *bad[] = { "", ".", "a..b", ".a", "a.", "-a", "a-", "a_b", "a b", "*.x",
			      "a:1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!vmhost_domain_valid(bad[i]));
	char big[VMHOST_DOMAIN_MAX + 2];
	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = (i % 10 == 9) ? '.' : 'a';
	big[sizeof big - 1] = '\0';
	CHECK(!vmhost_domain_valid(big));
	big[VMHOST_DOMAIN_MAX - 1] = '\0';
	CHECK(vmhost_domain_valid(big));
}

TEST_MAIN(T(names_a_vm_under_the_domain), T(refuses_what_names_no_vm), T(domain_check))
