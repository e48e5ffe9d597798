"""hearthd's AWS-style API under bad and good input (no working VM needed:
runs use an image whose kernel does not exist, so they fail in the engine and
end TERMINATED with a reason, a real path through the lifecycle)."""
import http.client
import json
import os
import socket
import stat
import time

import pytest

from hearthd_harness import API, Hearthd, fake_image_dir


@pytest.fixture
def hd(tmp_path):
    images = fake_image_dir(str(tmp_path / "images"))
    d = Hearthd(str(tmp_path / "state"), images).start()
    yield d
    d.close()


def assert_aws_error(status, etype, doc, want_status, want_type=None):
    assert status == want_status, (status, etype, doc)
    assert etype, "x-amzn-ErrorType header missing"
    if want_type:
        assert etype == want_type, etype
    assert isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"]


def vm_count(hd):
    st, _, doc = hd.call("GET", "/microvms?maxResults=100")
    assert st == 200
    return len(doc["items"])


def test_unknown_routes_and_methods(hd):
    for method, path in [("GET", "/nope"), ("GET", "/"), ("POST", API + "/microvms/x/explode"),
                         ("GET", API + "/unknown"), ("GET", "/2017-03-31/tags")]:
        st, h, data = hd.raw(method, path)
        assert_aws_error(st, h.get("x-amzn-errortype"), json.loads(data), 404)
    st, h, data = hd.raw("PUT", API + "/microvms")
    assert_aws_error(st, h.get("x-amzn-errortype"), json.loads(data), 405)
    assert hd.alive()


def test_malformed_json(hd):
    before = vm_count(hd)
    for body in ["{", "[]", "null", "\"x\"", "{\"imageIdentifier\":\"busybox\"} trailing",
                 "{\"imageIdentifier\":\"busybox\",}", "\x00\x01\x02", "{" * 5000]:
        st, et, doc = hd.call("POST", "/microvms", body)
        assert_aws_error(st, et, doc, 400, "ValidationException")
    assert vm_count(hd) == before
    assert hd.alive()


@pytest.mark.parametrize("body", [
    {},
    {"imageIdentifier": 7},
    {"imageIdentifier": ["busybox"]},
    {"imageIdentifier": ""},
    {"imageIdentifier": "busybox", "maximumDurationInSeconds": "60"},
    {"imageIdentifier": "busybox", "maximumDurationInSeconds": 0},
    {"imageIdentifier": "busybox", "maximumDurationInSeconds": 28801},
    {"imageIdentifier": "busybox", "maximumDurationInSeconds": 1.5},
    {"imageIdentifier": "busybox", "idlePolicy": {"maxIdleDurationSeconds": 59,
                                                  "suspendedDurationSeconds": 0,
                                                  "autoResumeEnabled": True}},
    {"imageIdentifier": "busybox", "idlePolicy": {"maxIdleDurationSeconds": 60}},
    {"imageIdentifier": "busybox", "idlePolicy": "x"},
    {"imageIdentifier": "busybox", "runHookPayload": "x" * 16385},
    {"imageIdentifier": "busybox", "ingressNetworkConnectors": ["arn:x:y:z:SOMETHING"]},
    {"imageIdentifier": "busybox", "clientToken": "x" * 65},
    {"imageIdentifier": "../../etc/passwd"},
    {"imageIdentifier": "busybox", "imageVersion": "../1"},
])
def test_wrong_types_and_ranges(hd, body):
    before = vm_count(hd)
    st, et, doc = hd.call("POST", "/microvms", body)
    assert_aws_error(st, et, doc, 400, "ValidationException")
    assert vm_count(hd) == before


def test_huge_bodies(hd):
    before = vm_count(hd)
    big = json.dumps({"imageIdentifier": "busybox", "pad": "x" * (200 * 1024)})
    st, h, data = hd.raw("POST", API + "/microvms", big)
    assert_aws_error(st, h.get("x-amzn-errortype"), json.loads(data), 413)
    # A claimed length far beyond the cap is refused without reading it.
    with socket.create_connection(("127.0.0.1", hd.port), timeout=10) as s:
        s.sendall(b"POST /2025-09-09/microvms HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1000000000\r\n\r\n{")
        resp = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
            if b"\r\n\r\n" in resp and resp.rstrip().endswith(b"}"):
                break
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b"x-amzn-errortype" in resp.lower()
    assert vm_count(hd) == before
    assert hd.alive()


@pytest.mark.parametrize("ident", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a%00b", "x" * 300,
                                   "mvm-%3Bdrop", "arn:hearth:lambda:local:0:microvm:..",
                                   "%252e%252e%252f"])
def test_path_traversal_in_ids(hd, ident):
    before = vm_count(hd)
    for method, path in [("GET", "/microvms/" + ident), ("DELETE", "/microvms/" + ident),
                         ("POST", "/microvms/%s/suspend" % ident)]:
        try:
            st, h, data = hd.raw(method, API + path)
        except http.client.RemoteDisconnected:
            # libwebsockets drops a request whose path decodes to a NUL byte.
            assert "%00" in ident
            continue
        assert 400 <= st < 500, (path, st, data)
        assert h.get("x-amzn-errortype")
    assert vm_count(hd) == before
    assert hd.alive()
    assert not os.path.exists(os.path.join(hd.state_dir, "..", "etc"))


def test_not_found(hd):
    for method, path, body in [("GET", "/microvms/mvm-00000000", None),
                               ("DELETE", "/microvms/mvm-00000000", None),
                               ("POST", "/microvms/mvm-00000000/suspend", None),
                               ("POST", "/microvms/mvm-00000000/resume", None),
                               ("POST", "/microvms/mvm-00000000/shell-auth-token",
                                {"expirationInMinutes": 5}),
                               ("POST", "/microvms/mvm-00000000/auth-token",
                                {"expirationInMinutes": 5, "allowedPorts": [{"port": 80}]})]:
        st, et, doc = hd.call(method, path, body)
        assert_aws_error(st, et, doc, 404, "ResourceNotFoundException")
    # Token request validation comes first, with the spec's ranges.
    st, et, doc = hd.call("POST", "/microvms/mvm-00000000/auth-token",
                          {"expirationInMinutes": 61, "allowedPorts": [{"port": 80}]})
    assert_aws_error(st, et, doc, 400, "ValidationException")
    st, et, doc = hd.call("POST", "/microvms/mvm-00000000/auth-token",
                          {"expirationInMinutes": 5, "allowedPorts": []})
    assert_aws_error(st, et, doc, 400, "ValidationException")


def test_unknown_image(hd):
    st, et, doc = hd.run(imageIdentifier="no-such-image")
    assert_aws_error(st, et, doc, 404, "ResourceNotFoundException")
    st, et, doc = hd.run(imageIdentifier="debian-12")  # managed but not built here
    assert_aws_error(st, et, doc, 404, "ResourceNotFoundException")
    st, et, doc = hd.run(imageIdentifier="busybox", imageVersion="999")
    assert_aws_error(st, et, doc, 404, "ResourceNotFoundException")


def test_run_engine_failure_ends_terminated_with_reason(hd):
    st, et, doc = hd.run(unknownField={"ignored": True}, runHookPayload="hello")
    assert st == 200, doc
    assert doc["state"] == "PENDING"
    assert doc["microvmId"].startswith("mvm-")
    assert doc["imageArn"].endswith(":aws:microvm-image:busybox")
    assert doc["imageVersion"] == "1"
    assert doc["maximumDurationInSeconds"] == 28800
    # The service's default (HTTP_INGRESS) plus the shell, hearth's default (api_ingress.h).
    assert [c.rsplit(":", 1)[1] for c in doc["ingressNetworkConnectors"]] == \
        ["HTTP_INGRESS", "SHELL_INGRESS"]
    assert isinstance(doc["startedAt"], int)
    assert doc["endpoint"].startswith("https://%s.localhost:" % doc["microvmId"])
    end = hd.wait_state(doc["microvmId"], "TERMINATED", 60)
    assert end["stateReason"], end
    assert "terminatedAt" in end
    # A terminated VM can no longer be suspended or mint tokens; terminate is idempotent.
    st, et, d = hd.call("POST", "/microvms/%s/suspend" % doc["microvmId"])
    assert_aws_error(st, et, d, 409, "ConflictException")
    st, et, d = hd.call("POST", "/microvms/%s/shell-auth-token" % doc["microvmId"],
                        {"expirationInMinutes": 5})
    assert_aws_error(st, et, d, 409, "ConflictException")
    st, et, d = hd.call("DELETE", "/microvms/" + doc["microvmId"])
    assert st == 200
    # ARN addressing works too.
    arn = "arn:hearth:lambda:local:000000000000:microvm:" + doc["microvmId"]
    st, _, d = hd.call("GET", "/microvms/" + arn.replace(":", "%3A"))
    assert st == 200 and d["microvmId"] == doc["microvmId"]
    assert hd.alive()


def test_client_token_idempotency(hd):
    st, _, a = hd.run(clientToken="tok-1", maximumDurationInSeconds=100)
    assert st == 200
    st, _, b = hd.run(clientToken="tok-1", maximumDurationInSeconds=100)
    assert st == 200
    assert a["microvmId"] == b["microvmId"]
    st, et, c = hd.run(clientToken="tok-1", maximumDurationInSeconds=200)
    assert_aws_error(st, et, c, 409, "ConflictException")
    st, _, d = hd.run(clientToken="tok-2", maximumDurationInSeconds=100)
    assert st == 200 and d["microvmId"] != a["microvmId"]
    ids = [i["microvmId"] for i in hd.call("GET", "/microvms")[2]["items"]]
    assert sorted(ids) == sorted([a["microvmId"], d["microvmId"]])


def test_paging(hd):
    made = set()
    for i in range(5):
        st, _, doc = hd.run(clientToken="page-%d" % i)
        assert st == 200
        made.add(doc["microvmId"])
    seen, token, pages = [], None, 0
    while True:
        q = "/microvms?maxResults=2" + ("&nextToken=" + token if token else "")
        st, _, doc = hd.call("GET", q)
        assert st == 200, doc
        assert len(doc["items"]) <= 2
        seen += [i["microvmId"] for i in doc["items"]]
        pages += 1
        token = doc.get("nextToken")
        if not token:
            break
        first_token = token
    assert pages == 3
    assert sorted(seen) == sorted(made) and len(seen) == 5
    # Tampered, foreign or mismatched tokens are refused.
    bad = first_token[:-2] + ("AA" if first_token[-2:] != "AA" else "BB")
    for q in ["/microvms?nextToken=" + bad, "/microvms?nextToken=garbage",
              "/microvms?nextToken=" + first_token + "&imageIdentifier=debian-12",
              "/managed-microvm-images?nextToken=" + first_token,
              "/microvms?maxResults=0", "/microvms?maxResults=101", "/microvms?maxResults=x",
              "/microvms?imageVersion=..%2Fx"]:
        st, et, doc = hd.call("GET", q)
        assert_aws_error(st, et, doc, 400, "ValidationException")
    # Filters.
    st, _, doc = hd.call("GET", "/microvms?imageIdentifier=busybox&imageVersion=1")
    assert len(doc["items"]) == 5
    st, _, doc = hd.call("GET", "/microvms?imageIdentifier=debian-12")
    assert doc["items"] == []


def test_managed_images_and_image_routes(hd):
    st, _, doc = hd.call("GET", "/managed-microvm-images")
    assert st == 200
    arns = [i["imageArn"] for i in doc["items"]]
    assert any(a.endswith(":microvm-image:busybox") for a in arns)
    assert any(a.endswith(":microvm-image:debian-12") for a in arns)
    st, _, p1 = hd.call("GET", "/managed-microvm-images?maxResults=1")
    assert len(p1["items"]) == 1 and p1.get("nextToken")
    st, _, p2 = hd.call("GET", "/managed-microvm-images?maxResults=1&nextToken=" + p1["nextToken"])
    assert len(p2["items"]) == 1 and p2["items"][0] != p1["items"][0]
    st, _, v = hd.call("GET", "/managed-microvm-images/busybox/versions")
    assert st == 200 and v["items"][0]["imageVersion"] == "1"
    assert v["items"][0]["status"] == "AVAILABLE"
    st, et, d = hd.call("GET", "/managed-microvm-images/nothing/versions")
    assert_aws_error(st, et, d, 404, "ResourceNotFoundException")
    # Built images have their own test (test_image_api.py): here only the shapes.
    st, et, d = hd.call("POST", "/microvm-images", {"name": "x"})
    assert_aws_error(st, et, d, 400, "ValidationException")
    st, et, d = hd.call("DELETE", "/microvm-images/x")
    assert_aws_error(st, et, d, 404, "ResourceNotFoundException")
    st, _, d = hd.call("GET", "/microvm-images")
    assert st == 200 and d["items"] == []


def test_tags(hd):
    st, _, vm = hd.run()
    arn = "arn:hearth:lambda:local:000000000000:microvm:" + vm["microvmId"]
    path = "/tags/" + arn.replace(":", "%3A")
    st, h, data = hd.raw("POST", "/2017-03-31" + path, {"Tags": {"team": "a", "env": "dev"}})
    assert st == 204, data
    st, h, data = hd.raw("GET", "/2017-03-31" + path)
    assert st == 200 and json.loads(data) == {"Tags": {"team": "a", "env": "dev"}}
    st, h, data = hd.raw("DELETE", "/2017-03-31" + path + "?tagKeys=team")
    assert st == 204
    st, h, data = hd.raw("GET", "/2017-03-31" + path)
    assert json.loads(data) == {"Tags": {"env": "dev"}}
    for body in [{}, {"Tags": []}, {"Tags": {"aws:x": "y"}}, {"Tags": {"k": 1}}]:
        st, h, data = hd.raw("POST", "/2017-03-31" + path, body)
        assert st == 400 and h.get("x-amzn-errortype") == "ValidationException"
    missing = "/tags/" + arn.replace(vm["microvmId"], "mvm-ffffffff").replace(":", "%3A")
    st, h, data = hd.raw("GET", "/2017-03-31" + missing)
    assert st == 404 and h.get("x-amzn-errortype") == "ResourceNotFoundException"
    st, h, data = hd.raw("GET", "/2017-03-31/tags/busybox")
    assert st == 400


def test_restart_keeps_state_and_key(tmp_path):
    images = fake_image_dir(str(tmp_path / "images"))
    state = str(tmp_path / "state")
    d = Hearthd(state, images).start()
    try:
        st, _, vm = d.run(clientToken="persist")
        d.wait_state(vm["microvmId"], "TERMINATED", 60)
        key_path = os.path.join(state, "token.key")
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        key = open(key_path, "rb").read()
        assert len(key) == 32
        d.kill9()
        d.start()
        st, _, again = d.get(vm["microvmId"])
        assert st == 200 and again["state"] == "TERMINATED"
        st, _, same = d.run(clientToken="persist")
        assert same["microvmId"] == vm["microvmId"]
        assert open(key_path, "rb").read() == key
        with open(os.path.join(state, "hearth.db"), "rb") as f:
            assert f.read(16) == b"SQLite format 3\x00"
    finally:
        d.close()


def test_many_connections_stay_served(hd):
    # Keep-alive and many sequential connections: the daemon answers every one.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", hd.port, timeout=10)
    for _ in range(200):
        conn.request("GET", API + "/microvms?maxResults=1",
                     headers=hd.signed_headers("GET", API + "/microvms?maxResults=1"))
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    assert hd.alive()
