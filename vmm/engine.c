/* engine.c - engine lookup and acceleration choice (engine-neutral). */
#include "vmm/engine.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct vm_engine qemu_engine;
extern const struct vm_engine host_engine;

static const struct vm_engine *const engines[] = { &qemu_engine, &host_engine };

const struct vm_engine *vm_engine_find(const char *name)
{
	if (!name || !*name)
		return engines[0];
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

/* True when a "flags" line of /proc/cpuinfo lists vmx or svm as a whole word. */
static int cpu_has_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[8192];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		char *save = NULL, *colon = strchr(line, ':');
		for (char *t = strtok_r(colon ? colon + 1 : line, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(t, "vmx") || !strcmp(t, "svm"))
				found = 1;
	}
	fclose(f);
	return found;
}

enum vm_accel vm_accel_detect(void)
{
	if (!cpu_has_virt())
		return VM_ACCEL_TCG;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return VM_ACCEL_TCG;
	close(fd);
	return VM_ACCEL_KVM;
}

enum vm_accel vm_accel_resolve(enum vm_accel want)
{
	if (want != VM_ACCEL_AUTO)
		return want;
	const char *e = getenv("HEARTH_ACCEL");
	if (e && !strcmp(e, "kvm"))
		return VM_ACCEL_KVM;
	if (e && !strcmp(e, "tcg"))
		return VM_ACCEL_TCG;
	return vm_accel_detect();
}
