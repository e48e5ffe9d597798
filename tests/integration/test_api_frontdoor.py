"""The API's HTTP/1.1 front door under hostile framing (session/httpconn.c,
protocol/httpsrv.c): a refused request ends the connection and nothing sent
after it runs; paths that could mean something else are refused before
routing; every refusal is in the AWS error shape (x-amzn-ErrorType and a
JSON {"message"}), with 431 for big heads and 413 for big bodies."""
import json
import socket
import time
import urllib.parse

import pytest

from hearthd_harness import API, Hearthd, busybox_images, fake_image_dir



@pytest.fixture
def hd(tmp_path):
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images"))).start()
    yield d
    d.close()


def exchange(port, data, timeout=10):
    """Send raw bytes on one connection; everything the server sends until it
    closes (or timeout). Returns (bytes, closed_by_server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, False
            if not chunk:
                return got, True
            got += chunk
        return got, False


def responses(data):
    """Split the bytes of a connection into (status, headers, body) answers."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def assert_aws_error(resp, status, etype=None):
    st, h, body = resp
    assert st == status, resp
    assert h.get("x-amzn-errortype"), resp
    if etype:
        assert h["x-amzn-errortype"] == etype, resp
    assert h.get("content-type") == "application/json", resp
    doc = json.loads(body)
    assert isinstance(doc.get("message"), str) and doc["message"], resp


def wire(hd, method, target, body=b"", extra=b"", sign=True):
    """One request as raw bytes: Host, then (sign) the SigV4 headers of this
    daemon's key for method, target and body, then the unsigned extra header
    lines (b"Name: v\\r\\n" each), then body as given (a chunked body is
    signed de-chunked by the caller passing signed_body)."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, target, hd.port)
    if sign:
        for k, v in hd.signed_headers(method, target, body).items():
            if k.lower() != "host":
                head += "%s: %s\r\n" % (k, v)
    return head.encode() + extra + b"\r\n"


def refused_and_closed(hd, data, status, etype=None):
    got, closed = exchange(hd.port, data)
    rs = responses(got)
    assert len(rs) == 1, rs
    assert_aws_error(rs[0], status, etype)
    assert rs[0][1].get("connection") == "close", rs
    assert closed, "the connection stays open after a refusal"
    return rs[0]


def vm_state(hd, vid):
    st, _, doc = hd.get(vid)
    assert st == 200, doc
    return doc["state"]


def test_smuggled_delete_after_bad_content_length_never_runs(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--engine", "host"]).start()
    try:
        st, _, vm = d.run()
        assert st == 200, vm
        vid = vm["microvmId"]
        assert d.wait_state(vid, ("RUNNING", "TERMINATED"), 60)["state"] == "RUNNING", \
            d.read_log()
        target = "%s/microvms/%s" % (API, vid)
        delete = wire(d, "DELETE", target)
        for bad in [b"Content-Length: abc", b"Content-Length: 1\r\nContent-Length: 1",
                    b"Content-Length: 0\r\nTransfer-Encoding: chunked",
                    b"Transfer-Encoding: chunked, identity", b"Content-Length : 0"]:
            head = b"POST " + API.encode() + b"/microvms HTTP/1.1\r\nHost: x\r\n" + bad + \
                b"\r\n\r\n"
            got, closed = exchange(d.port, head + delete)
            rs = responses(got)
            assert len(rs) == 1 and rs[0][0] in (400, 501), (bad, rs)
            assert_aws_error(rs[0], rs[0][0])
            assert closed, bad
        time.sleep(1)
        assert vm_state(d, vid) == "RUNNING"
        # The same DELETE on its own does run (the test can fail).
        got, _ = exchange(d.port, wire(d, "DELETE", target, extra=b"Connection: close\r\n"))
        assert responses(got)[0][0] == 200, got
        assert d.wait_state(vid, "TERMINATED", 60)["state"] == "TERMINATED"
    finally:
        d.close()


@pytest.mark.parametrize("path", [
    "/microvms/%00/anything",
    "/microvms/%00",
    "/microvms/A%2F..%2FB",
    "/microvms/A%2f..%2fB",
    "/microvms/mvm-X;x",
    "/microvms/mvm-X//",
    "/microvms//mvm-X",
    "/microvms/x/../mvm-X",
    "/microvms/x/%2e%2e/mvm-X",
    "/microvms/./mvm-X",
    "/microvms/A%5cB",
    "/microvms/A%zz",
    "/microvms/A%",
])
def test_paths_that_mean_something_else_are_refused(hd, path):
    before = hd.call("GET", "/microvms")[2]["items"]
    for method in ("GET", "POST", "DELETE"):
        req = "%s %s%s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" % (method, API, path)
        refused_and_closed(hd, req.encode(), 400, "ValidationException")
    assert hd.call("GET", "/microvms")[2]["items"] == before
    assert hd.alive()


def test_path_checks_do_not_refuse_good_paths(hd):
    # The same connection, kept alive: a trailing slash and an encoded ':' are fine.
    st, _, vm = hd.run()
    assert st == 200, vm
    vid = vm["microvmId"]
    arn = urllib.parse.quote("arn:hearth:lambda:local:000000000000:microvm:" + vid, safe="")
    req = (wire(hd, "GET", "%s/microvms/%s/" % (API, vid)) +
           wire(hd, "GET", "/2017-03-31/tags/%s" % arn) +
           wire(hd, "GET", "%s/microvms/%s" % (API, vid), extra=b"Connection: close\r\n"))
    got, closed = exchange(hd.port, req)
    rs = responses(got)
    assert [r[0] for r in rs] == [200, 200, 200], rs
    assert json.loads(rs[0][2])["microvmId"] == vid
    assert closed


@pytest.mark.parametrize("data", [
    b"hello\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
])
def test_garbage_gets_the_aws_error_shape(hd, data):
    refused_and_closed(hd, data, 400)
    assert hd.alive()


def test_unknown_method_is_405_on_a_known_path(hd):
    got, closed = exchange(hd.port, wire(hd, "BREW", API + "/microvms") +
                           wire(hd, "BREW", "/nowhere", extra=b"Connection: close\r\n"))
    rs = responses(got)
    assert len(rs) == 2, rs
    assert_aws_error(rs[0], 405, "MethodNotAllowedException")
    assert_aws_error(rs[1], 404, "UnknownOperationException")
    assert closed


def test_big_head_is_431_and_big_body_413(hd):
    big = b"GET " + API.encode() + b"/microvms HTTP/1.1\r\nHost: x\r\nX-Pad: " + \
        b"a" * 8200 + b"\r\n\r\n"
    refused_and_closed(hd, big, 431)
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(80)) + \
        b"\r\n"
    refused_and_closed(hd, many, 431)
    body = b"{" + b" " * (70 * 1024) + b"}"
    req = b"POST " + API.encode() + b"/microvms HTTP/1.1\r\nHost: x\r\nContent-Length: " + \
        str(len(body)).encode() + b"\r\n\r\n" + body
    refused_and_closed(hd, req, 413, "RequestEntityTooLargeException")
    chunked = b"POST " + API.encode() + b"/microvms HTTP/1.1\r\nHost: x\r\n" \
        b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"4000\r\n" + b" " * 0x4000 + b"\r\n"
                                                          for _ in range(5)) + b"0\r\n\r\n"
    refused_and_closed(hd, chunked, 413)
    assert hd.alive()


def test_pipelined_requests_and_chunked_bodies_are_served_in_order(hd):
    body = json.dumps({"imageIdentifier": "busybox", "clientToken": "pipe"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    # The chunked body is signed as what it carries (hearthd hashes the de-chunked body).
    req = (wire(hd, "POST", API + "/microvms", body, extra=b"Transfer-Encoding: chunked\r\n") +
           chunked + wire(hd, "GET", API + "/microvms?maxResults=1") +
           wire(hd, "GET", API + "/microvms?maxResults=%00", extra=b"Connection: close\r\n"))
    got, closed = exchange(hd.port, req)
    rs = responses(got)
    assert [r[0] for r in rs] == [200, 200, 400], rs
    assert json.loads(rs[1][2])["items"][0]["microvmId"] == json.loads(rs[0][2])["microvmId"]
    assert closed
