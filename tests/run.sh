#!/usr/bin/env bash
# Run every test: the C unit tests, one replay of every fuzz target's seeds,
# then the pytest suite (integration, conformance, browser; tests/integration).
# Prints one line per suite ("suite NAME: ...") and ends with
#   all: N passed, N failed, N skipped
# (N counts test cases; CI reads "N passed, N failed"). A suite that silently
# ran nothing fails: a unit source without its binary or a binary reporting no
# test, a fuzz target not built or without seeds, a pytest collection error, a
# test file collecting no test, or fewer tests run than collected.
# PYTEST_ARGS adds pytest options (then files may be left out on purpose).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${HEARTH_BUILD:-$PWD/build}
PY=/usr/bin/python3    # Debian's pytest, never a pyenv one
export HEARTH_BUILD="$B"
passed=0 failed=0 skipped=0
lines=()
count() {  # count SUITE LINE: add "N passed, N failed[, N skipped]" of LINE to the totals
	local p f s
	p=$(grep -oE '[0-9]+ passed' <<<"$2" | head -1 | grep -oE '[0-9]+')
	f=$(grep -oE '[0-9]+ failed' <<<"$2" | head -1 | grep -oE '[0-9]+')
	s=$(grep -oE '[0-9]+ skipped' <<<"$2" | head -1 | grep -oE '[0-9]+')
	passed=$((passed+${p:-0})) failed=$((failed+${f:-0})) skipped=$((skipped+${s:-0}))
	lines+=("suite $1: ${p:-0} passed, ${f:-0} failed, ${s:-0} skipped${3:+ ($3)}")
}

# ---- unit: one binary per tests/unit/test_*.c, each ends "unit X: N passed, N failed"
up=0 uf=0 nbin=0
for src in tests/unit/test_*.c; do
	t=$B/bin/tests/$(basename "$src" .c)
	if [ ! -x "$t" ]; then echo "unit $t: FAILED, not built"; uf=$((uf+1)); continue; fi
	nbin=$((nbin+1))
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	line=$(grep -E '^unit .*: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
	if [ -z "$line" ]; then echo "unit $t: FAILED, crashed (rc=$rc)"; uf=$((uf+1)); continue; fi
	p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
	up=$((up+p)) uf=$((uf+f))
	if [ $((p+f)) -eq 0 ]; then echo "unit $t: FAILED, ran no test"; uf=$((uf+1));
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "unit $t: FAILED, rc=$rc"; uf=$((uf+1)); fi
done
[ "$nbin" -eq 0 ] && { echo "unit: FAILED, no unit test ran"; uf=$((uf+1)); }
count unit "$up passed, $uf failed" "$nbin binaries"

# ---- fuzz: every target over its seed corpus once (make fuzz is the long run)
out=$(bash tests/fuzz/replay.sh "$B/fuzz" 2>&1); rc=$?
echo "$out"
line=$(grep -E '^fuzz replay: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
if [ -z "$line" ] || { [ "$rc" -ne 0 ] && ! grep -qE '[1-9][0-9]* failed' <<<"$line"; }; then
	line="0 passed, 1 failed"
fi
count fuzz "$line" "each target's seeds replayed once"

# ---- pytest: what is collected must all run (a timeout ends a hung run, never CI)
# A short --basetemp: hearthd's unix sockets live under each test's state dir
# and sun_path holds 107 bytes; /tmp/pytest-of-USER/pytest-NNN/ (plus popen-gwN/
# under xdist) leaves too little room. Kept when something failed, for the logs.
tmp=$(mktemp -d /tmp/hc.XXXXXX)
ids=$tmp/collected xml=$tmp/junit.xml
# shellcheck disable=SC2086
$PY -m pytest -p no:cacheprovider --collect-only -q tests/integration ${PYTEST_ARGS:-} >"$ids" 2>&1
crc=$?
if [ "$crc" -ne 0 ]; then echo "pytest: collection failed (rc=$crc):"; tail -40 "$ids"; fi
# PYTEST_JOBS>1: that many pytest-xdist workers, a whole file per worker (its
# module fixtures, one hearthd and VM, stay in one process).
par=()
[ "${PYTEST_JOBS:-1}" -gt 1 ] && par=(-n "$PYTEST_JOBS" --dist loadfile)
# shellcheck disable=SC2086
timeout "${PYTEST_TIMEOUT:-3000}" $PY -m pytest -p no:cacheprovider -q -rfEs "${par[@]}" \
	--continue-on-collection-errors --junitxml="$xml" --basetemp="$tmp/t" tests/integration ${PYTEST_ARGS:-}
prc=$?
[ "$prc" -eq 124 ] && echo "pytest: FAILED, killed after ${PYTEST_TIMEOUT:-3000}s"
every=--all-files   # each test file must collect a test, unless PYTEST_ARGS selects
[ -n "${PYTEST_ARGS:-}" ] && every=
out=$($PY tests/pytest_summary.py "$xml" "$ids" tests/integration $every)
src=$?
echo "$out"
line=$(tail -1 <<<"$out")
# A run that failed in a way the XML does not show still fails the suite.
if { [ "$prc" -ne 0 ] || [ "$crc" -ne 0 ] || [ "$src" -ne 0 ]; } && ! grep -qE '[1-9][0-9]* failed' <<<"$line"; then
	line=$(sed -E 's/ 0 failed/ 1 failed/' <<<"$line")
fi
count pytest "$line" "$(grep -oE '[0-9]+ collected' <<<"$line")"
if grep -qE ' 0 failed' <<<"$line"; then rm -rf "$tmp"; else echo "pytest: test dirs and logs kept in $tmp/t"; fi

printf '%s\n' "${lines[@]}"
echo "all: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
