#!/usr/bin/env bash
# bench-deadline: 900
# VM egress figures beside the same transfer without the VM in one run:
# download throughput from a lab server into a busybox VM (tap, the VM's
# namespace and its nftables rules, masquerade, the uplink) and connect
# latency, against the same busybox nc run in the uplink namespace itself.
# Root only (namespaces). See tests/bench/net_bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/net_bench.py "$@"
