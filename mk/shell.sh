#!/usr/bin/env bash
# make shell: boot a fresh microVM from a managed image (IMAGE, default busybox)
# and open a terminal on a login shell inside it. The VM is stopped when the
# shell exits or the client detaches. Every wait has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${HEARTH_BUILD:-$PWD/build}
IMAGE=${IMAGE:-busybox}
img=$B/guest/$IMAGE/image.json
[ -f "$img" ] || { echo "shell: no image $img (run make first)" >&2; exit 1; }
run=$(mktemp -d /tmp/hearth-shell.XXXXXX)
cleanup() {
	if [ -n "${vm_pid:-}" ] && kill -0 "$vm_pid" 2>/dev/null; then
		echo stop >&"${VM[1]}" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$vm_pid" 2>/dev/null || break; sleep 0.1; done
		kill "$vm_pid" 2>/dev/null || true
	fi
	rm -rf "$run"
}
trap cleanup EXIT
coproc VM { exec "$B/bin/hearth-vm" boot --image "$img" --dir "$run/vm" 2>"$run/vm.err"; }
vm_pid=$VM_PID
agent=
while IFS= read -r -t 180 line <&"${VM[0]}"; do
	case $line in
	ready*) agent=$(sed -nE 's/.* agent=([^ ]+).*/\1/p' <<<"$line"); echo "shell: $line" >&2; break ;;
	err*) echo "shell: $line" >&2; cat "$run/vm.err" >&2; exit 1 ;;
	esac
done
[ -n "$agent" ] || { echo "shell: the VM did not become ready" >&2; cat "$run/vm.err" >&2; exit 1; }
set +e
"$B/bin/hearth" attach "unix:$agent"
rc=$?
exit $rc
