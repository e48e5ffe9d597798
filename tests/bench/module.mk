# tests/bench/: benchmark clients for `make bench` (tests/bench/run.sh runs
# every tests/bench/*_bench.sh). Built with `make` too, so they stay warning-clean.
BENCH_BINS := $(BIN)/bench/agent_bench

$(BIN)/bench/agent_bench: $(OBJ)/tests/bench/agent_bench.o $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

EXTRA_ALL += $(BENCH_BINS)
bench: $(BENCH_BINS)
