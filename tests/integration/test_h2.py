"""HTTP/2 from clients at the ingress (PROTOCOL.md 3.4) against a real hearthd on
the host engine: the agent is a host process, so the "guest" application is an
HTTP/1.1 server in this test process on a loopback port. Clients: python3-h2
with prior knowledge over TLS (h2 is not in ALPN yet, see 3.4)."""
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from h2client import H2
from hearthd_harness import Hearthd, busybox_images, free_port


class App(BaseHTTPRequestHandler):
    """Echoes what it got as JSON; /big?n=N answers N bytes (Content-Length);
    /chunks?n=N answers N bytes chunked."""
    protocol_version = "HTTP/1.1"

    def _body(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if not size:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        return body

    def _do(self):
        body = self._body()
        path, _, q = self.path.partition("?")
        if path in ("/big", "/chunks"):
            n = int(q.split("=")[1])
            data = bytes(i % 251 for i in range(n))
            self.send_response(200)
            if path == "/big":
                self.send_header("content-length", str(n))
                self.end_headers()
                self.wfile.write(data)
            else:
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for i in range(0, n, 10000):
                    part = data[i:i + 10000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            return
        out = json.dumps({"method": self.command, "path": self.path,
                          "headers": [[k, v] for k, v in self.headers.items()],
                          "body": len(body),
                          "sha": __import__("hashlib").sha256(body).hexdigest()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("X-App", "yes")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = _do

    def log_message(self, *a):
        pass


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("h2"))
    e = Env()
    e.app_port = free_port()
    e.dead_port = free_port()  # nothing listens there
    srv = ThreadingHTTPServer(("127.0.0.1", e.app_port), App)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    d = Hearthd(os.path.join(root, "state"), busybox_images(root),
                extra=["--engine", "host"]).start()
    try:
        st, _, vm = d.run()
        assert st == 200, vm
        e.vm_id = vm["microvmId"]
        assert d.wait_state(e.vm_id, ("RUNNING", "TERMINATED"), 60)["state"] == "RUNNING"
        d.wait_ingress()
        e.hd, e.iport = d, d.ingress_port
        e.ca = os.path.join(d.state_dir, "tls", "ca.pem")
        e.authority = "%s.localhost:%d" % (e.vm_id, e.iport)
        st, _, doc = d.call("POST", "/microvms/%s/auth-token" % e.vm_id,
                            {"expirationInMinutes": 10,
                             "allowedPorts": [{"port": e.app_port}, {"port": e.dead_port}]})
        assert st == 200, doc
        e.tok = doc["authToken"]["X-aws-proxy-auth"]
        yield e
    finally:
        d.close()
        srv.shutdown()


def hdrs(e, tok=True, port=None, extra=()):
    h = [("x-aws-proxy-port", str(port or e.app_port)), ("x-aws-proxy-trace", "secret")]
    if tok:
        h.append(("x-aws-proxy-auth", tok if isinstance(tok, str) else e.tok))
    return h + list(extra)


def test_streams_are_authorized_each_and_the_connection_survives(env):
    c = H2(env.iport, env.ca)
    try:
        ok = c.request(env.authority, "/a?x=1", headers=hdrs(env, extra=[("X-AWS-Proxy-Other", "1"),
                                                                          ("accept", "*/*")]))
        none = c.request(env.authority, "/b", headers=hdrs(env, tok=False))
        forged = c.request(env.authority, "/c", headers=hdrs(env, tok=env.tok[:-4] + "AAAA"))
        r_ok, r_none, r_forged = c.wait(ok, none, forged)
        assert r_ok["status"] == 200, r_ok
        assert r_none["status"] == 401 and b"token is required" in r_none["body"], r_none
        assert r_forged["status"] == 403, r_forged
        got = json.loads(r_ok["body"])
        assert got["method"] == "GET" and got["path"] == "/a?x=1", got
        names = [k.lower() for k, _ in got["headers"]]
        assert not [n for n in names if n.startswith("x-aws-proxy")], got
        assert "accept" in names and names.count("host") == 1, got
        assert dict(got["headers"])["Host"] == env.authority, got
        assert ("x-app", "yes") in r_ok["headers"], r_ok["headers"]
        # The same connection serves on after the refusals.
        again = c.request(env.authority, "/d", headers=hdrs(env))
        (r,) = c.wait(again)
        assert r["status"] == 200 and json.loads(r["body"])["path"] == "/d", r
        assert not c.closed
    finally:
        c.close()


def test_ports_and_listeners(env):
    c = H2(env.iport, env.ca)
    try:
        st_port = c.request(env.authority, "/", headers=hdrs(env, port=1))
        st_dead = c.request(env.authority, "/", headers=hdrs(env, port=env.dead_port))
        # No VM by name and no token to route by.
        st_novm = c.request("localhost:%d" % env.iport, "/", headers=hdrs(env, tok=False))
        a, b, n = c.wait(st_port, st_dead, st_novm)
        assert a["status"] == 403 and b"port 1 is not allowed" in a["body"], a
        assert b["status"] == 502 and b"nothing is listening" in b["body"], b
        assert n["status"] == 404, n
        (r,) = c.wait(c.request(env.authority, "/", headers=hdrs(env)))
        assert r["status"] == 200, r
    finally:
        c.close()


def test_bodies_both_ways_with_flow_control(env):
    c = H2(env.iport, env.ca)
    try:
        up = bytes(i % 253 for i in range(3 << 20))  # 3 MiB: many stream windows
        sid = c.request(env.authority, "/up", method="POST", headers=hdrs(env), body=up)
        (r,) = c.wait(sid, timeout=60)
        got = json.loads(r["body"])
        assert r["status"] == 200 and got["body"] == len(up), got
        assert got["sha"] == __import__("hashlib").sha256(up).hexdigest()
        # With a content-length the app gets it as sent, not chunked.
        sid = c.request(env.authority, "/len", method="PUT",
                        headers=hdrs(env, extra=[("content-length", "5")]), body=b"hello")
        (r,) = c.wait(sid)
        got = json.loads(r["body"])
        assert got["body"] == 5 and "Transfer-Encoding" not in dict(got["headers"]), got
        n = 5 << 20
        big, chunks = (c.request(env.authority, "/%s?n=%d" % (p, n), headers=hdrs(env))
                       for p in ("big", "chunks"))
        rb, rc = c.wait(big, chunks, timeout=60)
        want = bytes(i % 251 for i in range(n))
        assert rb["status"] == 200 and rb["body"] == want
        assert rc["status"] == 200 and rc["body"] == want  # de-chunked
        assert "transfer-encoding" not in dict(rc["headers"]), rc["headers"]
    finally:
        c.close()


def test_http1_keeps_its_path(env):
    """Not the preface: today's HTTP/1.1 proxy answers as before."""
    import ssl
    ctx = ssl.create_default_context(cafile=env.ca)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", env.iport), timeout=30),
                         server_hostname="127.0.0.1") as s:
        s.sendall(("GET /h1 HTTP/1.1\r\nHost: %s\r\nX-aws-proxy-auth: %s\r\n"
                   "X-aws-proxy-port: %d\r\nConnection: close\r\n\r\n"
                   % (env.authority, env.tok, env.app_port)).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert b'"path": "/h1"' in data


# ---- abuse: hearthd stays up with bounded memory, and serves on ----

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_h2(env):
    """A TLS connection that has sent the preface and an empty SETTINGS (ALPN
    h2, as h2 clients over TLS offer: tlsfront's own path, which lingers after
    a GOAWAY so it reaches a client still sending)."""
    import ssl
    ctx = ssl.create_default_context(cafile=env.ca)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", env.iport), timeout=30),
                        server_hostname="127.0.0.1")
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    return s


def frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def hpack(env, tok=True):
    import hpack as hp
    h = [(":method", "GET"), (":path", "/"), (":scheme", "https"),
         (":authority", env.authority)] + hdrs(env, tok=tok)
    return hp.Encoder().encode(h)


def read_until_closed(s, limit=30):
    """Everything the server sends until it closes (GOAWAY then EOF)."""
    import time
    s.settimeout(2)
    data, deadline = b"", time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError, OSError):
            break
        if not b:
            break
        data += b
    return data


def goaway_code(data):
    """The error code of the first GOAWAY frame in data, or None."""
    i = 0
    while i + 9 <= len(data):
        n = int.from_bytes(data[i:i + 3], "big")
        if data[i + 3] == 7:
            return int.from_bytes(data[i + 9 + 4:i + 9 + 8], "big")
        i += 9 + n
    return None


def still_serves(env):
    c = H2(env.iport, env.ca)
    try:
        (r,) = c.wait(c.request(env.authority, "/alive", headers=hdrs(env)))
        assert r["status"] == 200, r
    finally:
        c.close()


def test_rapid_reset_is_cut_off(env):
    pid = env.hd.proc.pid
    before = rss_kib(pid)
    s = raw_h2(env)
    block = hpack(env)
    # HEADERS then RST_STREAM(CANCEL) at once, 2000 times (CVE-2023-44487).
    out = b"".join(frame(1, 0x5, sid, block) + frame(3, 0, sid, (8).to_bytes(4, "big"))
                   for sid in range(1, 4001, 2))
    try:
        s.sendall(out)
    except OSError:
        pass  # the server may have hung up mid-way
    data = read_until_closed(s)
    s.close()
    assert goaway_code(data) == 0xb, data[-64:]  # ENHANCE_YOUR_CALM
    assert env.hd.alive()
    assert rss_kib(pid) - before < 64 * 1024, (before, rss_kib(pid))
    still_serves(env)


def test_continuation_flood_and_oversized_headers(env):
    pid = env.hd.proc.pid
    before = rss_kib(pid)
    # CONTINUATION flood (CVE-2024-27316 class): a header block that never ends.
    s = raw_h2(env)
    import hpack as hp
    enc = hp.Encoder()
    first = enc.encode([(":method", "GET"), (":path", "/"), (":scheme", "https"),
                        (":authority", env.authority)])
    filler = enc.encode([("x-filler-%d" % i, "v" * 1000) for i in range(16)])
    # END_STREAM, no END_HEADERS, then 56 MB of header block if nothing stops it.
    out = frame(1, 0x1, 1, first) + frame(9, 0, 1, filler) * 4000
    try:
        s.sendall(out)
    except OSError:
        pass
    read_until_closed(s)
    s.close()
    assert env.hd.alive()
    # Oversized header list on one stream: that stream is refused (431 or reset),
    # the connection and the next stream go on.
    c = H2(env.iport, env.ca)
    try:
        big = [("x-big-%d" % i, "b" * 4000) for i in range(8)]  # 32 KiB > 16 KiB
        a = c.request(env.authority, "/", headers=hdrs(env, extra=big))
        b = c.request(env.authority, "/ok", headers=hdrs(env))
        ra, rb = c.wait(a, b)
        assert ra["status"] == 431 or ra["reset"] is not None, ra
        assert rb["status"] == 200, rb
    finally:
        c.close()
    assert rss_kib(pid) - before < 64 * 1024, (before, rss_kib(pid))
    still_serves(env)


def test_preface_in_pieces(env):
    """The preface's first 18 bytes look like a whole HTTP/1 head: a preface cut
    there must still be HTTP/2, not a 400."""
    import ssl
    import time
    import hpack as hp
    ctx = ssl.create_default_context(cafile=env.ca)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", env.iport), timeout=30),
                         server_hostname="127.0.0.1") as s:
        pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        for part in (pre[:5], pre[5:20], pre[20:]):
            s.sendall(part)
            time.sleep(0.2)  # separate TLS records, separate reads
        block = hp.Encoder().encode([(":method", "GET"), (":path", "/split"), (":scheme", "https"),
                                     (":authority", env.authority)] + hdrs(env))
        s.sendall(frame(4, 0, 0, b"") + frame(1, 0x5, 1, block))
        s.settimeout(10)
        data = b""
        while b'"/split"' not in data:
            b = s.recv(65536)
            assert b, data
            data += b
        assert not data.startswith(b"HTTP/1.1"), data[:100]
