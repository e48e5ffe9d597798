"""An application that speaks TLS itself (upstls.h, PROTOCOL.md 3.5) behind the endpoint,
with a real hearthd and a real busybox VM: tests/guestapp/guesttls (OpenSSL, a self-signed
certificate made in the guest) in front of guestapp on several ports, guestapp itself in
clear on 8080/8081. Reached by HTTP/1.1 (curl and raw requests with only hearthd's CA), by
h2 (curl --http2, HTTP/1.1 upstream) and by WebSocket; each TLS port is fresh for the path
it tests, so that path's own detection runs."""
import asyncio
import hashlib
import os
import subprocess
import time

import pytest

from conftest import built
from hearthd_harness import BUILD, Hearthd, busybox_app_images
from test_proxy import BOOT, GUESTAPP, WAIT, Conn, Env, request, run, ws_connect

GUESTTLS = os.path.join(BUILD, "bin", "tests", "guesttls")
# 8443: HTTP/1.1; 8444: closes a cleartext request only once it went quiet (lingering
# close), so what hearthd sent in clear is all sent; 8445: h2 front end; 8446: WebSocket.
# 8447: answers a cleartext request with nginx's 400 "The plain HTTP request was sent to
# HTTPS port".
PORTS = [{"port": p} for p in (8080, 8081, 8443, 8444, 8445, 8446, 8447)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("upstls"))
    files = {"guestapp": open(built(GUESTAPP), "rb").read(),
             "guesttls": open(built(GUESTTLS), "rb").read()}
    digest = hashlib.sha256(files["guestapp"] + files["guesttls"]).hexdigest()[:12]
    quiet = "</dev/null >/dev/null 2>&1"
    cmd = ("mkdir -p /tmp; /app/guestapp -d 8080 8081 {q}; /app/guesttls -d 8443 8080 {q}; "
           "/app/guesttls -d -l 8444 8080 {q}; /app/guesttls -d 8445 8080 {q}; "
           "/app/guesttls -d 8446 8080 {q}; /app/guesttls -d -n 8447 8080 {q}").format(q=quiet)
    images = busybox_app_images(root, files, "upstls-" + digest, command=cmd)
    hd = Hearthd(os.path.join(root, "state"), images).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        e = Env(hd, hd.ingress_port, doc["microvmId"])
        e._tok = e.token(ports=PORTS)
        yield e
    finally:
        hd.close()


def curl(env, port, *args, timeout=WAIT):
    return env.curl("-H", "X-aws-proxy-auth: " + env.tok, "-H", "X-aws-proxy-port: %d" % port,
                    *args, timeout=timeout)


def test_http11_to_a_tls_app_and_a_clear_one_beside_it(env, tmp_path):
    st, body = curl(env, 8443, env.url("/"))
    assert (st, body) == (200, b"hello from port 8080\n")
    # The request as the app got it (through guesttls): rewritten, no proxy headers.
    st, body = curl(env, 8443, env.url("/headers?q=tls"))
    assert st == 200 and body.startswith(b"GET /headers?q=tls HTTP/1.1\r\n"), body
    assert b"x-aws-proxy" not in body.lower()
    # A POST with a body, then one past the replay bound (the port is known TLS now).
    data = os.urandom(20000)
    src = tmp_path / "small"
    src.write_bytes(data)
    st, body = curl(env, 8443, "-H", "Expect:", "--data-binary", "@%s" % src, env.url("/echo"))
    assert (st, body) == (200, data), (st, len(body))
    big = os.urandom(600 * 1024)
    src = tmp_path / "big"
    src.write_bytes(big)
    st, body = curl(env, 8443, "-H", "Expect:", "-H", "Transfer-Encoding: chunked",
                    "--data-binary", "@%s" % src, env.url("/echo"), timeout=120)
    assert st == 200 and body == big, (st, len(body))
    # One kept-alive connection: TLS app, clear app in the same VM, TLS app again.
    c = Conn(env)
    try:
        for port, want in ((8443, b"hello from port 8080\n"), (8081, b"hello from port 8081\n"),
                           (8080, b"hello from port 8080\n"), (8443, b"hello from port 8080\n")):
            c.send(request(env, "/", headers={"X-aws-proxy-port": str(port)}))
            st, _, body = c.response()
            assert (st, body) == (200, want), (port, st, body)
    finally:
        c.close()


def test_first_request_too_large_to_replay_is_a_clear_502(env, tmp_path):
    """8444 is not known yet: the 600 KiB body goes out in clear before the app's close, and
    cannot be sent again; the answer says why. A small request then finds TLS, after which
    the same large body goes through."""
    big = os.urandom(600 * 1024)
    src = tmp_path / "big"
    src.write_bytes(big)
    st, body = curl(env, 8444, "-H", "Expect:", "--data-binary", "@%s" % src,
                    env.url("/echo"), timeout=120)
    assert st == 502, (st, body[:300])
    assert b"cannot reach port 8444 in the microVM: the application speaks TLS" in body, body
    st, body = curl(env, 8444, env.url("/"))
    assert (st, body) == (200, b"hello from port 8080\n")
    st, body = curl(env, 8444, "-H", "Expect:", "--data-binary", "@%s" % src,
                    env.url("/echo"), timeout=120)
    assert st == 200 and body == big, (st, len(body))


def h2_base(env, port):
    """curl --http2 by the VM's name (its own certificate), only hearthd's CA; "-w" adds
    the HTTP version and status after the body."""
    return ["curl", "-sS", "--http2", "--max-time", str(WAIT), "--cacert", env.ca,
            "--resolve", "%s:%d:127.0.0.1" % (env.host(), env.iport),
            "-H", "X-aws-proxy-auth: " + env.tok, "-H", "X-aws-proxy-port: %d" % port,
            "-w", "\n%{http_version} %{http_code}"]


def test_h2_front_end_to_a_tls_app(env, tmp_path):
    base = h2_base(env, 8445)
    url = "https://%s:%d" % (env.host(), env.iport)
    p = subprocess.run(base + [url + "/"], capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"hello from port 8080\n\n2 200", p.stdout
    data = os.urandom(40000)
    src = tmp_path / "body"
    src.write_bytes(data)
    p = subprocess.run(base + ["--data-binary", "@%s" % src, url + "/echo", "--next"] +
                       base + [url + "/headers"], capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(data + b"\n2 200"), p.stdout[-300:]
    assert b"GET /headers HTTP/1.1\r\n" in p.stdout and b"x-aws-proxy" not in p.stdout.lower()


def test_websocket_to_a_wss_app(env):
    async def go():
        protos = ["lambda-microvms", "lambda-microvms.authentication." + env.tok,
                  "lambda-microvms.port.8446", "chat"]
        async with ws_connect(env, protos) as ws:
            assert ws.subprotocol == "chat"
            await ws.send("?port")
            assert await asyncio.wait_for(ws.recv(), WAIT) == "port 8080"
            for _ in range(4):  # guestapp echoes messages up to 64 KiB
                blob = os.urandom(60000)
                await ws.send(blob)
                assert await asyncio.wait_for(ws.recv(), WAIT) == blob
            await ws.send("?headers")
            head = await asyncio.wait_for(ws.recv(), WAIT)
            assert env.tok not in head and "Upgrade: websocket" in head, head
    run(go())


def test_tls_app_refusing_cleartext_in_http(env):
    """A TLS server that answers a cleartext request with HTTP (nginx's 400): never shown to
    the client; the request goes again over TLS."""
    st, body = curl(env, 8447, env.url("/headers"))
    assert st == 200 and body.startswith(b"GET /headers HTTP/1.1\r\n"), (st, body[:300])


def test_clear_app_that_hangs_up_is_a_502_in_bounded_time(env):
    """A clear app closing without a byte looks like a TLS server refusing cleartext: the
    request goes again over TLS, where guestapp waits for a head that never comes. The
    handshake deadline (UPSTLS_HANDSHAKE_MS) ends it with a 502 saying so; the port is
    still served in clear after."""
    t = time.monotonic()
    st, body = curl(env, 8081, env.url("/hangup"))
    assert st == 502 and b"no TLS handshake with the application within 10 s" in body, \
        (st, body)
    assert time.monotonic() - t < 25
    st, body = curl(env, 8081, env.url("/"))
    assert (st, body) == (200, b"hello from port 8081\n")
    # The same on an h2 stream with an HTTP/1.1 upstream.
    t = time.monotonic()
    p = subprocess.run(h2_base(env, 8081) + ["https://%s:%d/hangup" % (env.host(), env.iport)],
                       capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"\n2 502") and b"no TLS handshake with the application within " \
        b"10 s" in p.stdout, p.stdout
    assert time.monotonic() - t < 25
