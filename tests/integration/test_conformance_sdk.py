"""Run the Node conformance test (official @aws-sdk/client-lambda-microvms)
against a real hearthd. The SDK is installed from npm with `npm ci` into
tests/conformance at test setup (package-lock.json is committed)."""
import os
import subprocess

import pytest

from conftest import npm_ci
from hearthd_harness import BUILD, Hearthd, fake_image_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "conformance")
REAL_IMAGES = os.path.join(BUILD, "guest")
SDK = os.path.join(CONF, "node_modules", "@aws-sdk", "client-lambda-microvms")




def test_official_sdk_conformance(tmp_path):
    npm_ci(CONF, SDK)
    real = os.path.exists(os.path.join(REAL_IMAGES, "busybox", "image.json"))
    images = REAL_IMAGES if real else fake_image_dir(str(tmp_path / "images"))
    d = Hearthd(str(tmp_path / "state"), images).start()
    try:
        env = dict(os.environ, HEARTH_REAL_VMS="1" if real else "0", **d.client_env())
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_REGION", "AWS_DEFAULT_REGION"):
            env.pop(k, None)  # the profile alone must do
        r = subprocess.run(["node", "--test", "conformance.test.mjs"], cwd=CONF, env=env,
                           capture_output=True, text=True, timeout=900)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-6000:] + "\n--- hearthd log ---\n" + d.read_log()
        assert "# fail 0" in out
        assert d.alive()
    finally:
        d.close()
    if not real:
        pytest.skip("SDK calls passed, but without a built busybox image the VMs could not "
                    "run, suspend and resume (build it with make)")
