# vmm/: the VM engine (QEMU microvm over QMP), the agent control helper and
# the hearth-vm dev/test CLI.
VMM_SRCS := vmm/engine.c vmm/qemu.c vmm/qmp.c vmm/qmpc.c vmm/proc.c vmm/snapfile.c \
	vmm/agentctl.c vmm/image.c vmm/fdio.c vmm/host.c vmm/conlog.c \
	vmm/ramfile.c
VMM_OBJS := $(VMM_SRCS:%.c=$(OBJ)/%.o)
VMM_LIBS := -ljson-c -lpthread

$(OBJ)/libvmm.a: $(VMM_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/hearth-vm: $(OBJ)/vmm/hearth-vm.o $(OBJ)/vmm/relay.o $(OBJ)/libvmm.a $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(VMM_LIBS)

BINS += $(BIN)/hearth-vm

# Unit tests (tests/unit/test_X.c) and fuzz targets of this module.
UNIT_OBJS_qmp := $(OBJ)/vmm/qmp.o
UNIT_LIBS_qmp := -ljson-c
UNIT_OBJS_snapfile := $(OBJ)/vmm/snapfile.o
UNIT_LIBS_snapfile := -ljson-c
$(BIN)/tests/test_qmp: $(OBJ)/vmm/qmp.o
$(BIN)/tests/test_snapfile: $(OBJ)/vmm/snapfile.o
UNIT_OBJS_ramfile := $(OBJ)/vmm/ramfile.o
$(BIN)/tests/test_ramfile: $(OBJ)/vmm/ramfile.o
# The fuzz rule links all prerequisites ($^), so the extra sources and the
# json-c library (by path) are listed as prerequisites of each target.
JSONC_SO := $(shell pkg-config --variable=libdir json-c 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/libjson-c.so
FUZZ_EXTRA_SRCS_qmp := vmm/qmp.c $(JSONC_SO)
FUZZ_EXTRA_SRCS_snapfile := vmm/snapfile.c $(JSONC_SO)
$(O)/fuzz/fuzz_qmp: vmm/qmp.c $(JSONC_SO)
$(O)/fuzz/fuzz_snapfile: vmm/snapfile.c $(JSONC_SO)
FUZZ_EXTRA_SRCS_ramdelta := vmm/ramfile.c
$(O)/fuzz/fuzz_ramdelta: vmm/ramfile.c
UNIT_OBJS_proc := $(OBJ)/vmm/proc.o
UNIT_LIBS_proc := -lpthread
$(BIN)/tests/test_proc: $(OBJ)/vmm/proc.o
UNIT_OBJS_conlog := $(OBJ)/vmm/conlog.o
UNIT_LIBS_conlog := -lpthread
$(BIN)/tests/test_conlog: $(OBJ)/vmm/conlog.o
