#!/usr/bin/env bash
# Replay every fuzz target's seed corpus once (make check): each file of
# tests/fuzz/seeds/<target>/ runs through the target, so a parser change that
# makes a fuzzer crash, leak or trip a sanitizer on a known input fails CI.
# The targets are every tests/fuzz/fuzz_*.c (the Makefile's FUZZERS come from
# the same wildcard), so a new target is replayed without touching this file;
# one that is not built, or has no seeds, fails. make fuzz is the long run.
# Usage: replay.sh FUZZ_DIR. Last line: "fuzz replay: N passed, N failed".
set -uo pipefail
dir=$1
cd "$(dirname "$0")/../.." || exit 1
passed=0 failed=0
shopt -s nullglob
srcs=(tests/fuzz/fuzz_*.c)
if [ ${#srcs[@]} -eq 0 ]; then
	echo "fuzz replay: no tests/fuzz/fuzz_*.c found"; failed=1
fi
for src in "${srcs[@]}"; do
	name=$(basename "$src" .c)
	bin=$dir/$name seeds=tests/fuzz/seeds/$name
	files=("$seeds"/*)
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: FAILED, $bin not built"; failed=$((failed+1)); continue
	fi
	if [ ${#files[@]} -eq 0 ]; then
		echo "fuzz $name: FAILED, no seeds: add inputs to $seeds/"; failed=$((failed+1)); continue
	fi
	log=$(mktemp)
	# Each file run once (file arguments: no fuzzing, no corpus written).
	if "$bin" -timeout=30 -rss_limit_mb=2048 "${files[@]}" >"$log" 2>&1 &&
	   [ "$(grep -c '^Executed ' "$log")" -eq ${#files[@]} ]; then
		echo "fuzz $name: ${#files[@]} seeds replayed, passed"; passed=$((passed+1))
	else
		echo "fuzz $name: FAILED replaying $seeds/"; tail -30 "$log"; failed=$((failed+1))
	fi
	rm -f "$log"
done
echo "fuzz replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
