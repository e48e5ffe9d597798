# shell/client/: the `hearth` command. Uses protocol/ and json-c; the HTTP
# response parser it needs (protocol/httpresp.c, pure) is built here.
CLIENT_SRCS := $(wildcard shell/client/*.c) protocol/httpresp.c
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(OBJ)/%.o)
CLIENT_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
$(CLIENT_OBJS): CFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null)
BINS += $(BIN)/hearth
$(BIN)/hearth: $(CLIENT_OBJS) $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(CLIENT_OBJS) $(OBJ)/libproto.a $(LDFLAGS) $(CLIENT_LIBS)

# The HTTP response parser: unit test and fuzz target.
UNIT_OBJS_httpresp := $(OBJ)/protocol/httpresp.o
FUZZ_EXTRA_SRCS_httpresp := protocol/httpresp.c
