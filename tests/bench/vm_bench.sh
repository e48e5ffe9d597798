#!/usr/bin/env bash
# bench-deadline: 900
# VM engine figures (QEMU microvm): cold boot, snapshot, restore, suspend,
# resume, RSS per idle VM. See tests/bench/vm_bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/vm_bench.py "$@"
