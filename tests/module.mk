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

fuzz: $(FUZZ_BINS)
	@bash tests/fuzz/run.sh $(O)/fuzz $(FUZZ_SECONDS)

bench: all
	@bash tests/bench/run.sh
