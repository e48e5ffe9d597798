"""Identity inside every VM (session/identity.c): hearthd mints an ES256 JWT per
VM on every run and resume and writes it to /run/hearth/identity.jwt through the
agent; the keys are public as a JWKS and an OpenID-style discovery document on
the API listener. Verified here with python3-jwt (PyJWT) against real busybox
VMs: the claims, another VM's token, a tampered token, a fresh token after a
resume. Every wait has a deadline."""
import json
import os
import subprocess
import time

import jwt

from conftest import hearth_bin
from hearthd_harness import Hearthd, busybox_images
from test_ingress import sanitizer_reports

HEARTH = hearth_bin("hearth")
BOOT = 300


def read_token(hd, env, vm_id, differs_from=None, timeout=60):
    """The VM's /run/hearth/identity.jwt (delivered after RUNNING: poll)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = subprocess.run([HEARTH, "exec", vm_id, "--", "cat", "/run/hearth/identity.jwt"],
                           env=env, capture_output=True, timeout=60)
        last = r
        tok = r.stdout.decode().strip()
        if r.returncode == 0 and tok and tok != differs_from:
            return tok
        time.sleep(0.5)
    raise AssertionError("no (new) identity token in %s: %r" % (vm_id, last))


def test_identity_tokens_verify_with_the_jwks(tmp_path):
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        hd.wait_ingress()
        env = dict(os.environ, HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"),
                   **hd.client_env())
        # The public documents need no signature; everything else still does.
        st, _, body = hd.raw("GET", "/.well-known/openid-configuration", sign=False)
        assert st == 200, body
        disc = json.loads(body)
        iss = "http://127.0.0.1:%d" % hd.port
        assert disc["issuer"] == iss and disc["jwks_uri"] == iss + "/.well-known/jwks.json"
        assert disc["id_token_signing_alg_values_supported"] == ["ES256"]
        st, _, body = hd.raw("GET", "/.well-known/jwks.json", sign=False)
        assert st == 200, body
        jwks = json.loads(body)
        assert [k["kty"] for k in jwks["keys"]] == ["EC"] and jwks["keys"][0]["crv"] == "P-256"
        assert hd.raw("GET", "/2025-09-09/microvms", sign=False)[0] == 403
        assert hd.raw("POST", "/.well-known/jwks.json", sign=False)[0] == 403
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}

        def verify(tok):
            kid = jwt.get_unverified_header(tok)["kid"]
            return jwt.decode(tok, keys[kid].key, algorithms=["ES256"], audience="hearth",
                              issuer=iss)

        a = hd.run_running(BOOT, idlePolicy={"maxIdleDurationSeconds": 600,
                                             "suspendedDurationSeconds": 600,
                                             "autoResumeEnabled": True})["microvmId"]
        b = hd.run_running(BOOT)["microvmId"]
        ta, tb = read_token(hd, env, a), read_token(hd, env, b)
        ca, cb = verify(ta), verify(tb)
        assert ca["microvm_id"] == a and ca["sub"] == a
        assert cb["microvm_id"] == b and cb["sub"] == b
        assert ca["image"] == "busybox" and ca["image_version"]
        assert isinstance(ca["run_generation"], int)
        assert ca["exp"] - ca["iat"] == 3600 and abs(ca["iat"] - time.time()) < 120
        assert ca["jti"] != cb["jti"]
        # VM A's token says A, never B
        assert verify(ta)["microvm_id"] != b
        # tampered: claims swapped in, or a signature byte changed
        h, p, s = ta.split(".")
        forged = ".".join([h, tb.split(".")[1], s])
        for bad in (forged, ".".join([h, p, ("A" if s[0] != "A" else "B") + s[1:]])):
            try:
                verify(bad)
            except jwt.InvalidTokenError:
                pass
            else:
                raise AssertionError("a tampered token verified")
        # suspend and resume: a new token replaces the old one
        assert hd.call("POST", "/microvms/%s/suspend" % a)[0] == 200
        assert hd.wait_state(a, ("SUSPENDED",), 120)["state"] == "SUSPENDED"
        assert hd.call("POST", "/microvms/%s/resume" % a)[0] == 200
        assert hd.wait_state(a, ("RUNNING",), 120)["state"] == "RUNNING"
        ta2 = read_token(hd, env, a, differs_from=ta)
        ca2 = verify(ta2)
        assert ca2["microvm_id"] == a and ca2["jti"] != ca["jti"] and ca2["iat"] >= ca["iat"]
        # the file: 0444 in a 0755 /run/hearth
        r = subprocess.run([HEARTH, "exec", a, "--", "stat", "-c", "%a", "/run/hearth",
                            "/run/hearth/identity.jwt"], env=env, capture_output=True, timeout=60)
        assert r.stdout.decode().split() == ["755", "444"], r
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path
    assert "identity" not in "".join(l for l in hd.read_log().splitlines()
                                     if "not delivered" in l or "could not" in l), hd.read_log()
