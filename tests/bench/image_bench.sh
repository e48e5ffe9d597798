#!/usr/bin/env bash
# bench-deadline: 2400
# Image builds: a busybox app built from a Dockerfile zip, cold and from the
# step cache; RunMicrovm -> first HTTP 200 through the endpoint for the built
# app and for hearth's managed busybox running the same httpd. With
# IMAGE_BENCH_DEBIAN=1 also the Getting Started Flask app on debian:bookworm
# (apt from this machine's Debian mirror through --egress-uplink host).
# See tests/bench/image_bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/image_bench.py "$@"
