#!/usr/bin/env bash
# Run every test: C unit tests, then the pytest integration/conformance suite.
# Ends with one summary line: "all: N passed, N failed" (N counts test cases).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${HEARTH_BUILD:-$PWD/build}
passed=0 failed=0
for t in "$B"/bin/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	line=$(grep -E '^unit .*: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
	p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
	if [ -z "$line" ]; then echo "unit $t: crashed (rc=$rc)"; failed=$((failed+1)); continue; fi
	passed=$((passed+p)); failed=$((failed+f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed+1))
done
# Integration and conformance tests: Debian's pytest, never a pyenv one.
PY=/usr/bin/python3
export HEARTH_BUILD="$B"
log=$(mktemp)
$PY -m pytest -p no:cacheprovider -q -rfEs tests/integration ${PYTEST_ARGS:-} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
sum=$(grep -E '^(=+ )?[0-9].*(passed|failed|error)' "$log" | tail -1)
p=$(grep -oE '[0-9]+ passed' <<<"$sum" | grep -oE '[0-9]+' || echo 0)
f=$(grep -oE '[0-9]+ (failed|error)' <<<"$sum" | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null || echo 0)
s=$(grep -oE '[0-9]+ skipped' <<<"$sum" | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
passed=$((passed+${p:-0})); failed=$((failed+${f:-0}))
# pytest exit 5 = no tests collected; anything else non-zero with no counted failure is a failure.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed+1)); fi
echo "all: $passed passed, $failed failed, ${s:-0} skipped"
[ "$failed" -eq 0 ]
