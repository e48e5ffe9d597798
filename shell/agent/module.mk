# shell/agent/: hearth-agent, the guest agent.
#  $(BIN)/hearth-agent      host build (Makefile CFLAGS, follows SANITIZE), used by tests
#  build/guest/hearth-agent static, -O2, no sanitizers: injected into guest images
AGENT_SRCS := $(wildcard shell/agent/*.c)
AGENT_OBJS := $(AGENT_SRCS:%.c=$(OBJ)/%.o)
AGENT_GUEST := build/guest/hearth-agent
AGENT_GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -fno-strict-aliasing -O2 $(WARN) -I.

$(BIN)/hearth-agent: $(AGENT_OBJS) $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(AGENT_OBJS) $(OBJ)/libproto.a $(LDFLAGS)

# Built from source in one step so it never picks up sanitizer objects.
$(AGENT_GUEST): $(AGENT_SRCS) $(PROTO_SRCS) $(wildcard shell/agent/*.h protocol/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_GUEST_CFLAGS) -static -o $@ $(AGENT_SRCS) $(PROTO_SRCS)

BINS += $(BIN)/hearth-agent $(AGENT_GUEST)

# tarfs (the FILES builtin's tree <-> tar) in a unit test: single and multi-root puts.
UNIT_OBJS_tarfs := $(OBJ)/shell/agent/tarfs.o
$(BIN)/tests/test_tarfs: $(OBJ)/shell/agent/tarfs.o
