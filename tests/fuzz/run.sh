#!/usr/bin/env bash
# Run every libFuzzer target in DIR for SECONDS each, from its seed corpus
# (tests/fuzz/seeds/<name>/), into a scratch corpus that is not committed.
set -euo pipefail
dir=$1 secs=${2:-30}
cd "$(dirname "$0")/../.."
fail=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=tests/fuzz/corpus-$name
	mkdir -p "$corpus"
	seeds=tests/fuzz/seeds/$name
	echo "fuzz: $name for ${secs}s"
	if ! "$f" -max_total_time="$secs" -max_len=70000 -print_final_stats=1 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) >"$corpus.log" 2>&1; then
		echo "fuzz: $name FAILED"; tail -40 "$corpus.log"; fail=1
	else
		grep -E 'stat::number_of_executed_units|cov:' "$corpus.log" | tail -2
	fi
done
[ $fail -eq 0 ] && echo "fuzz: all targets ran clean"
exit $fail
