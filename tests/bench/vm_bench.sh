#!/usr/bin/env bash
# bench-deadline: 3600
# VM engine figures (QEMU microvm): cold boot, snapshot, restore, suspend,
# resume, RSS per idle VM (tests/bench/vm_bench.py), then the memory-size
# sweep, eager (format 1) beside mapped (format 2) snapshots in the same run
# (tests/bench/vm_memory_bench.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
/usr/bin/python3 tests/bench/vm_bench.py "$@"
exec /usr/bin/python3 tests/bench/vm_memory_bench.py
