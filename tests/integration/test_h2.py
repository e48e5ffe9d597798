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
        st_novm = c.request("localhost:%d" % env.iport, "/", headers=hdrs(env))
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
