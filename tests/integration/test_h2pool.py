"""Kept connections to HTTP/1.1 applications (session/uppool.h) behind the h2
ingress, against a real hearthd on the host engine: the agent is a host
process, so the applications are HTTP/1.1 servers in this test process on
loopback ports, and each answer says which TCP connection (the agent's
source port) carried the request. A connection is reused for the next
request to the same VM and port, and never after the app closed it, across
VMs or ports, for a request a token does not allow, or past its idle time."""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from h2client import H2
from hearthd_harness import Hearthd, busybox_images

IDLE_S = 2.0  # UPPOOL_IDLE_MS


def make_app(name):
    class App(BaseHTTPRequestHandler):
        """Answers {"app", "peer", "path"}; /bye answers, then closes the
        connection without saying so (no Connection: close); /close says
        Connection: close; after /arm the connection's next request is
        closed unanswered (a keep-alive timeout racing the request)."""
        protocol_version = "HTTP/1.1"

        def _do(self):
            if getattr(self, "armed", False):
                self.close_connection = True
                return
            self.armed = self.path == "/arm"
            n = int(self.headers.get("content-length") or 0)
            if n:
                self.rfile.read(n)
            out = json.dumps({"app": name, "peer": self.client_address[1],
                              "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            if self.path == "/close":
                self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(out)
            if self.path == "/bye":
                self.close_connection = True

        do_GET = do_POST = _do

        def log_message(self, *a):
            pass
    return App


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("h2pool"))
    e = Env()
    srvs = []
    for name in ("a", "b"):
        s = ThreadingHTTPServer(("127.0.0.1", 0), make_app(name))
        threading.Thread(target=s.serve_forever, daemon=True).start()
        srvs.append(s)
    e.port_a, e.port_b = (s.server_address[1] for s in srvs)
    d = Hearthd(os.path.join(root, "state"), busybox_images(root),
                extra=["--engine", "host"]).start()
    try:
        e.vms, e.toks = [], []
        for _ in range(2):
            st, _, vm = d.run()
            assert st == 200, vm
            vid = vm["microvmId"]
            assert d.wait_state(vid, ("RUNNING", "TERMINATED"), 60)["state"] == "RUNNING"
            st, _, doc = d.call("POST", "/microvms/%s/auth-token" % vid,
                                {"expirationInMinutes": 10,
                                 "allowedPorts": [{"port": e.port_a}, {"port": e.port_b}]})
            assert st == 200, doc
            e.vms.append(vid)
            e.toks.append(doc["authToken"]["X-aws-proxy-auth"])
        d.wait_ingress()
        e.hd, e.iport = d, d.ingress_port
        e.ca = os.path.join(d.state_dir, "tls", "ca.pem")
        yield e
    finally:
        d.close()
        for s in srvs:
            s.shutdown()


def get(env, c, path="/", vm=0, port=None, tok=None, method="GET", body=None):
    """One request on c; (status, answer JSON or the raw body)."""
    auth = "%s.localhost:%d" % (env.vms[vm], env.iport)
    h = [("x-aws-proxy-port", str(port or env.port_a)),
         ("x-aws-proxy-auth", tok or env.toks[vm])]
    (r,) = c.wait(c.request(auth, path, method=method, headers=h, body=body))
    try:
        return r["status"], json.loads(r["body"])
    except ValueError:
        return r["status"], r["body"]


def settle():
    """Past any connection the previous test left idle."""
    time.sleep(IDLE_S + 0.8)


def test_a_kept_connection_carries_the_next_request(env):
    settle()
    c, c2 = H2(env.iport, env.ca), H2(env.iport, env.ca)
    try:
        st, a1 = get(env, c, "/1")
        assert st == 200 and a1["app"] == "a", a1
        st, a2 = get(env, c, "/2")
        assert st == 200 and a2["peer"] == a1["peer"], (a1, a2)
        # Another client connection to the same VM and port: the same one.
        st, a3 = get(env, c2, "/3")
        assert st == 200 and a3["peer"] == a1["peer"], (a1, a3)
        # A POST never rides a kept connection (it could not be resent).
        st, p = get(env, c, "/post", method="POST", body=b"x" * 10)
        assert st == 200 and p["peer"] != a1["peer"], (a1, p)
    finally:
        c.close()
        c2.close()


def test_never_after_the_app_closed_it(env):
    settle()
    c = H2(env.iport, env.ca)
    try:
        st, a1 = get(env, c, "/close")  # Connection: close
        assert st == 200
        st, a2 = get(env, c, "/bye")    # closes without saying so
        assert st == 200 and a2["peer"] != a1["peer"], (a1, a2)
        # At once: the app's close may still be on its way; the request is
        # answered either way (a new connection, or resent on one).
        st, a3 = get(env, c, "/3")
        assert st == 200 and a3["peer"] not in (a1["peer"], a2["peer"]), (a1, a2, a3)
        time.sleep(0.3)
        st, a4 = get(env, c, "/4")
        assert st == 200 and a4["peer"] == a3["peer"], (a3, a4)
    finally:
        c.close()


def test_a_request_the_app_drops_on_a_kept_connection_goes_again(env):
    settle()
    c = H2(env.iport, env.ca)
    try:
        st, a1 = get(env, c, "/arm")
        assert st == 200
        # Reuses a1's connection, which the app closes unanswered: sent
        # again on a new one, so the client sees the answer, not a 502.
        st, a2 = get(env, c, "/2")
        assert st == 200 and a2["peer"] != a1["peer"], (a1, a2)
    finally:
        c.close()


def test_never_across_ports_or_vms(env):
    settle()
    c = H2(env.iport, env.ca)
    try:
        st, a = get(env, c, "/a")
        assert st == 200 and a["app"] == "a"
        st, b = get(env, c, "/b", port=env.port_b)
        assert st == 200 and b["app"] == "b", b  # app b's own connection
        # The second VM's agent opens its own connection to the same app.
        st, v2 = get(env, c, "/v2", vm=1)
        assert st == 200 and v2["app"] == "a" and v2["peer"] != a["peer"], (a, v2)
        # VM 1's token at VM 2's endpoint: refused, nothing reaches an app.
        st, body = get(env, c, "/x", vm=1, tok=env.toks[0])
        assert st == 403, body
        st, again = get(env, c, "/again")
        assert st == 200 and again["peer"] == a["peer"], (a, again)
        st, v2b = get(env, c, "/v2b", vm=1)
        assert st == 200 and v2b["peer"] == v2["peer"], (v2, v2b)
    finally:
        c.close()


def test_an_idle_connection_is_closed_after_its_time(env):
    settle()
    c = H2(env.iport, env.ca)
    try:
        st, a1 = get(env, c, "/1")
        assert st == 200
        time.sleep(IDLE_S + 0.8)
        st, a2 = get(env, c, "/2")
        assert st == 200 and a2["peer"] != a1["peer"], (a1, a2)
    finally:
        c.close()
