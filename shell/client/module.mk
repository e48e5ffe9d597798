# shell/client/: the `hearth` command. Uses protocol/, json-c, ncursesw (top)
# and readline (the prompt); the pure parsers it needs (protocol/httpresp.c,
# protocol/argsplit.c, protocol/sigv4.c and protocol/awsini.c to sign API
# requests) are built here.
CLIENT_SRCS := $(wildcard shell/client/*.c) protocol/httpresp.c protocol/argsplit.c shell/agent/tarfs.c \
	protocol/jsonrpc.c \
	protocol/sigv4.c protocol/awsini.c
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(OBJ)/%.o)
CLIENT_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c) \
	$(shell pkg-config --libs libarchive 2>/dev/null || echo -larchive) \
	$(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo) \
	$(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)
$(CLIENT_OBJS): CFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null)
$(OBJ)/shell/client/cmd_top.o $(OBJ)/shell/client/top_draw.o: \
	CFLAGS += $(shell pkg-config --cflags ncursesw 2>/dev/null)
# shell and exec: the WebSocket client (protocol/wsclient.c, accept keys from
# protocol/wsproto.c) over OpenSSL.
CLIENT_OBJS += $(OBJ)/protocol/wsclient.o $(OBJ)/protocol/wsproto.o
CLIENT_LIBS += $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
BINS += $(BIN)/hearth
$(BIN)/hearth: $(CLIENT_OBJS) $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(CLIENT_OBJS) $(OBJ)/libproto.a $(LDFLAGS) $(CLIENT_LIBS)

# The HTTP response parser: unit test and fuzz target.
UNIT_OBJS_httpresp := $(OBJ)/protocol/httpresp.o
FUZZ_EXTRA_SRCS_httpresp := protocol/httpresp.c

# The prompt's tokenizer: unit test and fuzz target.
UNIT_OBJS_argsplit := $(OBJ)/protocol/argsplit.o
FUZZ_EXTRA_SRCS_argsplit := protocol/argsplit.c

# The detach sequence of attach and shell: unit test.
UNIT_OBJS_detachkey := $(OBJ)/shell/client/detachkey.o

# hearth mcp's JSON-RPC lines (protocol/jsonrpc.c, json-c): unit test and fuzz target.
UNIT_OBJS_jsonrpc := $(OBJ)/protocol/jsonrpc.o
UNIT_LIBS_jsonrpc := -ljson-c
$(OBJ)/protocol/jsonrpc.o: CFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null)
# Recursive (=): API_LIBDIR comes from session/module.mk, read later.
FUZZ_EXTRA_SRCS_jsonrpc = protocol/jsonrpc.c $(API_LIBDIR)/libjson-c.so
