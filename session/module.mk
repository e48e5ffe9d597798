# session/: hearthd, the daemon (API server, store, lifecycle), plus the API
# models and tokens in protocol/ that need json-c/libcrypto. Those live in
# their own archive (not PROTO_SRCS) because every fuzz target and the static
# guest agent link PROTO_SRCS, and must not pull in json-c or libcrypto.
API_PROTO_SRCS := protocol/token.c protocol/api_json.c protocol/api_run.c protocol/api_auth.c \
	protocol/api_tags.c protocol/api_page.c protocol/api_ident.c protocol/api_image.c \
	protocol/api_hook.c protocol/shellmsg.c protocol/wsproto.c protocol/sigv4.c \
	protocol/awsini.c protocol/api_connector.c protocol/api_imgreq.c
API_PROTO_OBJS := $(API_PROTO_SRCS:%.c=$(OBJ)/%.o)

$(OBJ)/libapiproto.a: $(API_PROTO_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

SESSION_SRCS := session/hearthd.c session/httpd.c session/httpconn.c session/routes.c session/ops.c \
	session/ops_vm.c session/ops_image.c session/ops_tags.c session/store.c \
	session/store_image.c session/ops_image_create.c session/ops_image_read.c \
	session/ops_image_delete.c session/ops_image_done.c \
	session/catalog.c session/keyfile.c session/lifecycle.c session/hooks.c \
	session/keeper.c session/ingress.c session/tlscert.c session/certcache.c session/agentlink.c \
	session/shellws.c session/shellhub.c session/ring.c session/execchan.c session/webterm.c \
	session/proxy.c session/h2srv.c session/h2up.c session/upstls.c session/uppool.c session/tlsfront.c protocol/h2map.c session/auth.c session/log.c session/clock.c session/vmstate.c \
	session/workers.c session/loop.c session/snapcache.c session/recover.c session/vmjobs.c \
	session/fsutil.c session/capacity.c session/statelock.c \
	session/sshd.c session/sshd_auth.c session/sshd_hostkey.c session/sshd_worker.c session/ops_ssh.c \
	session/identity.c session/identity_vm.c session/ops_identity.c session/ops_files.c \
	session/egress.c session/egress_conn.c session/connstore.c session/ops_conn.c \
	session/dns.c session/dns_resolve.c session/dns_policy.c session/dns_egress.c
# Images (issue 14): the code artifact zip and the context tars (libarchive).
SESSION_SRCS += session/artifact.c session/ctxtar.c
# Image builds (issue 14): the queue, the builder VMs, steps, step cache, log.
SESSION_SRCS += session/builder.c session/buildimage.c session/buildvm.c session/buildstep.c session/buildcache.c \
	session/buildlog.c
SESSION_OBJS := $(SESSION_SRCS:%.c=$(OBJ)/%.o)
SESSION_PKGS := libwebsockets json-c sqlite3 libssl libcrypto libcap libssh libnghttp2 libarchive
$(SESSION_OBJS) $(API_PROTO_OBJS): CFLAGS += $(shell pkg-config --cflags $(SESSION_PKGS) 2>/dev/null)
SESSION_LIBS := $(shell pkg-config --libs $(SESSION_PKGS) 2>/dev/null || echo -lwebsockets -ljson-c -lsqlite3 -lssl -lcrypto -lcap -lssh -lnghttp2 -larchive) -lpthread

$(BIN)/hearthd: $(SESSION_OBJS) $(OBJ)/libapiproto.a $(OBJ)/libimgproto.a $(OBJ)/vmm/relay.o $(OBJ)/libvmm.a $(OBJ)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(SESSION_LIBS)

BINS += $(BIN)/hearthd

# Unit tests and fuzz targets of the API models and tokens.
API_LIBDIR := $(shell pkg-config --variable=libdir json-c 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)
UNIT_OBJS_token := $(OBJ)/protocol/token.o
UNIT_LIBS_token := -lcrypto
$(BIN)/tests/test_token: $(OBJ)/protocol/token.o
UNIT_OBJS_api := $(OBJ)/libapiproto.a
UNIT_LIBS_api := -ljson-c -lcrypto
$(BIN)/tests/test_api: $(OBJ)/libapiproto.a
# The fuzz rule links all its prerequisites ($^): extra sources and libraries
# go in as prerequisites, libraries by path.
$(O)/fuzz/fuzz_token: protocol/token.c $(API_LIBDIR)/libcrypto.so
$(O)/fuzz/fuzz_api: $(API_PROTO_SRCS) $(API_LIBDIR)/libjson-c.so $(API_LIBDIR)/libcrypto.so
UNIT_OBJS_imgreq := $(OBJ)/libapiproto.a
UNIT_LIBS_imgreq := -ljson-c -lcrypto
$(BIN)/tests/test_imgreq: $(OBJ)/libapiproto.a
$(O)/fuzz/fuzz_imgreq: protocol/api_imgreq.c protocol/api_image.c protocol/api_json.c \
	$(API_LIBDIR)/libjson-c.so
UNIT_OBJS_shellmsg := $(OBJ)/protocol/shellmsg.o
UNIT_LIBS_shellmsg := -ljson-c
$(BIN)/tests/test_shellmsg: $(OBJ)/protocol/shellmsg.o
$(O)/fuzz/fuzz_shellmsg: protocol/shellmsg.c $(API_LIBDIR)/libjson-c.so
UNIT_OBJS_wsproto := $(OBJ)/protocol/wsproto.o
UNIT_LIBS_wsproto := -lcrypto
$(BIN)/tests/test_wsproto: $(OBJ)/protocol/wsproto.o
$(O)/fuzz/fuzz_wsproto: protocol/wsproto.c $(API_LIBDIR)/libcrypto.so
UNIT_OBJS_sigv4 := $(OBJ)/protocol/sigv4.o
UNIT_LIBS_sigv4 := -lcrypto
$(BIN)/tests/test_sigv4: $(OBJ)/protocol/sigv4.o
$(O)/fuzz/fuzz_sigv4: protocol/sigv4.c $(API_LIBDIR)/libcrypto.so
UNIT_OBJS_awsini := $(OBJ)/protocol/awsini.o
$(BIN)/tests/test_awsini: $(OBJ)/protocol/awsini.o
FUZZ_EXTRA_SRCS_awsini := protocol/awsini.c
UNIT_OBJS_ring := $(OBJ)/session/ring.o
$(BIN)/tests/test_ring: $(OBJ)/session/ring.o
UNIT_OBJS_vmstate := $(OBJ)/session/vmstate.o
$(BIN)/tests/test_vmstate: $(OBJ)/session/vmstate.o
UNIT_OBJS_capacity := $(OBJ)/session/capacity.o
$(BIN)/tests/test_capacity: $(OBJ)/session/capacity.o
UNIT_OBJS_dns_policy := $(OBJ)/session/dns_policy.o $(OBJ)/libapiproto.a
UNIT_LIBS_dns_policy := -ljson-c
$(BIN)/tests/test_dns_policy: $(OBJ)/session/dns_policy.o $(OBJ)/libapiproto.a
UNIT_OBJS_workers := $(OBJ)/session/workers.o
UNIT_LIBS_workers := -lpthread
$(BIN)/tests/test_workers: $(OBJ)/session/workers.o
# The API's connection core (strict framing, routing, answers) under the
# fuzzer, with a recording dispatcher in place of routes.c.
$(O)/fuzz/fuzz_httpconn: session/httpconn.c $(API_LIBDIR)/libjson-c.so
UNIT_OBJS_httpconn := $(OBJ)/session/httpconn.o
UNIT_LIBS_httpconn := -ljson-c
$(BIN)/tests/test_httpconn: $(OBJ)/session/httpconn.o
# The code artifact's checks and extraction, the context tars (libarchive).
UNIT_OBJS_artifact := $(OBJ)/session/artifact.o $(OBJ)/session/fsutil.o
UNIT_LIBS_artifact := -larchive
$(BIN)/tests/test_artifact: $(OBJ)/session/artifact.o $(OBJ)/session/fsutil.o
$(O)/fuzz/fuzz_artifact: session/artifact.c session/fsutil.c $(API_LIBDIR)/libarchive.so
# test_ctxtar also extracts the streams with the agent's multi-root put.
UNIT_OBJS_ctxtar := $(OBJ)/session/ctxtar.o $(OBJ)/session/artifact.o $(OBJ)/session/fsutil.o $(OBJ)/shell/agent/tarfs.o $(OBJ)/libimgproto.a
UNIT_LIBS_ctxtar := -larchive -lcrypto
$(BIN)/tests/test_ctxtar: $(OBJ)/session/ctxtar.o $(OBJ)/session/artifact.o $(OBJ)/session/fsutil.o $(OBJ)/shell/agent/tarfs.o $(OBJ)/libimgproto.a
UNIT_OBJS_buildlog := $(OBJ)/session/buildlog.o
$(BIN)/tests/test_buildlog: $(OBJ)/session/buildlog.o
# The step cache's keys and eviction (real directories under /tmp).
UNIT_OBJS_buildcache := $(OBJ)/session/buildcache.o $(OBJ)/session/fsutil.o $(OBJ)/vmm/snapfile.o
UNIT_LIBS_buildcache := -lcrypto -ljson-c
$(BIN)/tests/test_buildcache: $(OBJ)/session/buildcache.o $(OBJ)/session/fsutil.o $(OBJ)/vmm/snapfile.o
