# protocol/: pure encode/decode code, no I/O. Linked into everything.
PROTO_SRCS := protocol/buf.c protocol/mux.c protocol/httphead.c protocol/httpreq.c \
	protocol/httpsrv.c protocol/utf8.c protocol/sshw.c protocol/tarhdr.c \
	protocol/vmhost.c protocol/api_ingress.c
# The guest DNS relay's message parser (hearthd; the agent links it too).
PROTO_SRCS += protocol/dnsmsg.c
# Identity requests (the agent, hearth-identity and hearthd).
PROTO_SRCS += protocol/idmsg.c
# TLS ClientHello peeking (the ingress picks its TLS front by ALPN).
PROTO_SRCS += protocol/tlshello.c
PROTO_OBJS := $(PROTO_SRCS:%.c=$(OBJ)/%.o)
$(OBJ)/libproto.a: $(PROTO_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The WebSocket client side (wsclient.c) checks accept keys with wsproto.c,
# which needs libcrypto, so it stays out of libproto like wsproto.c does; the
# hearth client links both objects. Both parse heads with httphead.c, which is
# in libproto: everything that links them links libproto after them.
# Recursive (=) so API_LIBDIR, defined in session/module.mk, is known when
# the fuzz prerequisites are expanded.
UNIT_OBJS_wsclient := $(OBJ)/protocol/wsclient.o $(OBJ)/protocol/wsproto.o
UNIT_LIBS_wsclient := -lcrypto
FUZZ_EXTRA_SRCS_wsclient = protocol/wsclient.c protocol/wsproto.c $(API_LIBDIR)/libcrypto.so

# h2map.c serves only hearthd's HTTP/2 front end: kept out of libproto (which
# the static guest agent links) and linked where it is used.
UNIT_OBJS_h2map := $(OBJ)/protocol/h2map.o
FUZZ_EXTRA_SRCS_h2map = protocol/h2map.c

# The image builder's parsers (hearthd only): the Dockerfile (lexer, word
# expansion, exec form, plan) and .dockerignore patterns. Kept out of libproto,
# which the static guest agent and every fuzz target link.
IMG_PROTO_SRCS := protocol/dockerignore.c protocol/dockerfile.c protocol/dflex.c \
	protocol/dfword.c protocol/dfjson.c
IMG_PROTO_OBJS := $(IMG_PROTO_SRCS:%.c=$(OBJ)/%.o)
$(OBJ)/libimgproto.a: $(IMG_PROTO_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
UNIT_OBJS_dockerfile := $(OBJ)/libimgproto.a
UNIT_OBJS_dfword := $(OBJ)/libimgproto.a
UNIT_OBJS_dockerignore := $(OBJ)/libimgproto.a
FUZZ_EXTRA_SRCS_dockerfile = $(IMG_PROTO_SRCS)
FUZZ_EXTRA_SRCS_dockerignore = protocol/dockerignore.c
