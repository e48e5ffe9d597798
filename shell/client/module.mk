# shell/client/: the `hearth` command. Uses only protocol/.
CLIENT_SRCS := $(wildcard shell/client/*.c)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(OBJ)/%.o)
BINS += $(BIN)/hearth
$(BIN)/hearth: $(CLIENT_OBJS) $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(CLIENT_OBJS) $(OBJ)/libproto.a $(LDFLAGS)
