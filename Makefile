# hearth - top-level Makefile. One entry point:
#   make            install missing Debian packages, build everything (incl. the guest kernel)
#   make check      run every test (unit, integration, conformance); prints "N passed, N failed"
#   make shell      boot a fresh microVM from the default image and open a shell in it
#   make bench      run the benchmarks and print figures as ratios against named peers
#   make fuzz       run every libFuzzer target for a bounded time
# Switches: WERROR=0 relaxes -Werror; SANITIZE=address,undefined builds with sanitizers.
# Each directory contributes a module.mk fragment; this file only holds the common rules.

.DEFAULT_GOAL := all
SHELL := /bin/bash

CC ?= cc
WERROR ?= 1
SANITIZE ?=
O ?= build
FUZZ_SECONDS ?= 30

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) -I. -MMD -MP
LDFLAGS ?=
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
O := build-san
endif

BIN := $(O)/bin
OBJ := $(O)/obj
export HEARTH_BUILD := $(abspath $(O))

# Every module appends to these.
BINS :=
UNIT_TESTS :=
FUZZERS :=
CHECK_DEPS :=

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

include protocol/module.mk
-include shell/agent/module.mk
-include shell/client/module.mk
-include vmm/guest/module.mk
-include vmm/module.mk
-include session/module.mk
-include tests/module.mk
-include tests/bench/module.mk
-include tests/guestapp/module.mk
-include contrib/webterm/module.mk

.PHONY: all build deps check bench fuzz shell clean
# Keep intermediate objects: deleting them makes every run relink.
.SECONDARY:
# deps must finish before anything compiles, also under -j: a sub-make builds
# only after the packages are in place (it shares the jobserver).
all: deps
	@$(MAKE) --no-print-directory build
build: $(BINS) $(EXTRA_ALL)

deps:
	@bash mk/deps.sh

check: all
	@$(MAKE) --no-print-directory $(UNIT_TESTS) $(FUZZERS) $(CHECK_DEPS)
	@bash tests/run.sh

shell: all
	@bash mk/shell.sh

clean:
	rm -rf build build-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
