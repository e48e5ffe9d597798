# tests/bench/: benchmark clients for `make bench` (tests/bench/run.sh runs
# every tests/bench/*_bench.sh). Built with `make` too, so they stay warning-clean.
BENCH_BINS := $(BIN)/bench/agent_bench $(BIN)/bench/ws_bench

$(BIN)/bench/agent_bench: $(OBJ)/tests/bench/agent_bench.o $(OBJ)/tests/bench/figures.o \
		$(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(BIN)/bench/ws_bench: $(OBJ)/tests/bench/ws_bench.o $(OBJ)/tests/bench/figures.o $(OBJ)/protocol/wsclient.o \
		$(OBJ)/protocol/wsproto.o $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lssl -lcrypto

EXTRA_ALL += $(BENCH_BINS)
bench: $(BENCH_BINS)
