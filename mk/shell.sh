#!/usr/bin/env bash
# make shell: run a fresh microVM from a managed image (IMAGE, default busybox)
# under hearthd and open `hearth shell` on it, the way any user would.
#
# hearthd: the one answering at $HEARTH_API (default http://127.0.0.1:7400) is
# used. If none answers, one is started on the default addresses (API
# 127.0.0.1:7400, ingress 127.0.0.1:7443) with a private state and cache under
# the build directory ($B/shell-hearthd/), so `make shell` never touches the
# user's own hearth state. It keeps running after the shell ends (the next
# `make shell` starts in about a second instead of building a snapshot again);
# its pid, log and how to stop it are printed. The VM is terminated when the
# shell ends. Every wait has a deadline.
#
# Keys: the hearthd started here runs with --no-aws-profile (your ~/.aws is
# left alone); `hearth` signs with the key in its state directory
# ($D/state/credentials, an AWS credentials file with profile hearth) through
# AWS_SHARED_CREDENTIALS_FILE. Any other hearthd is called with your own
# credentials (profile $AWS_PROFILE, default hearth, which hearthd writes).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${HEARTH_BUILD:-$PWD/build}
IMAGE=${IMAGE:-busybox}
HEARTH=$B/bin/hearth
[ -f "$B/guest/$IMAGE/image.json" ] || { echo "shell: no image $B/guest/$IMAGE (run make first)" >&2; exit 1; }
export HEARTH_API=${HEARTH_API:-http://127.0.0.1:7400}
D=$B/shell-hearthd
pidfile=$D/hearthd.pid

answering() { "$HEARTH" list --timeout 2 >/dev/null 2>&1; }
ours_alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
use_our_keys() {
	export AWS_SHARED_CREDENTIALS_FILE=$D/state/credentials AWS_PROFILE=hearth
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}
if ours_alive; then
	use_our_keys
fi

if ! answering; then
	if ours_alive; then
		echo "shell: hearthd (pid $(cat "$pidfile")) runs but does not answer at $HEARTH_API" >&2
		exit 1
	fi
	case $HEARTH_API in
	http://127.0.0.1:7400 | http://127.0.0.1:7400/) ;;
	*) echo "shell: nothing answers at $HEARTH_API (start hearthd there, or unset HEARTH_API)" >&2; exit 1 ;;
	esac
	mkdir -p "$D"
	setsid "$B/bin/hearthd" --api-listen 127.0.0.1:7400 --ingress-listen 127.0.0.1:7443 \
		--state-dir "$D/state" --cache-dir "$D/cache" --image-dir "$B/guest" --no-aws-profile \
		>>"$D/hearthd.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	use_our_keys
	for _ in $(seq 150); do
		answering && break
		kill -0 "$(cat "$pidfile")" 2>/dev/null || break
		sleep 0.1
	done
	if ! answering; then
		echo "shell: hearthd did not start; its log ($D/hearthd.log) ends with:" >&2
		tail -n 20 "$D/hearthd.log" >&2
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
		exit 1
	fi
	echo "shell: started hearthd (pid $(cat "$pidfile"), state $D/state, log $D/hearthd.log)" >&2
fi
# Trust the CA of the hearthd we started; any other hearthd's CA is found by
# `hearth shell` itself (hearthd's default state directory).
if ours_alive && [ -z "${HEARTH_CACERT:-}" ]; then
	export HEARTH_CACERT=$D/state/tls/ca.pem
fi

doc=$("$HEARTH" run "$IMAGE" --wait --json --timeout 300) || { echo "shell: the VM did not start" >&2; exit 1; }
id=$(sed -nE 's/.*"microvmId": *"([^"]+)".*/\1/p' <<<"$doc" | head -n 1)
state=$(sed -nE 's/.*"state": *"([^"]+)".*/\1/p' <<<"$doc" | head -n 1)
[ -n "$id" ] && [ "$state" = RUNNING ] || { echo "shell: the VM is ${state:-not there}: $doc" >&2; exit 1; }
cleanup() {
	"$HEARTH" terminate "$id" >/dev/null 2>&1 || true
	if ours_alive; then
		echo "shell: hearthd (pid $(cat "$pidfile")) keeps running for the next make shell;" \
			"stop it with: kill $(cat "$pidfile")" >&2
	fi
}
trap cleanup EXIT
echo "shell: $id is RUNNING; opening a shell (Ctrl-] d detaches; the VM is terminated after)" >&2
set +e
"$HEARTH" shell "$id"
rc=$?
exit $rc
