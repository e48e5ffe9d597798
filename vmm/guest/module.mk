# vmm/guest: the guest kernel and the managed images, built into the cache
# ($HEARTH_CACHE, else /var/cache/hearth for root, else ~/.cache/hearth) and named from build/:
#   $(O)/guest/vmlinux             -> the cached kernel (the format that boots fastest)
#   $(O)/guest/<image>/image.json  {"name","version","kernel","initrd","disk","cmdline","memoryMiB"}
# The scripts are cheap on a cache hit (seconds), so these targets always run them.
GUEST_DIR := $(O)/guest
# The agent owner builds the static guest agent (shell/agent/module.mk: AGENT_GUEST).
GUEST_AGENT := $(or $(AGENT_GUEST),$(GUEST_DIR)/hearth-agent)
GUEST_KERNEL := $(GUEST_DIR)/vmlinux
# debootstrap needs root: an unprivileged make builds only the busybox image.
GUEST_IMAGES := busybox
ifeq ($(shell id -u),0)
GUEST_IMAGES += debian-12
else
$(info vmm/guest: not root, skipping the debian-12 image (debootstrap needs root))
endif
GUEST_IMAGE_JSONS := $(GUEST_IMAGES:%=$(GUEST_DIR)/%/image.json)

.PHONY: guest guest-kernel guest-images guest-force
guest-force:

$(GUEST_KERNEL): guest-force
	@mkdir -p $(@D)
	@k=$$(bash vmm/guest/kernel.sh) && ln -sfn "$$k/vmlinux" $@.tmp && mv -T $@.tmp $@

# The images embed the agent, so they need its build rule (shell/agent/module.mk).
$(GUEST_DIR)/%/image.json: $(GUEST_AGENT) guest-force | $(GUEST_KERNEL)
	@bash vmm/guest/image.sh $* $(GUEST_DIR)/$* $(GUEST_AGENT)

# Under SANITIZE (O=build-san) the static agent still lives in build/guest: name it from
# $(GUEST_DIR) too, so everything about the images is found under one build dir.
ifneq ($(abspath $(GUEST_AGENT)),$(abspath $(GUEST_DIR)/hearth-agent))
$(GUEST_DIR)/hearth-agent: $(GUEST_AGENT)
	@mkdir -p $(@D)
	ln -sfn $(abspath $(GUEST_AGENT)) $@
EXTRA_ALL += $(GUEST_DIR)/hearth-agent
CHECK_DEPS += $(GUEST_DIR)/hearth-agent
endif

guest-kernel: $(GUEST_KERNEL)
guest-images: $(GUEST_IMAGE_JSONS)
guest: guest-kernel guest-images

EXTRA_ALL += $(GUEST_KERNEL) $(GUEST_IMAGE_JSONS)
CHECK_DEPS += $(GUEST_KERNEL) $(GUEST_IMAGE_JSONS)
