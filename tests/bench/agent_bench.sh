#!/usr/bin/env bash
# bench-deadline: 240
# hearth-agent beside OpenSSH in one run: keystroke echo round trip through a
# pty on both sides, and bulk throughput (`head -c` of /dev/zero). The peer is
# Debian's sshd started here on a loopback port with throwaway keys. Runs are
# interleaved (agent, ssh, agent, ssh, ...) so background load hits both, and
# the table shows the median of BENCH_REPEAT runs.
# Knobs: BENCH_RTT_N (2000), BENCH_RTT_WARMUP (200), BENCH_BULK_MB (512),
# BENCH_REPEAT (5). A third round trip, cat on a local pty with no transport,
# is the floor both sides pay; "added" rows subtract it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${HEARTH_BUILD:-$(cd "$here/../.." && pwd)/build}
AB=$B/bin/bench/agent_bench
N=${BENCH_RTT_N:-2000}
W=${BENCH_RTT_WARMUP:-200}
MB=${BENCH_BULK_MB:-512}
R=${BENCH_REPEAT:-5}
BYTES=$((MB * 1024 * 1024))
GCM=aes128-gcm@openssh.com
RAWCAT="stty raw -echo; printf 'RE''ADY'; exec cat"

# shellcheck source=tests/bench/sshd.sh
. "$here/sshd.sh"
# shellcheck source=tests/bench/agent.sh
. "$here/agent.sh"

tmp=$(mktemp -d /tmp/hearth-bench-agent.XXXXXX)
cleanup() {
	agent_stop
	sshd_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$AB" ] || { echo "agent_bench: $AB is not built (make)" >&2; exit 1; }
sshd_start "$tmp/ssh" || exit 1
agent_start "$B/bin/hearth-agent" "$tmp/agent" || exit 1
res=$tmp/results
hz=$(getconf CLK_TCK)

# run LABEL MODE ARGS...: one measurement, appended to $res as
# "REP LABEL key=value ..." (REP: the current repetition).
run() {
	local label=$1 out
	shift
	if ! out=$("$AB" -t 60 "$@"); then
		echo "agent_bench: $label failed" >&2
		return 1
	fi
	echo "$rep $label $out" >>"$res"
}

# An agent bulk run, with the agent's own CPU seconds per GB transferred.
run_agent_bulk() {
	local label=$1 window=$2 t0 t1
	t0=$(agent_cpu_ticks)
	run "$label" bulk "$AGENT_SOCK" "$BYTES" "$window" || return 1
	t1=$(agent_cpu_ticks)
	sed -i "\$s/\$/ agent_cpu_s_per_gb=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v b="$BYTES" \
		'BEGIN { printf "%.2f", d / hz / (b / 1e9) }')/" "$res"
}

fails=0
for rep in $(seq "$R"); do
	echo "run $rep/$R ..."
	run pty-rtt rtt-pty "$N" "$W" -- sh -c "$RAWCAT" || fails=$((fails + 1))
	run agent-rtt rtt "$AGENT_SOCK" "$N" "$W" || fails=$((fails + 1))
	run ssh-rtt rtt-cmd "$N" "$W" -- "${SSH[@]}" -tt "$SSHD_DEST" "$RAWCAT" || fails=$((fails + 1))
	run gcm-rtt rtt-cmd "$N" "$W" -- "${SSH[@]}" -c "$GCM" -tt "$SSHD_DEST" "$RAWCAT" ||
		fails=$((fails + 1))
	run_agent_bulk agent-bulk-4m $((4 * 1024 * 1024)) || fails=$((fails + 1))
	run_agent_bulk agent-bulk-256k $((256 * 1024)) || fails=$((fails + 1))
	run ssh-bulk bulk-cmd "$BYTES" -- "${SSH[@]}" "$SSHD_DEST" "head -c $BYTES /dev/zero" ||
		fails=$((fails + 1))
	run gcm-bulk bulk-cmd "$BYTES" -- "${SSH[@]}" -c "$GCM" "$SSHD_DEST" \
		"head -c $BYTES /dev/zero" || fails=$((fails + 1))
done

echo "raw figures (repetition, what, figures):"
sed 's/^/  /' "$res"
cipher=$("${SSH[@]}" -G "$SSHD_DEST" | awk '$1 == "ciphers" { split($2, c, ","); print c[1] }')
ver=$(ssh -V 2>&1 | awk '{ print $1 }' | tr -d ,)

awk -v runs="$R" -v n="$N" -v mb="$MB" -v cipher="$cipher" -v ver="$ver" -v gcm="$GCM" '
{
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		v[$1, $2, kv[1]] = kv[2]
		seen[$1, $2, kv[1]] = 1
	}
}
# median over the repetitions of key k for label l; -1 when none succeeded
function med(l, k,    i, m, x, t, j) {
	m = 0
	for (i = 1; i <= runs; i++)
		if (seen[i, l, k]) x[++m] = v[i, l, k]
	if (m == 0) return -1
	for (i = 2; i <= m; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
	return (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
}
# repetitions where label a beat label l on key k (lower, or at least as high when hi),
# out of those where both were measured
function wins(a, l, k, hi,    i, w, m) {
	w = m = 0
	for (i = 1; i <= runs; i++) {
		if (!seen[i, a, k] || !seen[i, l, k]) continue
		m++
		if (hi ? v[i, a, k] >= v[i, l, k] : v[i, a, k] < v[i, l, k]) w++
	}
	return w "/" m
}
function fmt(x) { return x < 0 ? "failed" : sprintf("%.1f", x) }
function row(name, a, s, note,    r) {
	r = (a > 0 && s > 0) ? sprintf("%.2f", a / s) : "n/a"
	printf "  %-36s %10s %10s %10s   %s\n", name, fmt(a), fmt(s), r, note
}
END {
	printf "\nhearth-agent vs %s on loopback, same run, median of %d repetitions\n", ver, runs
	printf "round trip: %d single-byte echoes each through a raw pty running cat; bulk: %d MiB of\n", n, mb
	printf "head -c /dev/zero, timed first byte to end of stream, MB = 10^6 bytes\n\n"
	printf "  %-36s %10s %10s %10s\n", "", "agent", "OpenSSH", "agent/ssh"
	f50 = med("pty-rtt", "p50_us"); f99 = med("pty-rtt", "p99_us")
	a50 = med("agent-rtt", "p50_us"); a99 = med("agent-rtt", "p99_us")
	s50 = med("ssh-rtt", "p50_us"); s99 = med("ssh-rtt", "p99_us")
	row("echo round trip p50 (us)", a50, s50, "lower is better; agent lower in " wins("agent-rtt", "ssh-rtt", "p50_us", 0) " runs")
	row("echo round trip p99 (us)", a99, s99, "lower is better; agent lower in " wins("agent-rtt", "ssh-rtt", "p99_us", 0) " runs")
	row("echo round trip mean (us)", med("agent-rtt", "mean_us"), med("ssh-rtt", "mean_us"), "lower is better")
	if (f50 > 0 && a50 > 0 && s50 > 0)
		row("  p50 added over local pty (us)", a50 - f50, s50 - f50, sprintf("local pty + cat alone: p50 %.1f, p99 %.1f", f50, f99))
	b4 = med("agent-bulk-4m", "mbps"); b256 = med("agent-bulk-256k", "mbps"); sb = med("ssh-bulk", "mbps")
	row("bulk MB/s, agent window 4 MiB", b4, sb, "higher is better")
	row("bulk MB/s, agent window 256 KiB", b256, sb, "higher is better; agent ahead in " wins("agent-bulk-256k", "ssh-bulk", "mbps", 1) " runs")
	printf "  (OpenSSH default cipher: %s)\n\n", cipher
	printf "  OpenSSH with -c %s:\n", gcm
	g50 = med("gcm-rtt", "p50_us"); g99 = med("gcm-rtt", "p99_us"); gb = med("gcm-bulk", "mbps")
	row("echo round trip p50 (us)", a50, g50, "lower is better")
	row("echo round trip p99 (us)", a99, g99, "lower is better")
	row("bulk MB/s, agent window 4 MiB", b4, gb, "higher is better")
	row("bulk MB/s, agent window 256 KiB", b256, gb, "higher is better")
	printf "\n  agent CPU per GB sent: %.2f s (4 MiB window), %.2f s (256 KiB window)\n",
		med("agent-bulk-4m", "agent_cpu_s_per_gb"), med("agent-bulk-256k", "agent_cpu_s_per_gb")
	printf "  before the first byte (ms): agent exec open %.1f, ssh connect + auth + exec %.1f\n\n",
		med("agent-bulk-256k", "setup_ms"), med("ssh-bulk", "setup_ms")
	rtt_ok = (a50 > 0 && s50 > 0 && a50 < s50 && a99 < s99 && (g50 < 0 || (a50 < g50 && a99 < g99)))
	tp_ok = (b256 > 0 && b4 > 0 && sb > 0 && b256 >= sb && b4 >= sb && (gb < 0 || (b256 >= gb && b4 >= gb)))
	printf "goal: lower round trip than OpenSSH (median p50 and p99): %s\n", rtt_ok ? "MET" : "NOT MET"
	printf "goal: at least OpenSSH throughput (median, both windows): %s\n", tp_ok ? "MET" : "NOT MET"
}' "$res"

if [ "$fails" -gt 0 ]; then
	echo "agent_bench: $fails measurement(s) failed" >&2
	exit 1
fi
