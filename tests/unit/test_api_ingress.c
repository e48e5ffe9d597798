/* test_api_ingress.c - ingress connector names (protocol/api_ingress.c). */
#include "protocol/api_ingress.h"
#include "test.h"

#define SVC "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:"

TEST(service_names_any_partition_and_region)
{
	CHECK_EQ(api_ingress_flags(SVC "HTTP_INGRESS"), API_INGRESS_HTTP);
	CHECK_EQ(api_ingress_flags(SVC "SHELL_INGRESS"), API_INGRESS_SHELL);
	CHECK_EQ(api_ingress_flags("arn:aws-cn:lambda:cn-north-1:aws:network-connector:"
				   "aws-network-connector:HTTP_INGRESS"),
		 API_INGRESS_HTTP);
	CHECK_EQ(api_ingress_flags("arn:aws-us-gov:lambda:us-gov-west-1:aws:network-connector:"
				   "aws-network-connector:SHELL_INGRESS"),
		 API_INGRESS_SHELL);
	CHECK_EQ(api_ingress_flags(API_INGRESS_ARN_PREFIX "HTTP_INGRESS"), API_INGRESS_HTTP);
	CHECK_EQ(api_ingress_flags("HTTP_INGRESS"), API_INGRESS_HTTP);
	CHECK_EQ(api_ingress_flags("SHELL_INGRESS"), API_INGRESS_SHELL);
}

TEST(hearth_names_stay)
{
	CHECK_EQ(api_ingress_flags("arn:hearth:lambda:local:aws:network-connector:ALL_INGRESS"),
		 API_INGRESS_HTTP | API_INGRESS_SHELL);
	CHECK_EQ(api_ingress_flags("arn:hearth:lambda:local:aws:network-connector:NO_INGRESS"), 0);
	CHECK_EQ(api_ingress_flags("arn:hearth:lambda:local:aws:network-connector:SHELL_INGRESS"),
		 API_INGRESS_SHELL);
	CHECK_EQ(api_ingress_flags(SVC "ALL_INGRESS"), API_INGRESS_HTTP | API_INGRESS_SHELL);
	CHECK_EQ(api_ingress_flags("NO_INGRESS"), 0);
}

TEST(others_refused)
{
	const char *bad[] = {
		"", "arn:", "HTTPS_INGRESS", "http_ingress", "INTERNET_EGRESS",
		SVC "INTERNET_EGRESS", SVC "", SVC "HTTP_INGRESS:x",
		"arn:aws:lambda:us-east-1:123456789012:network-connector:HTTP_INGRESS",
		"arn:aws:lambda:us-east-1:aws:network-connector:other:HTTP_INGRESS",
		"arn:aws:s3:us-east-1:aws:network-connector:aws-network-connector:HTTP_INGRESS",
		"arn::lambda:us-east-1:aws:network-connector:aws-network-connector:HTTP_INGRESS",
		"arn:aws:lambda::aws:network-connector:aws-network-connector:HTTP_INGRESS",
		"arn:AWS:lambda:us-east-1:aws:network-connector:aws-network-connector:HTTP_INGRESS",
		"arn:x:y:z:SOMETHING", "arn:a:b:c:d:e:f:g:h:i:j:HTTP_INGRESS",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(api_ingress_flags(bad[i]), -1);
}

TEST(canonical)
{
	char out[256];
	CHECK_EQ(api_ingress_canonical("HTTP_INGRESS", out, sizeof out), 0);
	CHECK_STR(out, API_INGRESS_ARN_PREFIX "HTTP_INGRESS");
	CHECK_EQ(api_ingress_canonical(SVC "SHELL_INGRESS", out, sizeof out), 0);
	CHECK_STR(out, SVC "SHELL_INGRESS");
	CHECK_EQ(api_ingress_canonical("HTTP_INGRESS", out, 10), -1);
}

TEST_MAIN(T(service_names_any_partition_and_region), T(hearth_names_stay), T(others_refused),
	  T(canonical))
