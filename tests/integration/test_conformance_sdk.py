"""Run the Node conformance test (official @aws-sdk/client-lambda-microvms)
against a real hearthd with the built guest images, so the VMs really run,
suspend and resume. The SDK is installed by `make check` with `npm ci` into
tests/conformance (tests/module.mk; package-lock.json is committed)."""
import os
import re
import subprocess

from conftest import built, npm_installed
from hearthd_harness import BUILD, Hearthd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "conformance")
REAL_IMAGES = os.path.join(BUILD, "guest")
SDK = os.path.join(CONF, "node_modules", "@aws-sdk", "client-lambda-microvms")


def node_counts(out):
    """node --test's closing counters ('# pass 3', ...) as a dict."""
    return {k: int(v) for k, v in
            re.findall(r"(?m)^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$", out)}


def test_official_sdk_conformance(tmp_path):
    npm_installed(CONF, SDK)
    built(os.path.join(REAL_IMAGES, "busybox", "image.json"), "the busybox guest image")
    d = Hearthd(str(tmp_path / "state"), REAL_IMAGES).start()
    try:
        env = dict(os.environ, HEARTH_REAL_VMS="1", **d.client_env())
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_REGION", "AWS_DEFAULT_REGION"):
            env.pop(k, None)  # the profile alone must do
        r = subprocess.run(["node", "--test", "conformance.test.mjs"], cwd=CONF, env=env,
                           capture_output=True, text=True, timeout=900)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-6000:] + "\n--- hearthd log ---\n" + d.read_log()
        # Every node test ran and passed: none skipped, none a todo, and not zero of them.
        n = node_counts(out)
        assert n.get("tests", 0) > 0 and n.get("pass") == n["tests"], (n, out[-3000:])
        assert n.get("fail") == 0 and n.get("skipped", 0) == 0 and n.get("todo", 0) == 0, n
        assert d.alive()
    finally:
        d.close()
