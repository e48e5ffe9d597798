#!/usr/bin/env bash
# `make bench`: run every tests/bench/*_bench.sh and print its figures.
# Fixed order: agent, api, vm, then any others by name. Each benchmark gets its
# own deadline: a "# bench-deadline: SECONDS" line in its first 10 lines, else
# BENCH_DEADLINE (default 300). A benchmark past its deadline is stopped with
# its whole process group (timeout(1) signals the group it leads).
# `run.sh NAME...` (e.g. `run.sh agent`, or `make bench BENCH=agent`) runs
# only those. Exit status: 0 when every benchmark run finished and exited 0.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export HEARTH_BUILD=${HEARTH_BUILD:-$PWD/build}
default_deadline=${BENCH_DEADLINE:-300}

order=()
for name in agent api vm; do
	[ -f "tests/bench/${name}_bench.sh" ] && order+=("tests/bench/${name}_bench.sh")
done
for f in tests/bench/*_bench.sh; do
	[ -f "$f" ] || continue
	case "$f" in
	tests/bench/agent_bench.sh | tests/bench/api_bench.sh | tests/bench/vm_bench.sh) ;;
	*) order+=("$f") ;;
	esac
done
if [ $# -eq 0 ] && [ -n "${BENCH:-}" ]; then
	# shellcheck disable=SC2086 # a list of names
	set -- $BENCH
fi
if [ $# -gt 0 ]; then
	picked=()
	for name in "$@"; do
		f=tests/bench/${name%_bench}_bench.sh
		[ -f "$f" ] || { echo "bench: no $f"; exit 1; }
		picked+=("$f")
	done
	order=("${picked[@]}")
fi
if [ "${#order[@]}" -eq 0 ]; then
	echo "bench: no tests/bench/*_bench.sh found"
	exit 1
fi

summary=()
failed=0
for f in "${order[@]}"; do
	name=$(basename "$f" .sh)
	dl=$(head -n 10 "$f" | sed -nE 's/^# bench-deadline: *([0-9]+).*/\1/p' | head -n 1)
	dl=${dl:-$default_deadline}
	echo "=== $name (deadline ${dl}s) ==="
	start=$(date +%s)
	timeout -k 10 "$dl" bash "$f"
	rc=$?
	took=$(($(date +%s) - start))
	case $rc in
	0) status="ok" ;;
	124 | 137) status="TIMED OUT after ${dl}s"; failed=$((failed + 1)) ;;
	*) status="FAILED (exit $rc)"; failed=$((failed + 1)) ;;
	esac
	summary+=("$(printf '%-20s %s in %ss' "$name" "$status" "$took")")
	echo
done

echo "=== bench summary ==="
printf '  %s\n' "${summary[@]}"
[ "$failed" -eq 0 ]
