/* fuzz_vmhost.c - vmhost_parse on arbitrary Host/SNI bytes: an id that comes
 * out is one lower-case DNS label, and the name rebuilt from it parses back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/vmhost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const domains[] = { "localhost", "vms.example.com" };
	char id[VMHOST_ID_MAX + 1], again[VMHOST_ID_MAX + 1], name[300];
	for (size_t d = 0; d < 2; d++)
		for (int port = 0; port < 2; port++) {
			if (vmhost_parse((const char *)data, size, domains[d], port, id, sizeof id))
				continue;
			size_t n = strlen(id);
			if (n == 0 || n > 63 || id[0] == '-' || id[n - 1] == '-')
				abort();
			for (size_t i = 0; i < n; i++)
				if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
				      id[i] == '-'))
					abort();
			int l = snprintf(name, sizeof name, "%s.%s", id, domains[d]);
			if (vmhost_parse(name, (size_t)l, domains[d], 0, again, sizeof again) ||
			    strcmp(id, again))
				abort();
		}
	/* The domain check on the same bytes as a string. */
	char dom[VMHOST_DOMAIN_MAX + 8];
	size_t n = size < sizeof dom - 1 ? size : sizeof dom - 1;
	memcpy(dom, data, n);
	dom[n] = '\0';
	(void)vmhost_domain_valid(dom);
	return 0;
}
