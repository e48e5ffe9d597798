#!/usr/bin/env bash
# bench-deadline: 900
# SSH ingress figures beside OpenSSH's sshd in one run: keystroke round trip
# and throughput through ssh -> hearthd's SSH ingress (worker + hearthd) ->
# agent, into the host engine and into a busybox VM. See tests/bench/ssh_bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/ssh_bench.py "$@"
