"""Identity inside every VM (session/identity.c): hearthd mints an ES256 JWT per
VM on every run and resume and writes it to /run/hearth/identity.jwt through the
agent; the keys are public as a JWKS and an OpenID-style discovery document on
the API listener. Verified here with python3-jwt (PyJWT) against real busybox
VMs: the claims, another VM's token, a tampered token, a fresh token after a
resume. Every wait has a deadline."""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

import jwt

from agentproto import E_UNSUPPORTED, OpenFailed
from conftest import AgentProcess, hearth_bin, needs_root
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


def jwks_keys(hd):
    st, _, body = hd.raw("GET", "/.well-known/jwks.json", sign=False)
    assert st == 200, body
    return {k.key_id: k for k in jwt.PyJWKSet.from_dict(json.loads(body)).keys}


def verify_as(hd, tok, audience, expired_ok=False):
    """The verified claims (expired_ok: a token seen earlier, since expired)."""
    keys = jwks_keys(hd)
    kid = jwt.get_unverified_header(tok)["kid"]
    return jwt.decode(tok, keys[kid].key, algorithms=["ES256"], audience=audience,
                      issuer="http://127.0.0.1:%d" % hd.port,
                      options={"verify_exp": not expired_ok})


def guest(env, vm_id, *argv):
    return subprocess.run([HEARTH, "exec", vm_id, "--"] + list(argv), env=env,
                          capture_output=True, timeout=90)


def test_identity_tags_refresh_helper_and_restart(tmp_path):
    """A short lifetime (--test-identity-ttl 12): the token file is replaced while
    the VM runs, before the old token expires, and carries the VM's tags;
    hearth-identity in the guest mints one for a chosen audience (and refuses a
    bad one, and a flood); after a hearthd restart the re-adopted VM gets a fresh
    token at once."""
    ttl = 12
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--test-identity-ttl", str(ttl)]).start()
    try:
        hd.wait_ingress()
        env = dict(os.environ, HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"),
                   **hd.client_env())
        a = hd.run_running(BOOT)["microvmId"]
        arn = "arn:hearth:lambda:local:000000000000:microvm:" + a
        tags = {"team": "blue", "odd \"key\"": "x y\\z é"}
        st, _, body = hd.raw("POST", "/2017-03-31/tags/" + arn.replace(":", "%3A"),
                             {"Tags": tags})
        assert st == 204, body
        # Watched from inside the guest for 26 s (one exec): the file is replaced
        # every 2/3 of the lifetime, each new token before the one it replaces
        # expires, and the tokens minted after the tagging carry the tags.
        r = guest(env, a, "sh", "-c", "for i in $(seq 52); do cat /run/hearth/identity.jwt; "
                  "echo; sleep 0.5; done")
        assert r.returncode == 0, r
        seen = []
        for tok in r.stdout.decode().split():
            if not seen or seen[-1] != tok:
                seen.append(tok)
        claims = [verify_as(hd, t, "hearth", expired_ok=True) for t in seen]
        assert len(claims) >= 3, claims
        for old, new in zip(claims, claims[1:]):
            assert old["iat"] < new["iat"] < old["exp"], (old, new)
            assert new["jti"] != old["jti"] and new["microvm_id"] == a
        for c in claims:
            assert c["exp"] - c["iat"] == ttl and isinstance(c["tags"], dict)
        assert claims[-1]["tags"] == tags, claims[-1]
        c1, c2 = claims[-2], claims[-1]
        # hearth-identity: a fresh token for the audience asked for.
        r = guest(env, a, "hearth-identity", "--audience", "foo")
        assert r.returncode == 0, r
        tf = r.stdout.decode().strip()
        cf = verify_as(hd, tf, "foo")
        assert cf["aud"] == "foo" and cf["microvm_id"] == a and cf["sub"] == a
        assert cf["tags"] == tags and cf["exp"] - cf["iat"] == ttl
        assert cf["jti"] not in (c1["jti"], c2["jti"])
        try:
            verify_as(hd, tf, "hearth")
        except jwt.InvalidAudienceError:
            pass
        else:
            raise AssertionError("a token for foo verified for hearth")
        r = guest(env, a, "hearth-identity")
        assert r.returncode == 0, r
        assert verify_as(hd, r.stdout.decode().strip(), "hearth")["microvm_id"] == a
        # Bad audiences: a clear reason from hearthd, exit 1, nothing on stdout.
        for bad in ("foo bar", "", "x" * 257, "caf\u00e9"):
            r = guest(env, a, "hearth-identity", "--audience", bad)
            assert r.returncode == 1 and r.stdout == b"", (bad, r)
            assert b"invalid audience" in r.stderr, (bad, r)
        r = guest(env, a, "hearth-identity", "--bogus")
        assert r.returncode == 2 and b"usage" in r.stderr, r
        # A flood is held to 10 per second per VM; the guest gets told why.
        r = guest(env, a, "sh", "-c", "ok=0; for i in $(seq 40); do "
                  "hearth-identity -a r >/dev/null 2>/tmp/e && ok=$((ok+1)) || cat /tmp/e; "
                  "done; echo ok=$ok")
        out = r.stdout.decode()
        assert r.returncode == 0 and "too many identity requests" in out, r
        assert int(out.rsplit("ok=", 1)[1]) >= 10, out
        # A restart: the re-adopted VM gets a fresh token at once (default lifetime).
        last = read_token(hd, env, a)
        hd.kill9()
        hd.extra = [x for x in hd.extra if x not in ("--test-identity-ttl", str(ttl))]
        hd.start()
        hd.wait_ingress()
        assert hd.get(a)[2]["state"] == "RUNNING"
        deadline = time.monotonic() + 60
        while True:
            t3 = read_token(hd, env, a, differs_from=last, timeout=60)
            c3 = verify_as(hd, t3, "hearth")
            if c3["exp"] - c3["iat"] == 3600 or time.monotonic() > deadline:
                break
            last = t3  # a refresh of the old daemon that landed late
        assert c3["exp"] - c3["iat"] == 3600 and c3["tags"] == tags, c3
        r = guest(env, a, "hearth-identity", "--audience", "after-restart")
        assert r.returncode == 0, (r, hd.read_log())
        assert verify_as(hd, r.stdout.decode().strip(), "after-restart")["microvm_id"] == a
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


KIND_IDENTITY = 6


def idmsg(qid, status, body):
    return struct.pack(">IBH", qid, status, len(body)) + body


@needs_root
def test_agent_identity_socket_as_pid1():
    """The agent's side alone (PID 1 in fresh namespaces, the test as the
    host): hearth-identity without an identity channel fails at once; with one,
    its request arrives framed (PROTOCOL.md 1.11) and the host's answer, a token
    or a refusal, is what it prints; a newer channel replaces the older. A
    non-PID-1 agent refuses the channel."""
    d = tempfile.mkdtemp(prefix="hearth-agent-", dir="/var/tmp")
    helper = os.path.join(d, "hearth-identity")
    # A copy, not a link: the agent (PID 1) mounts its own /tmp, which hides a
    # build tree under /tmp (a CI clone) from the helper it runs.
    shutil.copy2(hearth_bin("hearth-agent"), helper)
    srv = AgentProcess(prefix=["unshare", "--mount", "--pid", "--fork", "--net", "--uts",
                               "--propagation", "private"], sockdir=d)
    try:
        a = srv.connect()
        how, rc, out, err = a.run(helper + " --audience foo")
        assert rc == 1 and out == b"" and b"not connected" in err, (rc, out, err)
        assert a.run("stat -c %a /run/hearth/identity.sock")[2] == b"666\n"
        ch = a.open(KIND_IDENTITY)
        for status, body, want_rc, want in ((0, b"header.claims.sig", 0, b"header.claims.sig\n"),
                                            (1, b"invalid audience: no", 1, b"invalid audience")):
            e = a.open_exec(cmdline=helper + " -a foo")
            got = b""
            while len(got) < 7 or len(got) < 7 + struct.unpack(">H", got[5:7])[0]:
                got += ch.read(timeout=10)
            qid, st, n = struct.unpack(">IBH", got[:7])
            assert st == 0 and got[7:] == b"foo", got
            ch.send(idmsg(qid + 1000, 0, b"not yours"))  # an unknown id is ignored
            ch.send(idmsg(qid, status, body))
            out, err = e.collect()
            assert e.wait_exit()[1] == want_rc, (out, err)
            assert want in (out if want_rc == 0 else err), (out, err)
        # A second channel replaces the first (which ends), and serves.
        ch2 = a.open(KIND_IDENTITY)
        assert ch.read(timeout=10) == b""
        e = a.open_exec(cmdline=helper)
        got = b""
        while len(got) < 13:
            got += ch2.read(timeout=10)
        assert got[7:] == b"hearth", got
        ch2.send(idmsg(struct.unpack(">I", got[:4])[0], 3, b"down for now"))
        out, err = e.collect()
        assert e.wait_exit()[1] == 1 and b"down for now" in err, (out, err)
        a.poweroff()
        assert srv.proc.wait(20) is not None
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
    assert srv.reports == []
    # Not PID 1: no socket, and the channel is refused as such.
    plain = AgentProcess()
    try:
        a = plain.connect()
        try:
            a.open(KIND_IDENTITY)
        except OpenFailed as e:
            assert e.code == E_UNSUPPORTED, e
        else:
            raise AssertionError("a non-PID-1 agent opened an identity channel")
    finally:
        plain.stop()
