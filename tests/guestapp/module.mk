# tests/guestapp/: the HTTP/1.1 + WebSocket test server the app-proxy tests put into the
# busybox guest. Static and built from source in one step with its own flags, so it never
# picks up sanitizer objects or libraries the guest does not have.
GUESTAPP := $(BIN)/tests/guestapp
GUESTAPP_CFLAGS := -std=c11 -D_GNU_SOURCE -fno-strict-aliasing -O2 $(WARN)

$(GUESTAPP): tests/guestapp/guestapp.c tests/guestapp/writeall.h
	@mkdir -p $(dir $@)
	$(CC) $(GUESTAPP_CFLAGS) -I. -static -o $@ $<

BINS += $(GUESTAPP)
CHECK_DEPS += $(GUESTAPP)

# guesttls: a TLS server in front of guestapp (an app that speaks TLS itself,
# upstls.h). OpenSSL is linked in statically: the busybox guest has none.
GUESTTLS := $(BIN)/tests/guesttls

$(GUESTTLS): tests/guestapp/guesttls.c tests/guestapp/writeall.h
	@mkdir -p $(dir $@)
	$(CC) $(GUESTAPP_CFLAGS) -I. -static -Wl,--no-warnings -o $@ $< -lssl -lcrypto -lpthread

BINS += $(GUESTTLS)
CHECK_DEPS += $(GUESTTLS)
