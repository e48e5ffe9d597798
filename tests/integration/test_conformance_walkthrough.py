"""The service's Getting Started walkthrough through the official SDK (issue
14): tests/conformance/walkthrough.test.mjs builds the Flask app of
tests/conformance/walkthrough-app/ (FROM debian:bookworm, apt-get install
python3-flask) with CreateMicrovmImage, runs it, calls it through the
endpoint with a token, lets the idle policy suspend it and resumes it with
the next request, all with @aws-sdk/client-lambda-microvms against a real
hearthd and real VMs. apt reaches only this machine's Debian mirror, as in
test_egress_apt.py. The hearthd is this test's own (its step cache is per
state directory): the apt step runs here once."""
import glob
import os
import shutil
import subprocess

import pytest

from conftest import guest_image, npm_installed
from hearthd_harness import Hearthd
from test_conformance_sdk import CONF, SDK, node_counts
from test_egress import close_hearthd, netns_list
from test_egress_apt import host_uplink  # noqa: F401 (a fixture)
from test_image_build import builder_qemus, build_namespaces

NAME = "my-first-image"


def build_logs(state):
    """The build logs still there (shown when the walkthrough fails)."""
    out = []
    for p in sorted(glob.glob(os.path.join(state, "builds", "*.log"))):
        with open(p, "rb") as f:
            out.append("--- %s ---\n%s" % (p, f.read().decode(errors="replace")[-6000:]))
    return "\n".join(out)


@pytest.mark.slow
def test_getting_started_through_the_sdk(tmp_path, host_uplink):
    npm_installed(CONF, SDK)
    root = str(tmp_path)
    deb = os.path.join(root, "images", "debian-12")
    os.makedirs(deb)
    shutil.copy(guest_image("debian-12"), os.path.join(deb, "image.json"))
    state = os.path.join(root, "state")
    d = Hearthd(state, os.path.join(root, "images"),
                extra=["--egress-uplink", "host", "--test-min-idle", "1",
                       "--test-tick-ms", "200"])
    d.netns_before = set(netns_list())
    d.start()
    try:
        d.wait_ingress()
        env = dict(os.environ, HEARTH_STATE_DIR=state, HEARTH_WALK_NAME=NAME,
                   **d.client_env())
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_REGION", "AWS_DEFAULT_REGION"):
            env.pop(k, None)  # the profile alone must do
        r = subprocess.run(["node", "--test", "walkthrough.test.mjs"], cwd=CONF, env=env,
                           capture_output=True, text=True, timeout=3000)
        out = r.stdout + r.stderr
        assert r.returncode == 0, (out[-6000:] + "\n--- build logs ---\n" + build_logs(state)
                                   + "\n--- hearthd log ---\n" + d.read_log())
        n = node_counts(out)
        assert n.get("tests") == 1 and n.get("pass") == 1, (n, out[-3000:])
        assert n.get("fail") == 0 and n.get("skipped", 0) == 0 and n.get("todo", 0) == 0, n
        print("\n".join(l for l in out.splitlines() if l.startswith("# ")))  # timings (-s)
        # Nothing of the build or the image is left behind (the log goes with the image).
        assert not builder_qemus(d) and not build_namespaces(d)
        builds = os.path.join(state, "builds")
        assert not os.path.isdir(builds) or os.listdir(builds) == [], os.listdir(builds)
        assert not os.path.exists(os.path.join(state, "images", NAME))
        assert d.alive()
    finally:
        close_hearthd(d)
