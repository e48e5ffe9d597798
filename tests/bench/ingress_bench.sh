#!/usr/bin/env bash
# bench-deadline: 1500
# Shell ingress figures beside OpenSSH in one run: keystroke round trip and
# throughput through wss -> hearthd -> agent -> pty, on the host path
# (hearthd --engine host: the front end's own cost) and the VM path (busybox,
# TCG here), and 200 concurrent shells across 10 VMs; and HTTP/2 (h2load) and
# gRPC unary latency through the endpoint beside nghttpx on loopback. See
# tests/bench/ingress_bench.py and tests/bench/ingress_h2.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/ingress_bench.py "$@"
