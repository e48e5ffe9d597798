"""hearthd's API is authenticated with AWS Signature Version 4: the right key
works (botocore, the official JS SDK through AWS_PROFILE=hearth, the hearth
CLI); unsigned, unknown-key, wrong-secret, stale and tampered requests get
403 with the AWS error names and change nothing; keys and profiles are where
the man page says; no secret or signature reaches the log."""
import configparser
import datetime
import json
import os
import stat
import subprocess

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import npm_installed
from hearthd_harness import (API, BUILD, HEARTHD, Hearthd, fake_image_dir, free_port,
                             http_request, read_creds)

HEARTH = os.path.join(BUILD, "bin", "hearth")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "conformance")
SDK = os.path.join(CONF, "node_modules", "@aws-sdk", "client-lambda-microvms")


RUN = {"imageIdentifier": "busybox"}


@pytest.fixture
def hd(tmp_path):
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images"))).start()
    yield d
    d.close()


def ini(path):
    cp = configparser.ConfigParser()
    assert cp.read(path), path
    return cp


def refused(resp, etype):
    st, h, data = resp
    assert st == 403, (st, h, data)
    assert h.get("x-amzn-errortype") == etype, (h, data)
    doc = json.loads(data)
    assert doc["message"]
    return doc["message"]


def vm_ids(hd):
    st, _, doc = hd.call("GET", "/microvms?maxResults=100")
    assert st == 200, doc
    return sorted(v["microvmId"] for v in doc["items"])


def assert_clean_log(hd, secrets):
    log = open(hd.log_path, "rb").read().decode(errors="replace")
    for s in secrets:
        assert s not in log, "a secret or signature is in hearthd's log"
    return log


def test_key_and_profile_written(hd):
    """STATE/credentials and the profile files are 0600 and hold the same key."""
    own = os.path.join(hd.state_dir, "credentials")
    prof = hd.env["AWS_SHARED_CREDENTIALS_FILE"]
    conf = hd.env["AWS_CONFIG_FILE"]
    for p in (own, prof, conf):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    a, b = ini(own)["hearth"], ini(prof)["hearth"]
    assert a["aws_access_key_id"] == b["aws_access_key_id"]
    assert a["aws_secret_access_key"] == b["aws_secret_access_key"]
    assert a["aws_access_key_id"].startswith("AKIA") and len(a["aws_access_key_id"]) == 20
    assert len(a["aws_secret_access_key"]) == 40
    assert ini(conf)["profile hearth"]["region"] == "us-east-1"
    assert hd.call("GET", "/microvms")[0] == 200


def test_profile_update_keeps_other_profiles(tmp_path):
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = keepme\n\n"
        "[hearth]\naws_access_key_id = AKIASTALE\naws_secret_access_key = stale\n\n"
        "[after]\naws_access_key_id = AKIAAFTER\naws_secret_access_key = after\n")
    (aws / "config").write_text("[default]\nregion = eu-west-1\n[profile hearth]\n"
                                "region = eu-north-1\noutput = json\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
           "AWS_CONFIG_FILE": str(aws / "config")}
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images")), env=env)
    for _ in range(2):  # a restart keeps the key and writes the same profile once
        d.start()
        try:
            assert d.call("GET", "/microvms")[0] == 200
        finally:
            d.stop()
    text = (aws / "credentials").read_text()
    assert text.count("[hearth]") == 1 and "AKIASTALE" not in text
    c = ini(str(aws / "credentials"))
    assert c["default"]["aws_secret_access_key"] == "keepme"
    assert c["after"]["aws_access_key_id"] == "AKIAAFTER"
    own = ini(os.path.join(str(tmp_path / "state"), "credentials"))["hearth"]
    assert c["hearth"]["aws_access_key_id"] == own["aws_access_key_id"]
    cfg = ini(str(aws / "config"))
    assert cfg["default"]["region"] == "eu-west-1"
    assert cfg["profile hearth"]["region"] == "eu-north-1"  # the user's own edit stays
    assert stat.S_IMODE(os.stat(aws / "credentials").st_mode) == 0o600


def test_no_aws_profile_leaves_aws_files_alone(tmp_path):
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images")),
                extra=["--no-aws-profile"]).start()
    try:
        assert not os.path.exists(d.env["AWS_SHARED_CREDENTIALS_FILE"])
        assert not os.path.exists(d.env["AWS_CONFIG_FILE"])
        assert d.call("GET", "/microvms")[0] == 200  # signed with STATE/credentials
    finally:
        d.close()


def test_refusals_have_aws_names_and_change_nothing(hd):
    creds = hd.signing_creds()
    before = vm_ids(hd)
    path = API + "/microvms"
    # Unsigned.
    msg = refused(hd.raw("POST", path, RUN, sign=False), "MissingAuthenticationTokenException")
    assert msg == "Missing Authentication Token"
    # An access key hearthd does not know.
    msg = refused(hd.raw("POST", path, RUN, creds=Credentials("AKIAUNKNOWN000000000",
                                                                creds.secret_key)),
                  "UnrecognizedClientException")
    assert msg == "The security token included in the request is invalid."
    # The right key id with a wrong secret.
    wrong = Credentials(creds.access_key, "x" + creds.secret_key[1:])
    msg = refused(hd.raw("POST", path, RUN, creds=wrong), "InvalidSignatureException")
    assert msg.startswith("The request signature we calculated does not match")
    # Replayed after the skew window: signed 10 minutes ago.
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    msg = refused(hd.raw("POST", path, RUN, when=old), "InvalidSignatureException")
    assert msg.startswith("Signature expired: %s is now earlier than"
                          % old.strftime("%Y%m%dT%H%M%SZ")), msg
    # Signed in the future beyond the window.
    fut = datetime.datetime.utcnow() + datetime.timedelta(minutes=10)
    refused(hd.raw("POST", path, RUN, when=fut), "InvalidSignatureException")
    # Tampered: one body signed, another sent.
    hdrs = hd.signed_headers("POST", path, json.dumps(RUN).encode())
    tampered = json.dumps(dict(RUN, maximumDurationInSeconds=7200)).encode()
    msg = refused(http_request(hd.port, "POST", path, tampered, hdrs),
                  "InvalidSignatureException")
    assert "does not match" in msg
    # Tampered path and method.
    refused(http_request(hd.port, "POST", API + "/microvms/mvm-0000000000000000/suspend",
                         json.dumps(RUN).encode(), hdrs), "InvalidSignatureException")
    refused(http_request(hd.port, "PUT", path, json.dumps(RUN).encode(), hdrs),
            "InvalidSignatureException")
    # A payload hash header that does not name the body.
    h2 = hd.signed_headers("POST", path, json.dumps(RUN).encode(),
                           {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    refused(http_request(hd.port, "POST", path, json.dumps(RUN).encode(), h2),
            "InvalidSignatureException")
    # Malformed Authorization headers.
    refused(http_request(hd.port, "GET", path, None,
                         {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x",
                          "X-Amz-Date": "20260101T000000Z"}), "IncompleteSignatureException")
    refused(http_request(hd.port, "GET", path, None, {"Authorization": "Bearer abc"}),
            "IncompleteSignatureException")
    # Nothing ran, and the right key still works.
    assert vm_ids(hd) == before == []
    assert hd.keepers() == []
    st, _, vm = hd.call("POST", "/microvms", RUN)
    assert st == 200, vm
    assert vm_ids(hd) == [vm["microvmId"]]
    # Shell tokens need a signature too.
    refused(hd.raw("POST", API + "/microvms/%s/shell-auth-token" % vm["microvmId"], {},
                   sign=False), "MissingAuthenticationTokenException")
    log = assert_clean_log(hd, [creds.secret_key, wrong.secret_key,
                                hdrs["Authorization"].rsplit("Signature=", 1)[1]])
    assert "MissingAuthenticationTokenException" in log  # refusals are logged, by name


def test_presigned_url(hd):
    creds = hd.signing_creds()
    url = "http://127.0.0.1:%d%s/microvms?maxResults=5" % (hd.port, API)
    req = AWSRequest(method="GET", url=url, headers={})
    SigV4QueryAuth(creds, "lambda", "us-east-1", expires=60).add_auth(req)
    target = req.url.split(str(hd.port), 1)[1]
    st, _, data = http_request(hd.port, "GET", target)
    assert st == 200, data
    bad = target.replace("maxResults=5", "maxResults=6")
    refused(http_request(hd.port, "GET", bad), "InvalidSignatureException")


def test_credentials_file_with_two_profiles(tmp_path):
    creds = tmp_path / "keys"
    creds.write_text("[one]\naws_access_key_id = AKIAONE0000000000000\n"
                     "aws_secret_access_key = secret-number-one\n\n"
                     "# a comment\n[two]\naws_access_key_id=AKIATWO0000000000000\n"
                     "aws_secret_access_key=secret/number+two\n")
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images")),
                extra=["--credentials", str(creds)]).start()
    try:
        for prof in ("one", "two"):
            st, _, doc = d.raw("GET", API + "/microvms", creds=read_creds(str(creds), prof))
            assert st == 200, doc
        # hearthd's own key is not made, and the AWS files are not touched.
        assert not os.path.exists(os.path.join(d.state_dir, "credentials"))
        assert not os.path.exists(d.env["AWS_SHARED_CREDENTIALS_FILE"])
        refused(d.raw("GET", API + "/microvms", creds=Credentials("AKIAONE0000000000000",
                                                                   "secret-number-two")),
                "InvalidSignatureException")
        # The CLI with AWS_PROFILE=two of that file.
        env = dict(os.environ, **d.client_env(AWS_SHARED_CREDENTIALS_FILE=str(creds),
                                              AWS_PROFILE="two"))
        p = subprocess.run([HEARTH, "list"], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert_clean_log(d, ["secret-number-one", "secret/number+two"])
    finally:
        d.close()


def test_bad_credentials_file_refused(tmp_path):
    bad = tmp_path / "keys"
    bad.write_text("[x]\nregion = us-east-1\n")
    for extra in (["--credentials", str(bad)], ["--credentials", str(tmp_path / "none")]):
        p = subprocess.run([HEARTHD, "--api-listen", "127.0.0.1:%d" % free_port(),
                            "--state-dir", str(tmp_path / "state"), "--image-dir",
                            str(tmp_path)] + extra, capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "hearthd: " in p.stderr, p.stderr


def test_hearth_cli_signs_and_fails_cleanly_without_credentials(hd, tmp_path):
    env = dict(os.environ, **hd.client_env())
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(k, None)
    p = subprocess.run([HEARTH, "run", "busybox", "--json"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    vid = json.loads(p.stdout)["microvmId"]
    assert vm_ids(hd) == [vid]
    # No credentials at all: a clear message, exit 1, and nothing was sent.
    env2 = dict(env, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "missing"),
                HOME=str(tmp_path))
    p = subprocess.run([HEARTH, "run", "busybox"], env=env2, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "no API credentials" in p.stderr and "AWS_PROFILE" in p.stderr, p.stderr
    # A profile that does not exist.
    p = subprocess.run([HEARTH, "list"], env=dict(env, AWS_PROFILE="nope"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "[nope]" in p.stderr, p.stderr
    # A key hearthd does not know: the API's refusal, by name.
    p = subprocess.run([HEARTH, "list"], env=dict(env, AWS_ACCESS_KEY_ID="AKIANOPE",
                                                  AWS_SECRET_ACCESS_KEY="nope"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "UnrecognizedClientException" in p.stderr, p.stderr
    assert vm_ids(hd) == [vid]
    assert_clean_log(hd, [hd.signing_creds().secret_key])


def test_official_js_sdk_with_profile(hd, tmp_path):
    """@aws-sdk/client-lambda-microvms with nothing in code: AWS_PROFILE=hearth and
    AWS_ENDPOINT_URL work; a profile with a wrong secret gets InvalidSignatureException."""
    npm_installed(CONF, SDK)
    good = hd.signing_creds()
    creds = tmp_path / "creds"
    creds.write_text(open(hd.env["AWS_SHARED_CREDENTIALS_FILE"]).read() +
                     "\n[wrong]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                     % (good.access_key, "y" * 40))
    script = """
import { LambdaMicrovmsClient, ListMicrovmsCommand, RunMicrovmCommand }
  from "@aws-sdk/client-lambda-microvms";
const c = new LambdaMicrovmsClient({ maxAttempts: 1 });
try {
  const r = await c.send(new %s);
  console.log(JSON.stringify({ ok: true, r }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, status: e.$metadata?.httpStatusCode,
                               message: e.message }));
}
"""
    config = tmp_path / "config"
    config.write_text(open(hd.env["AWS_CONFIG_FILE"]).read() +
                      "\n[profile wrong]\nregion = us-east-1\n")
    env = dict(os.environ, **hd.client_env(AWS_SHARED_CREDENTIALS_FILE=str(creds),
                                           AWS_CONFIG_FILE=str(config)))
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        env.pop(k, None)

    def node(cmd, profile):
        p = subprocess.run(["node", "--input-type=module", "-e", script % cmd], cwd=CONF,
                           env=dict(env, AWS_PROFILE=profile), capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    out = node("ListMicrovmsCommand({})", "hearth")
    assert out["ok"] and out["r"]["items"] == [], out
    out = node('RunMicrovmCommand({ imageIdentifier: "busybox" })', "wrong")
    assert (out["ok"], out["name"], out["status"]) == (False, "InvalidSignatureException",
                                                       403), out
    assert out["message"].startswith("The request signature we calculated"), out
    assert vm_ids(hd) == []
    out = node('RunMicrovmCommand({ imageIdentifier: "busybox" })', "hearth")
    assert out["ok"] and out["r"]["microvmId"].startswith("mvm-"), out
    assert_clean_log(hd, [good.secret_key, "y" * 40])


def test_non_loopback_api_refused_without_api_insecure(tmp_path):
    port = free_port()
    base = [HEARTHD, "--state-dir", str(tmp_path / "state"), "--image-dir", str(tmp_path),
            "--no-aws-profile"]
    for addr in ("0.0.0.0:%d" % port, "192.0.2.1:%d" % port, "[::]:%d" % port):
        p = subprocess.run(base + ["--api-listen", addr], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 2, (addr, p.stderr)
        assert "--api-insecure" in p.stderr and "plain HTTP" in p.stderr, p.stderr
    # Forced: it listens (on every address; reached here over loopback).
    d = Hearthd(str(tmp_path / "state2"), fake_image_dir(str(tmp_path / "images")),
                extra=["--api-insecure"])
    d.extra += ["--api-listen", "0.0.0.0:%d" % d.port]
    d.start()
    try:
        assert d.call("GET", "/microvms")[0] == 200
        assert d.raw("GET", API + "/microvms", sign=False)[0] == 403
    finally:
        d.close()
