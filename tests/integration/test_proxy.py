"""The app proxy (spec/ingress.md, PROTOCOL.md 3) against a real hearthd and a real busybox
VM running tests/guestapp on ports 8080 and 8081 (a cpio appended to the initramfs, started
by the image's command). Clients: curl and Python `websockets`. One hearthd and one VM for
the module keep the CPU load low; every wait has a deadline."""
import asyncio
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest
import websockets

from conftest import built
from hearthd_harness import BUILD, Hearthd, busybox_app_images

GUESTAPP = os.path.join(BUILD, "bin", "tests", "guestapp")

BOOT = 300   # the first run builds the image snapshot (boot under TCG)
WAIT = 30    # one request through the proxy, generous for TCG


def app_image(root):
    """busybox plus /app/guestapp, started by the image command (so it runs in the snapshot)."""
    app = open(built(GUESTAPP), "rb").read()
    return busybox_app_images(
        root, {"guestapp": app}, "proxy-" + hashlib.sha256(app).hexdigest()[:12],
        command="mkdir -p /tmp; /app/guestapp -d 8080 8081 </dev/null >/dev/null 2>&1")




ALLOWED = [{"port": 8080}, {"port": 8081}, {"range": {"startPort": 9000, "endPort": 9009}}]


class Env:
    def __init__(self, hd, iport, vm_id):
        self.hd, self.iport, self.vm_id = hd, iport, vm_id
        self.ca = os.path.join(hd.state_dir, "tls", "ca.pem")
        self._tok = None

    def token(self, vm_id=None, ports=ALLOWED):
        st, _, doc = self.hd.call("POST", "/microvms/%s/auth-token" % (vm_id or self.vm_id),
                                  {"expirationInMinutes": 10, "allowedPorts": ports})
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]

    @property
    def tok(self):
        if not self._tok:
            self._tok = self.token()
        return self._tok

    def shell_token(self):
        st, _, doc = self.hd.call("POST", "/microvms/%s/shell-auth-token" % self.vm_id,
                                  {"expirationInMinutes": 10})
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]

    def host(self, vm_id=None):
        return "%s.localhost" % (vm_id or self.vm_id)

    def url(self, path="/"):
        """curl checks the certificate against the URL's host, and matches the
        certificate's *.localhost against no <id>.localhost: so the URL names
        localhost and the Host header (see curl()) names the VM."""
        return "https://localhost:%d%s" % (self.iport, path)

    def curl_base(self, vm_id=None, timeout=WAIT):
        return ["curl", "-sS", "--max-time", str(timeout), "--cacert", self.ca,
                "--resolve", "localhost:%d:127.0.0.1" % self.iport,
                "-H", "Host: %s:%d" % (self.host(vm_id), self.iport)]

    def curl(self, *args, vm_id=None, timeout=WAIT):
        """curl with hearthd's CA; returns (status, body bytes)."""
        cmd = self.curl_base(vm_id, timeout) + ["-w", "\n%{http_code}"] + list(args)
        p = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
        assert p.returncode == 0, (cmd, p.stderr)
        body, _, code = p.stdout.rpartition(b"\n")
        return int(code), body


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("proxy"))
    hd = Hearthd(os.path.join(root, "state"), app_image(root),
                 extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        yield Env(hd, hd.ingress_port, doc["microvmId"])
    finally:
        hd.close()


def ssl_ctx(env):
    """Trust only hearthd's CA; the name checked is "localhost" (see test_ingress.py)."""
    return ssl.create_default_context(cafile=env.ca)


class Conn:
    """One raw TLS connection for requests the way a test needs them."""

    def __init__(self, env):
        raw = socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
        self.s = ssl_ctx(env).wrap_socket(raw, server_hostname="localhost")
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _more(self, deadline):
        self.s.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed; have %r" % self.buf[-500:])
        self.buf += chunk

    def until(self, pattern, timeout=WAIT):
        """Read until the bytes regex matches; returns the match, consumes through it."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %r; have %r" % (pattern,
                                                                          self.buf[-500:]))
            self._more(deadline)

    def response(self, timeout=WAIT, head=False):
        """One Content-Length response: (status, headers dict lower-case, body);
        head: it answers HEAD (no body whatever Content-Length says)."""
        m = self.until(rb"^(HTTP/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n)", timeout)
        status = int(m.group(2))
        headers = {}
        for line in m.group(3).split(b"\r\n"):
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = 0 if head else int(headers.get("content-length", "0"))
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._more(deadline)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self, timeout=WAIT):
        """True once the server has closed the connection (after any bytes left)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self._more(deadline)
        except EOFError:
            return True
        except TimeoutError:  # an OSError too: still open at the deadline
            return False
        except (ssl.SSLError, ConnectionError):
            return True
        return False


def request(env, path="/", headers=None, token=True, vm_id=None, method="GET"):
    h = {"Host": "%s:%d" % (env.host(vm_id), env.iport)}
    if token is True:
        h["X-aws-proxy-auth"] = env.tok
    elif token:
        h["X-aws-proxy-auth"] = token
    h.update(headers or {})
    return "%s %s HTTP/1.1\r\n%s\r\n" % (method, path,
                                         "".join("%s: %s\r\n" % kv for kv in h.items()))


def one(env, *a, **kw):
    c = Conn(env)
    try:
        c.send(request(env, *a, **kw))
        return c.response()
    finally:
        c.close()


def test_get_default_port_and_proxy_port(env):
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, env.url("/"))
    assert (st, body) == (200, b"hello from port 8080\n")
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, "-H", "X-aws-proxy-port: 8081",
                        env.url("/"))
    assert (st, body) == (200, b"hello from port 8081\n")


def test_proxy_headers_never_reach_the_app(env):
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, "-H", "X-aws-proxy-port: 8080",
                        "-H", "X-AWS-Proxy-Something: else", "-H", "X-Kept: yes",
                        "-H", "Sec-WebSocket-Protocol: lambda-microvms, chat, "
                              "lambda-microvms.authentication." + env.tok,
                        env.url("/headers?q=1"))
    assert st == 200
    text = body.decode()
    assert text.startswith("GET /headers?q=1 HTTP/1.1\r\n"), text
    assert "x-aws-proxy" not in text.lower() and "lambda-microvms" not in text, text
    assert env.tok not in text
    assert "X-Kept: yes\r\n" in text and "Sec-WebSocket-Protocol: chat\r\n" in text, text


def test_long_request_target_is_passed_on(env):
    target = "/headers?q=" + "x" * 3000
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, env.url(target))
    assert st == 200
    assert body.decode().startswith("GET %s HTTP/1.1\r\n" % target)


def test_chunked_upload_is_echoed(env, tmp_path):
    data = os.urandom(300 * 1024)
    src = tmp_path / "body"
    src.write_bytes(data)
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, "-H",
                        "Transfer-Encoding: chunked", "--data-binary", "@%s" % src,
                        env.url("/echo"), timeout=120)
    assert st == 200 and body == data, (st, len(body))


def test_sse_events_arrive_one_by_one(env):
    """Event i+1 is only sent after the client has seen event i and opened the gate
    (another request): a proxy that held the stream back would never deliver event 0."""
    gate = int.from_bytes(os.urandom(3), "big") + 1
    c = Conn(env)
    try:
        c.send(request(env, "/sse?n=4&gate=%d" % gate))
        c.until(rb"HTTP/1\.1 200 .*?text/event-stream.*?\r\n\r\n")
        for i in range(4):
            if i:
                st, _, body = one(env, "/sse-next?g=%d&i=%d" % (gate, i))
                assert st == 200, body
            c.until(rb"data: event %d\n\n" % i)
        c.until(rb"\r\n0\r\n\r\n")  # the chunked stream ends, the connection stays
        c.send(request(env, "/"))
        assert c.response()[2] == b"hello from port 8080\n"
    finally:
        c.close()


def ws_connect(env, protos, path="/ws", headers=None):
    return websockets.connect("wss://%s:%d%s" % (env.host(), env.iport, path),
                              ssl=ssl_ctx(env), host="127.0.0.1", port=env.iport,
                              server_hostname="localhost", subprotocols=protos,
                              extra_headers=headers or {}, open_timeout=WAIT, close_timeout=5,
                              max_size=None)


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_websocket_echo_without_our_subprotocols(env):
    async def go():
        protos = ["lambda-microvms", "lambda-microvms.authentication." + env.tok, "chat"]
        async with ws_connect(env, protos) as ws:
            assert ws.subprotocol == "chat"  # the app's choice; ours never reached it
            await ws.send("hello")
            assert await asyncio.wait_for(ws.recv(), WAIT) == "hello"
            blob = os.urandom(60000)
            await ws.send(blob)
            assert await asyncio.wait_for(ws.recv(), WAIT) == blob
            await ws.send("?headers")
            head = await asyncio.wait_for(ws.recv(), WAIT)
            assert "lambda-microvms" not in head and env.tok not in head, head
            assert "Sec-WebSocket-Protocol: chat\r\n" in head, head
            await ws.send("?port")
            assert await asyncio.wait_for(ws.recv(), WAIT) == "port 8080"
        # The port by subprotocol; the app selects nothing, so the marker is selected.
        protos = ["lambda-microvms", "lambda-microvms.authentication." + env.tok,
                  "lambda-microvms.port.8081"]
        async with ws_connect(env, protos) as ws:
            assert ws.subprotocol == "lambda-microvms"
            await ws.send("?port")
            assert await asyncio.wait_for(ws.recv(), WAIT) == "port 8081"
            await ws.send("?headers")
            head = await asyncio.wait_for(ws.recv(), WAIT)
            assert "Sec-WebSocket-Protocol" not in head, head
    run(go())


def test_keep_alive(env):
    # curl reuses its connection for the second URL: one connect for two transfers.
    p = subprocess.run(env.curl_base() + ["-H", "X-aws-proxy-auth: " + env.tok,
                        "-w", "|%{http_code} %{num_connects}\n", env.url("/"),
                        env.url("/headers")],
                       capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert out.startswith("hello from port 8080\n|200 1\n"), out
    assert out.endswith("|200 0\n") and "GET /headers HTTP/1.1" in out, out
    # One connection: each request parsed, authorized and routed on its own, the last
    # one answered by the proxy.
    c = Conn(env)
    try:
        c.send(request(env, "/") + request(env, "/", {"X-aws-proxy-port": "8081"}))
        assert c.response()[2] == b"hello from port 8080\n"   # pipelined: in order
        assert c.response()[2] == b"hello from port 8081\n"
        c.send(request(env, "/", {"X-aws-proxy-port": "8080"}))
        assert c.response()[2] == b"hello from port 8080\n"
        # HEAD: a Content-Length but no body; the next request still follows.
        c.send(request(env, "/", method="HEAD") + request(env, "/headers"))
        st, h, body = c.response(head=True)
        assert (st, h["content-length"], body) == (200, "21", b""), (st, h, body)
        st, _, body = c.response()
        assert st == 200 and body.startswith(b"GET /headers HTTP/1.1\r\n"), body
        c.send(request(env, "/", token=env.shell_token()))
        st, h, body = c.response()
        assert st == 403 and h.get("connection") == "close", (st, h, body)
        assert c.closed()
    finally:
        c.close()
    # Connection: close is honoured: the answer, then the end of the connection.
    c = Conn(env)
    try:
        c.send(request(env, "/", {"Connection": "close"}))
        assert c.response()[2] == b"hello from port 8080\n"
        assert c.closed()
    finally:
        c.close()



def test_idle_kept_alive_connection_ends_after_60s(env):
    """A kept-alive connection with no request in flight ends after 60 s (PROXY_IDLE_MS,
    PROTOCOL.md 3); one whose response is still coming, however slowly, does not."""
    gate = int.from_bytes(os.urandom(3), "big") + 1
    idle, busy = Conn(env), Conn(env)
    try:
        for c in (idle, busy):
            c.send(request(env, "/"))
            assert c.response()[2] == b"hello from port 8080\n"
        # busy: then a response in flight that sends nothing after its first event until
        # the gate opens, past the moment its idle timer (from the first response) fires.
        busy.send(request(env, "/sse?n=2&gate=%d" % gate))
        busy.until(rb"HTTP/1\.1 200 .*?\r\n\r\n.*?data: event 0\n\n")
        assert not idle.closed(timeout=45), "closed well before 60 s"
        assert idle.closed(timeout=60), "still open long after 60 s idle"
        st, _, body = one(env, "/sse-next?g=%d&i=1" % gate)
        assert st == 200, body
        busy.until(rb"data: event 1\n\n")
        busy.until(rb"\r\n0\r\n\r\n")
        busy.send(request(env, "/"))
        assert busy.response()[2] == b"hello from port 8080\n"
    finally:
        idle.close()
        busy.close()

def test_framing_the_proxy_cannot_follow_ends_the_connection(env):
    # A body delimited by the end of the application's connection: delivered whole, then
    # the client connection ends too.
    c = Conn(env)
    try:
        c.send(request(env, "/until-close"))
        c.until(rb"HTTP/1\.1 200 OK\r\n.*?\r\n\r\nuntil close\n")
        assert c.closed()
    finally:
        c.close()
    # Bytes after a whole answer that no request asked for: passed on, then the end
    # (never mistaken for the answer to a later request).
    c = Conn(env)
    try:
        c.send(request(env, "/stray"))
        assert c.response()[2] == b"abc"
        c.until(rb"junk")
        assert c.closed()
    finally:
        c.close()


def test_slow_client_gets_everything(env):
    """A response far beyond the agent window while the client does not read: the
    application waits (nothing dropped), then all of it arrives in order."""
    n = 8 * 1024 * 1024
    c = Conn(env)
    try:
        c.send(request(env, "/big?n=%d" % n))
        time.sleep(3)  # not reading: the window fills and the app blocks in write
        st, _, body = c.response(timeout=180)
        assert st == 200 and len(body) == n
        assert body == (b"0123456789" * (n // 10 + 1))[:n]
        c.send(request(env, "/"))
        assert c.response()[2] == b"hello from port 8080\n"
    finally:
        c.close()


def test_refusals(env):
    st, _, body = one(env, "/", {"X-aws-proxy-port": "7000"})
    assert st == 403 and "7000" in json.loads(body)["message"], body
    st, _, body = one(env, "/", token=None)
    assert st == 401 and json.loads(body)["message"], body
    shell = one(env, "/", token=env.shell_token())
    assert shell[0] == 403, shell
    forged = env.tok[:-2] + ("AA" if not env.tok.endswith("AA") else "BB")
    assert one(env, "/", token=forged)[::2] == shell[::2]
    other = "mvm-0000000000000000"
    assert one(env, "/", token=env.tok, vm_id=other)[::2] == shell[::2]
    st, _, body = one(env, "/", {"X-aws-proxy-port": "0"})
    assert st == 400, body
    st, _, body = one(env, "/", {"Content-Length": "1", "Transfer-Encoding": "chunked"},
                      method="POST")
    assert st == 400, body


def test_bare_lf_head_is_400_at_once(env):
    """A head with bare LF line ends never shows the CRLF CRLF that would end it:
    it is refused 400 as soon as the first bare LF arrives (PROTOCOL.md 3.1), not
    held until the 30 s head timeout; so is one later on a kept-alive connection."""
    lf = request(env, "/").replace("\r\n", "\n")
    for head in (lf, lf.split("\n")[0] + "\n"):  # the whole head, or its first line only
        c = Conn(env)
        try:
            t0 = time.monotonic()
            c.send(head)
            st, h, body = c.response(timeout=5)
            assert st == 400 and json.loads(body)["message"], (st, body)
            assert h["connection"] == "close"
            assert c.closed(timeout=5)
            assert time.monotonic() - t0 < 1.0, time.monotonic() - t0
        finally:
            c.close()
    c = Conn(env)
    try:
        c.send(request(env, "/"))
        assert c.response()[0] == 200
        t0 = time.monotonic()
        c.send(lf)
        assert c.response(timeout=5)[0] == 400
        assert time.monotonic() - t0 < 1.0
        assert c.closed(timeout=5)
    finally:
        c.close()


def test_odd_paths_reach_the_app_unchanged(env):
    """The proxy decides nothing on the path (the VM comes from Host, the port from
    the token's request): %00, encoded '/', dot and empty segments and ';' reach
    the application byte for byte, for it to judge."""
    for path in ("/%00", "/a%2Fb/%2e%2e/c", "/x/../y", "//z", "/./p;q=1", "/%zz"):
        st, _, body = one(env, path)
        assert (st, body) == (404, b"no such path: %s\n" % path.encode()), (path, st, body)


def test_nothing_listening_is_502_and_vm_unaffected(env):
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, "-H", "X-aws-proxy-port: 9000",
                        env.url("/"))
    assert st == 502, body
    assert "9000" in json.loads(body)["message"], body
    st, body = env.curl("-H", "X-aws-proxy-auth: " + env.tok, env.url("/"))
    assert (st, body) == (200, b"hello from port 8080\n")
    assert env.hd.get(env.vm_id)[2]["state"] == "RUNNING"


def suspended_vm(env, auto_resume):
    return env.hd.run_suspended(auto_resume, env.token, BOOT)


def test_suspended_vm_with_auto_resume_is_served(env):
    vid, tok = suspended_vm(env, True)
    try:
        st, body = env.curl("-H", "X-aws-proxy-auth: " + tok, env.url("/"),
                            vm_id=vid, timeout=180)
        assert (st, body) == (200, b"hello from port 8080\n")
        assert env.hd.get(vid)[2]["state"] == "RUNNING"
    finally:
        env.hd.call("DELETE", "/microvms/" + vid)


def test_suspended_vm_without_auto_resume_is_409(env):
    vid, tok = suspended_vm(env, False)
    try:
        st, body = env.curl("-H", "X-aws-proxy-auth: " + tok, env.url("/"),
                            vm_id=vid)
        assert st == 409, body
        msg = json.loads(body)["message"]
        assert "SUSPENDED" in msg and "autoResume" in msg, msg
        assert env.hd.get(vid)[2]["state"] == "SUSPENDED"
    finally:
        env.hd.call("DELETE", "/microvms/" + vid)
