/* test_dns_policy.c - egress connectors to DNS policy (session/dns_policy.c) */
#include <string.h>

#include "protocol/api_connector.h"
#include "session/dns_policy.h"
#include "test.h"

TEST(service_connectors_in_any_partition)
{
	/* The default hearth stores for a run that names none (and the older form). */
	CHECK_EQ(dns_policy_of("[\"arn:hearth:lambda:local:aws:network-connector:"
			       "aws-network-connector:INTERNET_EGRESS\"]"),
		 DNS_POLICY_ALL);
	CHECK_EQ(dns_policy_of("[\"arn:hearth:lambda:local:aws:network-connector:INTERNET_EGRESS\"]"),
		 DNS_POLICY_ALL);
	CHECK_EQ(dns_policy_of("[\"arn:aws:lambda:us-east-1:aws:network-connector:"
			       "aws-network-connector:INTERNET_EGRESS\"]"),
		 DNS_POLICY_ALL);
	CHECK_EQ(dns_policy_of("[\"arn:hearth:lambda:local:aws:network-connector:NO_EGRESS\"]"),
		 DNS_POLICY_NONE);
	CHECK_EQ(dns_policy_of("[\"arn:aws:lambda:us-east-1:aws:network-connector:"
			       "aws-network-connector:NO_EGRESS\"]"),
		 DNS_POLICY_NONE);
	CHECK_EQ(dns_policy_of("[]"), DNS_POLICY_ALL);
}

TEST(allowlists_and_bad_text)
{
	CHECK_EQ(dns_policy_of("[\"arn:hearth:lambda:local:aws:network-connector:allowlist/NO_EGRESS\"]"),
		 DNS_POLICY_LIST);
	CHECK_EQ(dns_policy_of("[\"arn:hearth:lambda:local:aws:network-connector:"
			       "allowlist/INTERNET_EGRESS\"]"),
		 DNS_POLICY_LIST);
	/* Fails closed. */
	CHECK_EQ(dns_policy_of("not json"), DNS_POLICY_NONE);
	CHECK_EQ(dns_policy_of(NULL), DNS_POLICY_NONE);
	CHECK_EQ(dns_policy_of("{}"), DNS_POLICY_NONE);
}

TEST(arn_name_is_after_the_last_colon)
{
	CHECK(!strcmp(api_connector_arn_name("arn:aws:lambda:r:aws:network-connector:"
					     "aws-network-connector:NO_EGRESS"), "NO_EGRESS"));
	CHECK(!strcmp(api_connector_arn_name("arn:hearth:lambda:local:123:network-connector:"
					     "allowlist/x"), "allowlist/x"));
	CHECK(!strcmp(api_connector_arn_name("a:"), ""));
	CHECK(api_connector_arn_name("HTTP_INGRESS") == NULL);
	CHECK(api_connector_arn_name(NULL) == NULL);
}

TEST_MAIN(T(service_connectors_in_any_partition), T(allowlists_and_bad_text),
	  T(arn_name_is_after_the_last_colon))
