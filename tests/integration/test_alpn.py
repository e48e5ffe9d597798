"""HTTP/2 negotiated by ALPN at the ingress (PROTOCOL.md 3.4, session/tlsfront.h): hearthd
peeks at each ClientHello; a client offering "h2" gets hearthd's own TLS and HTTP/2, every
other one goes to libwebsockets' TLS, HTTP/1.1 and WebSocket as before. Real clients with
only hearthd's CA (curl, nghttp, python3-h2, urllib), by the VM's name (dialled at 127.0.0.1:
a stock resolver does not know <id>.localhost). The "guest" application is test_h2's echo
server in this process, reached through the host engine's agent."""
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import http.client
from http.server import ThreadingHTTPServer

import pytest

from conftest import npm_installed
from h2client import H2
from hearthd_harness import Hearthd, busybox_images, free_port
from test_h2 import App

WAIT = 30
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER = os.path.join(ROOT, "browser")
PLAYWRIGHT = os.path.join(BROWSER, "node_modules", "playwright-core")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class Env:
    def name(self):
        return "%s.localhost" % self.vm_id

    def url(self, path="/"):
        return "https://%s:%d%s" % (self.name(), self.iport, path)

    def ctx(self, alpn=None):
        c = ssl.create_default_context(cafile=self.ca)
        if alpn:
            c.set_alpn_protocols(alpn)
        return c


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("alpn"))
    e = Env()
    e.app_port = free_port()
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
        st, _, doc = d.call("POST", "/microvms/%s/auth-token" % e.vm_id,
                            {"expirationInMinutes": 10, "allowedPorts": [{"port": e.app_port}]})
        assert st == 200, doc
        e.tok = doc["authToken"]["X-aws-proxy-auth"]
        yield e
    finally:
        d.close()
        srv.shutdown()


def curl(env, *args, tok=True):
    cmd = ["curl", "-sS", "--max-time", str(WAIT), "--cacert", env.ca,
           "--resolve", "%s:%d:127.0.0.1" % (env.name(), env.iport),
           "-w", "\n%{http_code} %{http_version}", "-H", "X-aws-proxy-port: %d" % env.app_port]
    if tok:
        cmd += ["-H", "X-aws-proxy-auth: " + env.tok]
    p = subprocess.run(cmd + list(args), capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, (cmd, p.stderr)
    body, _, tail = p.stdout.rpartition(b"\n")
    code, ver = tail.decode().split()
    return int(code), ver, body, p.stderr.decode()


def test_curl_http2_by_alpn(env):
    code, ver, body, err = curl(env, "-v", "--http2", env.url("/by-alpn?x=1"))
    assert (code, ver) == (200, "2"), (code, ver, err)
    assert "ALPN: server accepted h2" in err, err
    got = json.loads(body)
    assert got["path"] == "/by-alpn?x=1", got
    assert not [k for k, _ in got["headers"] if k.lower().startswith("x-aws-proxy")], got
    # curl's default (HTTP/2 when the server offers it) is the same connection kind.
    code, ver, _, _ = curl(env, env.url("/default"))
    assert (code, ver) == (200, "2")
    # No token: the stream's own 401.
    code, ver, body, _ = curl(env, "--http2", env.url("/none"), tok=False)
    assert (code, ver) == (401, "2") and b"token is required" in body


def test_curl_http1_keeps_libwebsockets_path(env):
    code, ver, body, err = curl(env, "-v", "--http1.1", env.url("/h1"))
    assert (code, ver) == (200, "1.1"), (code, ver, err)
    assert json.loads(body)["path"] == "/h1"
    assert "ALPN: server accepted http/1.1" in err, err


def nghttp(env, *args):
    # nghttp verifies against SSL_CERT_FILE but only warns (and matches no IP
    # names): the certificate is checked by test_h2_by_alpn_two_streams_one_connection.
    cmd = ["nghttp", "-nv", "-t", str(WAIT)] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT + 10,
                       env=dict(os.environ, SSL_CERT_FILE=env.ca))
    return p


def test_nghttp_streams_on_one_connection(env):
    h = ["-H", "x-aws-proxy-port: %d" % env.app_port]
    # Two streams, one connection, both with the token.
    p = nghttp(env, *h, "-H", "x-aws-proxy-auth: " + env.tok,
               "https://127.0.0.1:%d/one" % env.iport, "https://127.0.0.1:%d/two" % env.iport)
    out = p.stdout
    assert p.returncode == 0, (out[-2000:], p.stderr[-2000:])
    assert "negotiated protocol: h2" in out, out[:2000]
    assert out.count("] Connected") == 1, out[:2000]
    sids = set(re.findall(r"recv HEADERS frame <length=\d+, flags=0x\w+, stream_id=(\d+)>", out))
    assert len(sids) == 2, out[-3000:]
    assert out.count(":status: 200") == 2, out[-3000:]
    # Without the token: that stream's 401, the session ends cleanly (GOAWAY NO_ERROR).
    p = nghttp(env, *h, "-H", ":authority: %s:%d" % (env.name(), env.iport),
               "https://127.0.0.1:%d/none" % env.iport)
    assert ":status: 401" in p.stdout, p.stdout[-3000:]


def test_h2_by_alpn_two_streams_one_connection(env):
    """An authorized and an unauthorized stream on one ALPN h2 connection: 200 and 401,
    the connection goes on. Verified against the CA, by the VM's name (its own leaf)."""
    c = H2(env.iport, env.ca, alpn=["h2", "http/1.1"], name=env.name())
    try:
        assert c.sock.selected_alpn_protocol() == "h2"
        names = [v for k, v in c.sock.getpeercert()["subjectAltName"] if k == "DNS"]
        assert names == [env.name()], names
        auth = "%s:%d" % (env.name(), env.iport)
        base = [("x-aws-proxy-port", str(env.app_port))]
        ok = c.request(auth, "/ok", headers=base + [("x-aws-proxy-auth", env.tok)])
        none = c.request(auth, "/none", headers=base)
        r_ok, r_none = c.wait(ok, none)
        assert r_ok["status"] == 200 and json.loads(r_ok["body"])["path"] == "/ok", r_ok
        assert r_none["status"] == 401, r_none
        (r,) = c.wait(c.request(auth, "/again", headers=base + [("x-aws-proxy-auth", env.tok)]))
        assert r["status"] == 200 and not c.closed, r
        # A body both ways through hearthd's own TLS (several records, flow control).
        body = os.urandom(300 * 1024)
        (r,) = c.wait(c.request(auth, "/post", method="POST", body=body,
                                headers=base + [("x-aws-proxy-auth", env.tok)]))
        got = json.loads(r["body"])
        assert got["body"] == len(body), got
        (r,) = c.wait(c.request(auth, "/big?n=2000000",
                                headers=base + [("x-aws-proxy-auth", env.tok)]))
        assert r["status"] == 200 and len(r["body"]) == 2000000, (r["status"], len(r["body"]))
    finally:
        c.close()


def test_http11_and_no_alpn_clients_go_to_libwebsockets(env):
    """urllib-style http.client by name (no ALPN), and http/1.1 offered alone."""
    for alpn in (None, ["http/1.1"]):
        raw = socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
        s = env.ctx(alpn).wrap_socket(raw, server_hostname=env.name())
        assert s.selected_alpn_protocol() == (alpn[0] if alpn else None)
        c = http.client.HTTPSConnection(env.name(), env.iport, timeout=WAIT)
        c.sock = s
        c.request("GET", "/h1", headers={"X-aws-proxy-auth": env.tok,
                                         "X-aws-proxy-port": str(env.app_port)})
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["path"] == "/h1"
        assert r.version == 11
        c.close()
    # Prior-knowledge h2 inside an http/1.1 (lws) TLS connection still works.
    c = H2(env.iport, env.ca, alpn=["http/1.1"], name=env.name())
    try:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        (r,) = c.wait(c.request("%s:%d" % (env.name(), env.iport), "/pk",
                                headers=[("x-aws-proxy-port", str(env.app_port)),
                                         ("x-aws-proxy-auth", env.tok)]))
        assert r["status"] == 200, r
    finally:
        c.close()


def test_web_terminal_origin_stays_http1(env):
    """localhost (no VM's name) is the web terminal's origin, whose page h2srv does not
    serve: offering h2 there gets lws's http/1.1, and the page."""
    raw = socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
    s = env.ctx(["h2", "http/1.1"]).wrap_socket(raw, server_hostname="localhost")
    assert s.selected_alpn_protocol() == "http/1.1"
    c = http.client.HTTPSConnection("localhost", env.iport, timeout=WAIT)
    c.sock = s
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200 and b"<html" in r.read().lower()
    c.close()
    # By address (no SNI) h2 is offered: the token names the VM.
    c = H2(env.iport, env.ca, alpn=["h2"])
    try:
        assert c.sock.selected_alpn_protocol() == "h2"
        (r,) = c.wait(c.request("127.0.0.1:%d" % env.iport, "/by-address",
                                headers=[("x-aws-proxy-port", str(env.app_port)),
                                         ("x-aws-proxy-auth", env.tok)]))
        assert r["status"] == 200 and json.loads(r["body"])["path"] == "/by-address", r
    finally:
        c.close()


def client_hello(alpn):
    """A real ClientHello offering alpn, from Python's TLS stack."""
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="x.localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def closed_within(s, limit):
    """Seconds until the server closes s (None when it did not within limit)."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(4096):
            pass
    except (socket.timeout, TimeoutError):
        return None
    except OSError:
        pass
    return time.monotonic() - t0


def test_stalled_client_hello_is_cut_without_blocking_others(env):
    hello = client_hello(["h2", "http/1.1"])
    assert len(hello) > 100
    stalled = []
    for part in (hello[:60], hello[:3], b""):  # mid-ClientHello, mid-header, nothing
        s = socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
        s.sendall(part)
        stalled.append(s)
    # Others are served meanwhile, h2 and HTTP/1.1.
    t0 = time.monotonic()
    assert curl(env, "--http2", env.url("/meanwhile"))[:2] == (200, "2")
    assert curl(env, "--http1.1", env.url("/meanwhile"))[:2] == (200, "1.1")
    assert time.monotonic() - t0 < 5
    for s in stalled:
        dt = closed_within(s, 25)
        assert dt is not None, "a stalled ClientHello was never cut"
        s.close()
    # The deadline is TLSFRONT_HANDSHAKE_S (10 s) from accept, checked once a second.
    assert 7 < time.monotonic() - t0 < 16
    assert env.hd.alive()


def test_a_flood_of_stalled_handshakes_locks_nobody_out(env):
    """Past 256 connections in their ClientHello/handshake the oldest that has stalled
    for a second is closed: a client that opens 300 and stalls them all still does not
    keep others from being served."""
    flood = [socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
             for _ in range(300)]
    time.sleep(1.5)  # past the eviction grace: these are stalled, not a burst
    try:
        t0 = time.monotonic()
        assert curl(env, "--http2", env.url("/through-the-flood"))[:2] == (200, "2")
        assert curl(env, "--http1.1", env.url("/through-the-flood"))[:2] == (200, "1.1")
        assert time.monotonic() - t0 < 5
        # The oldest went at once (evicted), not after the 10 s deadline.
        cut = [s for s in flood[:30] if closed_within(s, 3) is not None]
        assert len(cut) >= 30, len(cut)
    finally:
        for s in flood:
            s.close()
    assert env.hd.alive()


def test_a_burst_of_honest_clients_is_never_cut(env):
    """More connections at once than handshakes may be in progress (256): the ones past
    the cap wait in the listen backlog instead of closing younger ones, so every
    client of a burst, each sending its ClientHello at once, is served."""
    import concurrent.futures
    ctx = ssl.create_default_context(cafile=env.ca)
    start = threading.Barrier(300, timeout=WAIT)

    def one(_):
        start.wait()
        with socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT) as s:
            with ctx.wrap_socket(s, server_hostname=env.name()) as t:
                return t.version()

    with concurrent.futures.ThreadPoolExecutor(max_workers=300) as pool:
        versions = list(pool.map(one, range(300)))
    assert all(versions), versions
    assert env.hd.alive()


def test_garbage_and_oversized_hellos(env):
    """Not TLS goes to lws (which fails its handshake); a ClientHello claiming more than
    16 KiB, or a broken one, never makes hearthd wait or fall over."""
    for data in (b"GET / HTTP/1.1\r\n\r\n",
                 b"\x16\x03\x01\x40\x00\x01\xff\xff\xff" + b"\0" * 100,
                 b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00"):
        s = socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT)
        s.sendall(data)
        assert closed_within(s, 25) is not None
        s.close()
    assert curl(env, "--http2", env.url("/after"))[:2] == (200, "2")


# Chromium (playwright-core) loads the VM's page by name and reports the protocol the
# navigation used (Navigation Timing's nextHopProtocol); the web terminal's origin
# (localhost) stays on HTTP/1.1.
CHROMIUM_JS = r"""
const { chromium } = require('playwright-core');
const [exe, urls, tok, port] = process.argv.slice(1);
(async () => {
  const browser = await chromium.launch({ executablePath: exe, headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] });
  const out = [];
  try {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true,
      extraHTTPHeaders: { 'X-aws-proxy-auth': tok, 'X-aws-proxy-port': port } });
    const page = await ctx.newPage();
    for (const url of JSON.parse(urls)) {
      const r = await page.goto(url, { timeout: 30000 });
      const proto = await page.evaluate(
        () => performance.getEntriesByType('navigation')[0].nextHopProtocol);
      out.push({ url, status: r.status(), proto, body: (await r.text()).slice(0, 2000) });
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def test_chromium_gets_h2_for_page_loads(env):
    npm_installed(BROWSER, PLAYWRIGHT)
    urls = [env.url("/page"), "https://localhost:%d/" % env.iport]
    p = subprocess.run(["node", "-e", CHROMIUM_JS, CHROMIUM, json.dumps(urls), env.tok,
                        str(env.app_port)], cwd=BROWSER, capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    vm, term = json.loads(p.stdout.strip().splitlines()[-1])
    assert (vm["status"], vm["proto"]) == (200, "h2"), vm
    assert json.loads(vm["body"])["path"] == "/page", vm
    assert (term["status"], term["proto"]) == (200, "http/1.1"), term
