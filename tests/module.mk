# tests/: unit test binaries (one per module) and fuzz targets.
# A unit test tests/unit/test_X.c links libproto plus the objects it lists in UNIT_OBJS_X.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS += $(UNIT_SRCS:tests/unit/%.c=$(BIN)/tests/%)

# Secondary expansion lets each test's extra objects be real prerequisites.
.SECONDEXPANSION:
$(BIN)/tests/test_%: $(OBJ)/tests/unit/test_%.o $$(UNIT_OBJS_$$*) $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(OBJ)/tests/unit/test_$*.o $(UNIT_OBJS_$*) $(OBJ)/libproto.a $(LDFLAGS) $(UNIT_LIBS_$*)

# libFuzzer targets: tests/fuzz/fuzz_X.c, built with clang into $(O)/fuzz/.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined
$(O)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(PROTO_SRCS) $$(FUZZ_EXTRA_SRCS_$$*)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^

FUZZERS += $(FUZZ_BINS)

# make check builds every fuzz target (the Makefile's check rule) and tests/run.sh
# replays each one's seeds once (tests/fuzz/replay.sh), so a parser change that
# breaks a fuzzer fails CI; make fuzz is the long run.
fuzz: $(FUZZERS)
	@bash tests/fuzz/run.sh $(O)/fuzz $(FUZZ_SECONDS)

# The node modules the conformance (official AWS SDK) and browser (playwright-core)
# tests run, from their committed package-lock.json: installed by make check, so
# a missing one is a build failure. npm ci only when node_modules is missing or
# older than the lock (npm rewrites node_modules/.package-lock.json on each install).
TEST_NPM_DIRS := tests/conformance tests/browser tests/mcp
define test_npm_rule
$(OBJ)/$(1)/npm-ci.stamp: $(1)/package-lock.json $(1)/package.json $$(if $$(wildcard $(1)/node_modules/.package-lock.json),,test-npm-missing)
	@mkdir -p $$(dir $$@)
	@if [ ! $(1)/node_modules/.package-lock.json -nt $(1)/package-lock.json ]; then \
		echo "$(1): npm ci"; \
		(cd $(1) && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	fi
	@touch $$@
endef
$(foreach d,$(TEST_NPM_DIRS),$(eval $(call test_npm_rule,$(d))))
.PHONY: test-npm-missing
CHECK_DEPS += $(TEST_NPM_DIRS:%=$(OBJ)/%/npm-ci.stamp)

bench: all
	@bash tests/bench/run.sh
