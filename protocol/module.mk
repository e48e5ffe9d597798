# protocol/: pure encode/decode code, no I/O. Linked into everything.
PROTO_SRCS := protocol/buf.c protocol/mux.c
PROTO_OBJS := $(PROTO_SRCS:%.c=$(OBJ)/%.o)
$(OBJ)/libproto.a: $(PROTO_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
