# shellcheck shell=bash
# tests/bench/agent.sh - sourced by benchmarks: hearth-agent listening on a
# unix socket in a private directory.
#   agent_start BIN DIR   starts `BIN --listen unix:DIR/agent.sock --shell
#                         tests/integration/host-shell`; sets
#                         AGENT_PID and AGENT_SOCK once the socket exists
#   agent_stop            stops it (safe to call twice)
#   agent_cpu_ticks       user+system clock ticks the agent has used so far

AGENT_PID=
AGENT_SOCK=
AGENT_HOST_SHELL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/host-shell

agent_start() {
	local bin=$1 dir=$2
	if [ ! -x "$bin" ]; then
		echo "agent: $bin is not built" >&2
		return 1
	fi
	mkdir -p "$dir"
	AGENT_SOCK=$dir/agent.sock
	# The suite's shell, not the host user's login shell and dotfiles.
	"$bin" --listen "unix:$AGENT_SOCK" --shell "$AGENT_HOST_SHELL" 2>>"$dir/agent.log" &
	AGENT_PID=$!
	for _ in $(seq 100); do
		[ -S "$AGENT_SOCK" ] && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent did not come up; log:" >&2
	cat "$dir/agent.log" >&2
	agent_stop
	return 1
}

agent_stop() {
	[ -n "$AGENT_PID" ] || return 0
	kill "$AGENT_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

agent_cpu_ticks() {
	# fields 14 and 15 of /proc/PID/stat, counted after the ")" of the name
	sed -E 's/.*\) //' "/proc/$AGENT_PID/stat" | awk '{ print $12 + $13 }'
}
