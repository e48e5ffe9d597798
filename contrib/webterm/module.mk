# contrib/webterm: the web terminal page hearthd serves on its ingress
# (session/webterm.c). xterm.js and its fit addon come from npm, pinned by
# package-lock.json, and are copied next to our files into
# $(O)/share/hearth/webterm/ (hearthd's default --webterm-dir): the page
# loads nothing from elsewhere at run time.
WEBTERM_DIR := $(O)/share/hearth/webterm
WEBTERM_NM := contrib/webterm/node_modules
WEBTERM_STAMP := $(OBJ)/contrib/webterm/npm-ci.stamp
WEBTERM_OWN := index.html webterm.js webterm.css
WEBTERM_FILES := $(addprefix $(WEBTERM_DIR)/,$(WEBTERM_OWN) xterm.js xterm.css addon-fit.js)

# npm ci only when node_modules is missing or older than the lock: npm writes
# node_modules/.package-lock.json on every install, and several build dirs
# (build, build-san) share one node_modules.
# A removed node_modules forces the check even when the stamp is newer.
WEBTERM_NM_GONE := $(if $(wildcard $(WEBTERM_NM)/.package-lock.json),,webterm-npm-missing)
.PHONY: webterm-npm-missing
$(WEBTERM_STAMP): contrib/webterm/package-lock.json contrib/webterm/package.json $(WEBTERM_NM_GONE)
	@mkdir -p $(dir $@)
	@if [ ! contrib/webterm/node_modules/.package-lock.json -nt contrib/webterm/package-lock.json ]; then \
		echo "webterm: npm ci"; \
		(cd contrib/webterm && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	fi
	@touch $@

$(WEBTERM_DIR)/%: contrib/webterm/%
	@mkdir -p $(dir $@)
	cp $< $@
$(WEBTERM_DIR)/xterm.js: $(WEBTERM_STAMP)
	@mkdir -p $(dir $@)
	cp $(WEBTERM_NM)/@xterm/xterm/lib/xterm.js $@
$(WEBTERM_DIR)/xterm.css: $(WEBTERM_STAMP)
	@mkdir -p $(dir $@)
	cp $(WEBTERM_NM)/@xterm/xterm/css/xterm.css $@
$(WEBTERM_DIR)/addon-fit.js: $(WEBTERM_STAMP)
	@mkdir -p $(dir $@)
	cp $(WEBTERM_NM)/@xterm/addon-fit/lib/addon-fit.js $@

EXTRA_ALL += $(WEBTERM_FILES)
