#!/usr/bin/env bash
# bench-deadline: 1200
# hearthd API figures: RunMicrovm -> RUNNING latency against the engine's bare
# restore of the same snapshot, and GetMicrovm throughput (wrk, loopback) with
# 20 running VMs. See tests/bench/api_bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/api_bench.py "$@"
