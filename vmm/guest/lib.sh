# vmm/guest/lib.sh - shared helpers for the guest build scripts (sourced, not run).
#
# Cache layout: $HEARTH_CACHE, else /var/cache/hearth for root, else ~/.cache/hearth.
# An entry is built in a temp dir beside it and renamed into place only on success,
# under an flock so two builders of one kind never race; temp dirs left by a killed
# build are removed the next time the lock is taken.

guest_log() { printf '%s: %s\n' "${GUEST_PROG:-guest}" "$*" >&2; }
guest_die() { guest_log "error: $*"; exit 1; }

guest_cache_root() {
	if [ -n "${HEARTH_CACHE:-}" ]; then
		printf '%s\n' "$HEARTH_CACHE"
	elif [ "$(id -u)" -eq 0 ]; then
		printf '%s\n' /var/cache/hearth
	else
		printf '%s\n' "${HOME:?HOME unset}/.cache/hearth"
	fi
}

# sha256 of everything passed (files are hashed by content, other words literally), short form.
guest_key() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then
			printf 'file %s\n' "$(sha256sum <"$a" | cut -d' ' -f1)"
		else
			printf 'word %s\n' "$a"
		fi
	done | sha256sum | cut -c1-16
}

# guest_lock KINDDIR: take an exclusive lock for KINDDIR (fd 9) and remove stale temp dirs.
# Stale means: any .tmp-* dir, since nobody else can be building while we hold the lock.
guest_lock() {
	local kind=$1
	mkdir -p "$kind"
	exec 9>"$kind/.lock"
	if ! flock -n 9; then
		guest_log "waiting for another build in $kind"
		flock 9
	fi
	local t
	for t in "$kind"/.tmp-*; do
		[ -e "$t" ] || continue
		guest_log "removing stale temp dir $t"
		rm -rf "$t"
	done
}

guest_unlock() { exec 9>&-; }

# Progress of a long build (guest_entry): a line whenever the recipe logs a new
# "stage: NAME" line, and a heartbeat every GUEST_HEARTBEAT seconds, both with the
# elapsed time; with a percentage when the caller can count the work:
#   GUEST_COUNT  a function NAME; "NAME TMPDIR LOG" prints how many units are done
#   GUEST_TOTAL  the expected number of units (from an earlier build), may be empty
#   GUEST_UNIT   what a unit is ("objects", "steps")
GUEST_HEARTBEAT=${GUEST_HEARTBEAT:-15}

guest_elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

guest_progress_line() {
	local tmp=$1 log=$2 stage=$3 secs=$4 done pct line
	line="[$(guest_elapsed "$secs")] ${stage:-working}"
	if [ -n "${GUEST_COUNT:-}" ]; then
		done=$("$GUEST_COUNT" "$tmp" "$log" 2>/dev/null || echo 0)
		if [ -n "${GUEST_TOTAL:-}" ] && [ "$GUEST_TOTAL" -gt 0 ]; then
			pct=$((done * 100 / GUEST_TOTAL))
			[ "$pct" -gt 99 ] && pct=99 # estimates are from an earlier build
			line="$line $pct% ($done/~$GUEST_TOTAL ${GUEST_UNIT:-steps})"
		else
			line="$line ($done ${GUEST_UNIT:-steps})"
		fi
	fi
	guest_log "$line"
}

# guest_watch PID TMP LOG START: report on the recipe PID until it ends.
guest_watch() {
	local pid=$1 tmp=$2 log=$3 start=$4 stage="" cur last now
	last=$start
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		now=$(date +%s)
		cur=$(grep -a '^stage: ' "$log" 2>/dev/null | tail -n 1 | cut -c8-) || cur=""
		if [ "$cur" != "$stage" ] || [ $((now - last)) -ge "$GUEST_HEARTBEAT" ]; then
			stage=$cur
			last=$now
			guest_progress_line "$tmp" "$log" "$stage" $((now - start))
		fi
	done
}

# guest_entry KINDDIR KEY WHAT CMD...: ensure the cache entry KINDDIR/KEY exists and print
# its path. On a miss, runs CMD... TMPDIR_OF_ENTRY under the lock (output to a log beside
# the entry, progress to stderr: guest_watch), and renames the temp dir into place only
# if CMD succeeded. An entry counts as present when it holds the ".done" marker, written last.
guest_entry() {
	local kind=$1 key=$2 what=$3
	shift 3
	local entry=$kind/$key
	if [ -f "$entry/.done" ]; then
		guest_log "cache hit: $what $entry"
		printf '%s\n' "$entry"
		return 0
	fi
	guest_lock "$kind"
	if [ -f "$entry/.done" ]; then # built by whoever held the lock before us
		guest_unlock
		guest_log "cache hit: $what $entry"
		printf '%s\n' "$entry"
		return 0
	fi
	local tmp=$kind/.tmp-$key log=$kind/.build-$key.log start rc=0 pid
	rm -f "$kind"/.build-*.log
	mkdir -p "$tmp"
	guest_log "building $what (key $key); progress every ${GUEST_HEARTBEAT}s, log: $log"
	start=$(date +%s)
	"$@" "$tmp" >"$log" 2>&1 &
	pid=$!
	guest_watch "$pid" "$tmp" "$log" "$start"
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		rm -rf "$tmp"
		guest_unlock
		tail -n 30 "$log" >&2
		guest_log "error: building $what failed (exit $rc) after $(guest_elapsed $(($(date +%s) - start))); full log: $log"
		return 1
	fi
	printf '%s\n' "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
	mv "$log" "$tmp/build.log"
	: >"$tmp/.done"
	rm -rf "$entry"
	mv "$tmp" "$entry"
	guest_unlock
	guest_log "built $what in $(guest_elapsed "$(cat "$entry/build-seconds")"): $entry"
	printf '%s\n' "$entry"
}

# The Debian mirror from this machine's apt configuration (deb822 .sources first, then
# sources.list). Prints the first URI whose Suites/dist names a Debian release.
guest_apt_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822 stanzas: take URIs of a stanza whose Suites line is not a -security suite.
		uri=$(awk '
			/^[ \t]*$/ { if (u != "" && s !~ /security/ && s != "") { print u; exit } u=""; s=""; next }
			tolower($1) == "uris:" { u=$2 }
			tolower($1) == "suites:" { s=$2 }
			END { if (u != "" && s !~ /security/ && s != "") print u }' "$f" | head -1)
		if [ -n "$uri" ]; then printf '%s\n' "$uri"; return 0; fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" {
			i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i+1) !~ /security/) { print $i; exit } }' "$f")
		if [ -n "$uri" ]; then printf '%s\n' "$uri"; return 0; fi
	done
	return 1
}
