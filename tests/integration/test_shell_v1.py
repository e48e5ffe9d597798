"""The shell WebSocket's hearth.v1 extensions (protocol/PROTOCOL.md 2.3) against a
real hearthd and one real busybox VM shared by the module: open, attach with
offsets and replay, several viewers, the size rule, detach, grace, exec, errors,
the per-viewer bound. Python `websockets` (Debian's 10.x). Every wait has a
deadline."""
import asyncio
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import time

import pytest
import websockets

from agentproto import Agent
from hearthd_harness import BUILD, Hearthd, busybox_images
from test_ingress import (BOOT, WAIT, read_frame, run, sanitizer_reports, shell_raw,
                          ssl_ctx)

SHELL_GRACE = 6  # long enough for the reconnect tests to come back in time


class Env:
    def __init__(self, hd, iport, vm_id):
        self.hd, self.iport, self.vm_id = hd, iport, vm_id
        self.ca = os.path.join(hd.state_dir, "tls", "ca.pem")

    def token(self, vm_id=None):
        st, _, doc = self.hd.call("POST", "/microvms/%s/shell-auth-token" % (vm_id or self.vm_id),
                                  {"expirationInMinutes": 5})
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("shellv1"))
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root),
                 extra=["--shell-grace", str(SHELL_GRACE)]).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        yield Env(hd, hd.ingress_port, doc["microvmId"])
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


def connect(env, v1=True, rcvbuf=None):
    protos = (["hearth.v1"] if v1 else []) + ["lambda-microvms",
                                              "lambda-microvms.authentication." + env.token()]
    uri = "wss://%s.localhost:%d/" % (env.vm_id, env.iport)
    kw = dict(host="127.0.0.1", port=env.iport)
    if rcvbuf:
        # A small receive buffer, so a viewer that stops reading is felt at once.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", env.iport))
        s.setblocking(False)
        # Keepalive PINGs feed hearthd's 60 s idle close (2.3), but a client
        # that stops reading gets their PONG only after what it has not read:
        # never time out on it (websockets would fail the connection, 1006).
        kw = dict(sock=s, max_queue=1, read_limit=rcvbuf, ping_interval=10, ping_timeout=None)
    return websockets.connect(uri, ssl=ssl_ctx(env), server_hostname="localhost",
                              subprotocols=protos, open_timeout=WAIT, close_timeout=5,
                              max_size=None, **kw)


class V1:
    """One v1 connection: BINARY bytes (offset-counted), TEXT frames in order."""

    def __init__(self, ws):
        self.ws, self.out, self.texts, self.offset = ws, bytearray(), [], 0
        self.all = bytearray()
        self.frames = []  # exec: raw BINARY frames

    async def recv_one(self, deadline):
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise asyncio.TimeoutError()
            m = await asyncio.wait_for(self.ws.recv(), left)
        except asyncio.TimeoutError:
            # Say what did arrive: a bare TimeoutError tells nothing.
            raise AssertionError("timed out; output %r texts %r" % (bytes(self.all[-2000:]),
                                                                   self.texts)) from None
        if isinstance(m, bytes):
            self.out += m
            self.all += m
            self.offset += len(m)
            self.frames.append(m)
        else:
            self.texts.append(json.loads(m))

    async def expect(self, pattern, timeout=WAIT):
        deadline = time.monotonic() + timeout
        pos = 0
        while True:
            m = re.compile(pattern).search(self.out, pos)
            if m:
                # The match, on a copy: the buffer it points into is cut next.
                found = re.compile(pattern).search(bytes(self.out[m.start():m.end()]))
                del self.out[:m.end()]
                return found
            # Matches are short: search only the new tail next time (no quadratic scans).
            pos = max(0, len(self.out) - 4096)
            await self.recv_one(deadline)

    async def text(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not self.texts:
            await self.recv_one(deadline)
        return self.texts.pop(0)

    async def send(self, obj):
        await self.ws.send(json.dumps(obj) if isinstance(obj, dict) else
                           (obj.encode() if isinstance(obj, str) else obj))

    async def closed(self, timeout=WAIT):
        """Read until the server closes; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                await self.recv_one(deadline)
        except websockets.exceptions.ConnectionClosed:
            pass
        return self.ws.close_code, self.ws.close_reason


async def hello(ws):
    c = V1(ws)
    assert ws.subprotocol == "hearth.v1"
    h = await c.text()
    assert h["type"] == "hello" and h["version"] == 1 and h["replay_bytes"] >= 262144, h
    return c, h


async def open_shell(env, cols=100, rows=30, **extra):
    ws = await connect(env)
    c, _ = await hello(ws)
    await c.send(dict(type="open", cols=cols, rows=rows, **extra))
    init = await c.text()
    assert init["type"] == "session_init", init
    return ws, c, init["session_id"]


async def attach(env, sid, **kw):
    ws = await connect(env)
    c, _ = await hello(ws)
    await c.send(dict(type="attach", session_id=sid, **kw))
    return ws, c


def test_open_output_and_size(env):
    async def go():
        ws, c, sid = await open_shell(env, cols=101, rows=37)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                            r"[0-9a-f]{12}", sid)
        await c.send("stty size; echo v1-$((6*7))\n")
        await c.expect(rb"37 101")
        await c.expect(rb"v1-42")
        await c.send({"type": "ping", "data": "abc"})
        while True:
            t = await c.text()
            if t["type"] == "pong":
                break
        assert t == {"type": "pong", "data": "abc"}
        await c.send("exit\n")
        assert await c.closed() == (1000, "shell exited")
        assert {"type": "exit", "code": 0} in c.texts, c.texts
    run(go())


def numbers(stream):
    return [int(x) for x in re.findall(rb"(?m)^(\d+)\r$", stream)]


def test_reconnect_with_offset_is_complete(env):
    n = 200000

    async def go():
        ws, c, sid = await open_shell(env)
        await c.send("seq 1 %d; echo END-$((1+1))\n" % n)
        deadline = time.monotonic() + 60
        while c.offset < 100000:
            await c.recv_one(deadline)
        ws.transport.abort()  # drop the TCP connection mid-output
        first, seen = bytes(c.all), c.offset
        ws2, c2 = await attach(env, sid, offset=seen)
        att = await c2.text()
        assert att == {"type": "attached", "session_id": sid, "offset": seen, "dropped": 0}, att
        await c2.expect(rb"END-2", timeout=120)
        got = numbers(first + bytes(c2.all))
        assert got == list(range(1, n + 1)), (len(got), got[:3], got[-3:])
        # Attach without an offset replays the whole ring (all of it fits).
        ws3, c3 = await attach(env, sid, mode="ro")
        att = await c3.text()
        assert att["offset"] == 0 and att["dropped"] == 0, att
        await c3.expect(rb"END-2", timeout=60)
        assert bytes(c3.all).startswith(first)
        await c2.send("exit\n")
        assert await c2.closed() == (1000, "shell exited")
        assert await c3.closed() == (1000, "shell exited")
    run(go(), timeout=240)


def test_two_viewers_read_only_and_size_rule(env):
    async def go():
        ws, a, sid = await open_shell(env, cols=100, rows=30)
        wsb, b = await attach(env, sid, mode="ro")
        assert (await b.text())["type"] == "attached"
        await a.send("echo both-$((3*3))\n")
        await a.expect(rb"both-9")
        await b.expect(rb"both-9")
        await b.send("echo ro-typed\n")
        err = await b.text()
        assert err["type"] == "error" and err["code"] == "ReadOnly", err
        await b.send({"type": "signal", "signal": "INT"})
        assert (await b.text())["code"] == "ReadOnly"
        # A second read-write viewer: the pty takes the smallest cols and rows.
        wsc, cv = await attach(env, sid)
        assert (await cv.text())["type"] == "attached"
        await cv.send({"type": "resize", "cols": 80, "rows": 50})
        await asyncio.sleep(0.5)
        await a.send("stty size\n")
        await a.expect(rb"30 80")
        # A read-only viewer's size does not count.
        await b.send({"type": "resize", "cols": 20, "rows": 10})
        await cv.send({"type": "detach"})
        assert await cv.closed() == (1000, "detached")
        await asyncio.sleep(0.5)
        await a.send("stty size\n")
        await a.expect(rb"30 100")
        assert b"ro-typed" not in a.all
        await a.send("exit\n")
        assert await a.closed() == (1000, "shell exited")
        assert await b.closed() == (1000, "shell exited")
    run(go())


def test_signal_and_viewer_limit(env):
    async def go():
        ws, a, sid = await open_shell(env)
        await a.send("echo go-$((2*2)); sleep 30\n")
        await a.expect(rb"go-4")
        await asyncio.sleep(1)
        await a.send({"type": "signal", "signal": "INT"})
        await a.send("echo st-$?\n")
        await a.expect(rb"st-130")
        # 32 viewers in all; the 33rd is refused.
        more = []
        for _ in range(31):
            w, c = await attach(env, sid, mode="ro")
            assert (await c.text())["type"] == "attached"
            more.append((w, c))
        w, c = await attach(env, sid, mode="ro")
        err = await c.text()
        assert err["type"] == "error" and err["code"] == "TooManyViewers", err
        assert (await c.closed())[0] == 1008
        for w, _ in more:
            await w.close()
        await a.send("exit\n")
        assert await a.closed() == (1000, "shell exited")
    run(go())


def test_detach_and_reattach_keeps_the_shell(env):
    async def go():
        ws, c, sid = await open_shell(env)
        await c.send("export KEPT=kv-$((40+2)); echo set-ok\n")
        await c.expect(rb"set-ok\r")
        await c.send({"type": "detach"})
        assert await c.closed() == (1000, "detached")
        # The detached shell still counts in the API's "hearth" fields.
        during = env.hd.get(env.vm_id)[2]["hearth"]["shells"]
        assert during >= 1
        ws2, c2 = await attach(env, sid, offset=c.offset)
        att = await c2.text()
        assert att["offset"] == c.offset and att["dropped"] == 0, att
        await c2.send("echo got-$KEPT\n")
        await c2.expect(rb"got-kv-42")
        await c2.send("exit\n")
        assert await c2.closed() == (1000, "shell exited")
        assert env.hd.get(env.vm_id)[2]["hearth"]["shells"] <= during - 1
    run(go())


def test_grace_expiry_ends_the_shell(env):
    async def go():
        ws, c, sid = await open_shell(env, grace=1)
        await c.send("echo alive\n")
        await c.expect(rb"alive\r")
        await ws.close()
        deadline = time.monotonic() + 30
        while True:
            await asyncio.sleep(2)
            ws2, c2 = await attach(env, sid)
            t = await c2.text()
            if t["type"] == "error":
                break
            assert t["type"] == "attached" and time.monotonic() < deadline, t
            await ws2.close()  # a viewer came back in time: the grace starts again
        assert t["code"] == "NoSuchSession", t
        assert await c2.closed() == (1008, t["message"])
    run(go())


def test_default_grace_from_the_command_line(env):
    async def go():
        ws = await connect(env)
        c, h = await hello(ws)
        assert h["grace"] == SHELL_GRACE, h
        await c.send({"type": "open", "cols": 80, "rows": 24})
        sid = (await c.text())["session_id"]
        ws.transport.abort()
        deadline = time.monotonic() + 60
        while True:
            await asyncio.sleep(SHELL_GRACE + 2)
            ws2, c2 = await attach(env, sid)
            t = await c2.text()
            if t["type"] == "error":
                break
            assert t["type"] == "attached" and time.monotonic() < deadline, t
            await ws2.close()
        assert t["code"] == "NoSuchSession", t
    run(go())


async def run_exec(env, req, stdin=None, eof=False, signal=None, timeout=WAIT):
    ws = await connect(env)
    c, _ = await hello(ws)
    await c.send(dict(type="exec", **req))
    st = await c.text(timeout)
    assert st["type"] == "exec_started" and st["pid"] > 0, st
    if stdin is not None:
        await c.send(stdin)
    if eof:
        await c.send({"type": "eof"})
    if signal:
        await asyncio.sleep(0.5)
        await c.send({"type": "signal", "signal": signal})
    code = await c.closed(timeout)
    out = {1: bytearray(), 2: bytearray()}
    for f in c.frames:
        assert f[0] in (1, 2), f[:8]
        out[f[0]] += f[1:]
    return code, [t for t in c.texts if t["type"] == "exit"], bytes(out[1]), bytes(out[2]), c


def test_exec_streams_and_exit_code(env):
    code, ex, out, err, _ = run(run_exec(env, {"command": "echo out-1; echo err-2 >&2; exit 3"}))
    assert code == (1000, "exec finished")
    assert ex == [{"type": "exit", "code": 3}]
    assert out == b"out-1\n" and err == b"err-2\n"
    code, ex, out, err, _ = run(run_exec(env, {"argv": ["/bin/sh", "-c", "echo $A-$B", "x"],
                                               "env": {"A": "a1", "B": "b2"}, "cwd": "/"}))
    assert ex == [{"type": "exit", "code": 0}] and out == b"a1-b2\n"


def test_exec_signal_and_timeout(env):
    _, ex, _, _, _ = run(run_exec(env, {"argv": ["sleep", "30"]}, signal="TERM"))
    assert ex == [{"type": "exit", "signal": 15}], ex
    _, ex, _, _, _ = run(run_exec(env, {"argv": ["sleep", "30"], "timeout": 1}))
    assert ex == [{"type": "exit", "signal": 9, "timed_out": True}], ex


def test_exec_stdin_and_eof(env):
    _, ex, out, _, _ = run(run_exec(env, {"argv": ["cat"], "stdin": True},
                                    stdin=b"line-1\nline-2\n", eof=True))
    assert ex == [{"type": "exit", "code": 0}] and out == b"line-1\nline-2\n"

    async def no_stdin():
        ws = await connect(env)
        c, _ = await hello(ws)
        await c.send({"type": "exec", "argv": ["sleep", "2"]})
        assert (await c.text())["type"] == "exec_started"
        await c.send(b"ignored")
        err = await c.text()
        assert err["type"] == "error" and err["code"] == "NoStdin", err
        assert await c.closed() == (1000, "exec finished")
    run(no_stdin())


def test_exec_large_stdin_is_intact(env):
    """More stdin than the agent's window: hearthd waits for WINDOW and pauses the client."""
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def go():
        ws = await connect(env)
        c, _ = await hello(ws)
        await c.send({"type": "exec", "argv": ["sha256sum"], "stdin": True})
        for i in range(0, len(data), 65536):
            await c.send(data[i:i + 65536])
        await c.send({"type": "eof"})
        assert await c.closed(120) == (1000, "exec finished")
        assert c.texts[0]["type"] == "exec_started", c.texts
        assert {"type": "exit", "code": 0} in c.texts, c.texts
        out = b"".join(f[1:] for f in c.frames if f[0] == 1)
        assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()
    run(go(), timeout=180)


def test_exec_large_output_is_intact(env):
    size = 20 * 1024 * 1024
    _, ex, out, err, _ = run(run_exec(env, {"command": "head -c %d /dev/urandom > /tmp/big; "
                                                       "sha256sum /tmp/big" % size}), timeout=180)
    assert ex == [{"type": "exit", "code": 0}], (ex, err)
    want = out.split()[0].decode()
    _, ex, out, err, _ = run(run_exec(env, {"argv": ["cat", "/tmp/big"]}, timeout=300),
                             timeout=320)
    assert ex == [{"type": "exit", "code": 0}], (ex, err)
    assert len(out) == size and hashlib.sha256(out).hexdigest() == want
    run(run_exec(env, {"argv": ["rm", "/tmp/big"]}))


def test_refused_requests(env):
    async def go():
        ws = await connect(env)
        c, _ = await hello(ws)
        for bad, code in (("not json", "BadRequest"), ('{"type":"bogus"}', "BadRequest"),
                          ('{"type":"resize","cols":80,"rows":24}', "BadState"),
                          ('{"type":"detach"}', "BadState")):
            await c.ws.send(bad)  # TEXT
            err = await c.text()
            assert err["type"] == "error" and err["code"] == code and err["message"], (bad, err)
        await c.send(b"keys before a request")
        assert (await c.text())["code"] == "BadState"
        await c.send({"type": "open", "cols": 0, "rows": 24})
        err = await c.text()
        assert err["type"] == "error" and err["code"] == "BadRequest", err
        code, _ = await c.closed()
        assert code == 1008
        for req in ({"type": "attach", "session_id": "00000000-0000-4000-8000-000000000000"},
                    {"type": "attach", "session_id": 5},
                    {"type": "exec", "argv": []},
                    {"type": "exec", "argv": ["x"], "command": "y"}):
            ws = await connect(env)
            c, _ = await hello(ws)
            await c.send(req)
            err = await c.text()
            assert err["type"] == "error", (req, err)
            if req.get("session_id") == "00000000-0000-4000-8000-000000000000":
                assert err["code"] == "NoSuchSession", err
            assert (await c.closed())[0] == 1008, req
        # A program that cannot start.
        ws = await connect(env)
        c, _ = await hello(ws)
        await c.send({"type": "exec", "argv": ["/nonexistent/prog"]})
        err = await c.text()
        assert err["type"] == "error" and err["code"] == "ExecFailed", err
        assert (await c.closed())[0] == 1008
    run(go())


def test_slow_viewer_gets_dropped(env):
    total = 16 * 1024 * 1024  # well past 4 MiB + the conn queue + kernel buffers

    async def go():
        ws, a, sid = await open_shell(env)
        slow = await connect(env, rcvbuf=16384)
        s, _ = await hello(slow)
        await s.send({"type": "attach", "session_id": sid, "mode": "ro"})
        att = await s.text()
        assert att["type"] == "attached" and att["offset"] == 0, att
        # The slow viewer stops reading; the fast one and the shell go on.
        await a.send("head -c %d /dev/zero | tr '\\0' Z; echo; echo fast-$((5*5))\n" % total)
        await a.expect(rb"fast-25", timeout=240)
        assert not [t for t in a.texts if t["type"] == "dropped"], a.texts
        assert a.all.count(b"Z") >= total
        await a.send("echo still-$((6*6))\n")
        await a.expect(rb"still-36")
        # Now the slow one reads: gap markers, then the live end.
        deadline = time.monotonic() + 120
        while not any(t["type"] == "dropped" for t in s.texts):
            await s.recv_one(deadline)
        await s.expect(rb"still-36", timeout=60)
        await a.send("exit\n")
        assert await a.closed() == (1000, "shell exited")
        assert await s.closed() == (1000, "shell exited")
        dropped = [t["bytes"] for t in s.texts if t["type"] == "dropped"]
        assert all(d > 0 for d in dropped)
        # Offsets add up: what the slow viewer got plus what it skipped is the stream.
        assert s.offset + sum(dropped) == a.offset, (s.offset, dropped, a.offset)
        assert a.all.endswith(bytes(s.all[-1000:]))
    run(go(), timeout=400)


def test_compat_client_is_not_v1(env):
    async def go():
        async with connect(env, v1=False) as ws:
            assert ws.subprotocol == "lambda-microvms"
            c = V1(ws)
            assert (await c.text())["type"] == "session_init"
            await ws.send('{"type":"ping"}')  # TEXT, a v1 message: unknown to the compatible core
            err = await c.text()
            assert err["type"] == "error" and "code" not in err, err
            await c.send("exit\n")
            assert await c.closed() == (1000, "shell exited")
    run(go())


def test_slow_compat_client_is_closed_1013(env):
    """The compatible core has no `dropped` marker: a client that falls more
    than its bound behind is closed with 1013 (PROTOCOL.md 2.2), and the
    shell itself never waited for it (a v1 viewer sees the output to the end)."""
    total = 16 * 1024 * 1024

    async def go():
        ws = await connect(env, v1=False, rcvbuf=16384)
        slow = V1(ws)
        init = await slow.text()
        assert init["type"] == "session_init", init
        h, _ = await hello(await connect(env))
        await h.send({"type": "attach", "session_id": init["session_id"], "mode": "ro"})
        assert (await h.text())["type"] == "attached"
        await slow.send("head -c %d /dev/zero | tr '\\0' Z; echo; echo end-$((7*7))\n" % total)
        await h.expect(rb"end-49", timeout=240)
        # Only now does the slow client read: what was queued, then the close.
        assert await slow.closed(timeout=120) == (1013, "viewer too slow")
        assert slow.all.count(b"Z") < total
    run(go(), timeout=400)


def test_slow_compat_close_survives_client_chatter(env):
    """The CLOSE owed to a slow client reaches it even when the client keeps
    sending while it catches up (a PING before every read here; websockets'
    keepalive does the same, slower): hearthd reads the client until its CLOSE
    comes back instead of hanging up on unread input, which would make the
    kernel reset the connection and drop the queued tail, CLOSE and all."""
    total = 16 * 1024 * 1024
    w = shell_raw(env, rcvbuf=16384)
    try:
        async def go():
            h, _ = await hello(await connect(env))
            await h.send({"type": "attach", "session_id": w.texts[0]["session_id"],
                          "mode": "ro"})
            assert (await h.text())["type"] == "attached"
            w.send(0x2, b"head -c %d /dev/zero | tr '\\0' Z; echo; echo end-$((7*7))\n" % total)
            await h.expect(rb"end-49", timeout=240)
        run(go(), timeout=300)
        deadline = time.monotonic() + 120
        n = 0
        while True:
            try:
                w.send(0x9, b"p%d" % n)
            except (ConnectionError, ssl.SSLError) as e:
                raise AssertionError("connection reset before the CLOSE: %r" % e) from None
            n += 1
            op, payload = w.frame(max(0.1, deadline - time.monotonic()))
            if op == 0x8:
                break
        assert (struct.unpack(">H", payload[:2])[0], payload[2:]) == (1013, b"viewer too slow")
        w.send(0x8, payload[:2])  # the handshake's answer: then hearthd hangs up
        assert w.hung_up()
    finally:
        w.close()


def test_keepalive_pings_then_idle_close(env):
    """A client that never sends a frame (not even PONG) gets PINGs, then close
    1001, then (never answering it) the hang-up."""
    req = ("GET / HTTP/1.1\r\nHost: %s.localhost:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Protocol: hearth.v1, lambda-microvms.authentication.%s\r\n\r\n"
           % (env.vm_id, env.iport, env.token()))
    with socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT) as raw:
        with ssl_ctx(env).wrap_socket(raw, server_hostname="localhost") as s:
            s.settimeout(120)  # the close comes after 60 s of silence
            s.sendall(req.encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                assert chunk
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            assert head.split()[1] == b"101" and b"Sec-WebSocket-Protocol: hearth.v1" in head
            # One request (masked, as a client must), then silence.
            msg = json.dumps({"type": "open", "cols": 80, "rows": 24, "grace": 0}).encode()
            key = os.urandom(4)
            s.sendall(bytes([0x81, 0x80 | len(msg)]) + key +
                      bytes(b ^ key[i % 4] for i, b in enumerate(msg)))
            ops = []
            while True:
                op, payload, buf = read_frame(s, buf)
                ops.append(op)
                if op == 0x8:
                    break
            assert ops[0] == 0x1 and ops.count(0x9) >= 2, ops  # hello, ..., PINGs
            assert struct.unpack(">H", payload[:2])[0] == 1001
            assert payload[2:] == b"keepalive timeout"
            # No answering CLOSE from a silent client: hearthd hangs up 30 s
            # after its own (PROTOCOL.md 2.2), not before, not never.
            t0 = time.monotonic()
            s.settimeout(60)
            try:
                while s.recv(65536):
                    pass
            except (ConnectionError, ssl.SSLError):
                pass
            assert 25 < time.monotonic() - t0 < 45, time.monotonic() - t0


def test_suspend_ends_shells(env):
    """Last in the module: the VM stays suspended."""
    async def go():
        ws, c, sid = await open_shell(env)
        await c.send("echo up\n")
        await c.expect(rb"up\r")
        st, _, doc = await asyncio.get_running_loop().run_in_executor(
            None, env.hd.call, "POST", "/microvms/%s/suspend" % env.vm_id)
        assert st == 200, doc
        code, reason = await c.closed(timeout=120)
        assert code == 1011, (code, reason)
        errs = [t for t in c.texts if t["type"] == "error"]
        assert errs and errs[0]["code"] == "ShellEnded", c.texts
    run(go(), timeout=180)


async def open_shell_then_kill(e):
    """Open a shell, learn its pid, kill -9 hearthd; the pid."""
    ws, c, sid = await open_shell(e)
    await c.send("echo pid-$$-saved\n")
    pid = (await c.expect(rb"pid-(\d+)-saved\r")).group(1).decode()
    e.hd.kill9()
    return pid


async def fresh_shell(e, then=None):
    """A new shell answers (then `then(c)`) and exits cleanly."""
    ws, c, sid = await open_shell(e)
    await c.send("echo fresh\n")
    await c.expect(rb"fresh\r")
    if then:
        await then(c)
    await c.send("exit\n")
    assert await c.closed() == (1000, "shell exited")


def test_a_dead_hearthds_shells_end_with_it(tmp_path):
    """hearthd reaches the agent on its direct stream (PROTOCOL.md 1.9), not
    through the keeper's relay: kill -9 of hearthd closes that stream, and the
    agent ends the shells opened on it at once, with no hearthd running (on
    the relay they would live on as orphans). A new hearthd serves new shells."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        hd.wait_ingress()
        e = Env(hd, hd.ingress_port, hd.run_running(BOOT)["microvmId"])
        vmdir = os.path.join(hd.state_dir, "vms", e.vm_id)
        assert os.path.exists(os.path.join(vmdir, "run", "direct.sock"))

        pid = run(open_shell_then_kill(e))
        # Ask through the keeper's relay, which outlives hearthd.
        with Agent.connect_unix(os.path.join(vmdir, "agent.sock"), timeout=10) as a:
            a.hello(timeout=10)
            assert not [c for c in a.list_channels() if c["pid"] == int(pid)]
            deadline = time.monotonic() + 30
            while a.run("kill -0 %s" % pid, timeout=30)[1] == 0:
                assert time.monotonic() < deadline, "shell %s outlived hearthd" % pid
                time.sleep(0.2)
        hd.start()
        hd.wait_ingress()

        run(fresh_shell(e))
    finally:
        hd.close()



def test_idle_timer_with_the_direct_link(tmp_path):
    """hearthd's link to the agent stays open while the VM runs: traffic on it
    keeps the VM awake, an idle open link does not, and after the idle
    suspend the next shell resumes the VM on a new link."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    try:
        hd.wait_ingress()
        e = Env(hd, hd.ingress_port, hd.run_running(
            BOOT, idlePolicy={"maxIdleDurationSeconds": 3, "suspendedDurationSeconds": 600,
                              "autoResumeEnabled": True})["microvmId"])

        async def busy_then_exit():
            ws, c, sid = await open_shell(e)
            end = time.monotonic() + 8
            n = 0
            while time.monotonic() < end:
                n += 1
                await c.send("echo tick-%d-$((%d+1))\n" % (n, n))
                await c.expect(("tick-%d-%d" % (n, n + 1)).encode())
                st, _, doc = await asyncio.get_event_loop().run_in_executor(
                    None, hd.get, e.vm_id)
                assert doc["state"] == "RUNNING", doc
                await asyncio.sleep(0.5)
            await c.send("exit\n")
            assert await c.closed() == (1000, "shell exited")
        run(busy_then_exit(), timeout=120)
        doc = hd.wait_state(e.vm_id, ("SUSPENDED", "TERMINATED"), 120)
        assert doc["state"] == "SUSPENDED" and "without endpoint traffic" in doc["stateReason"], doc
        run(fresh_shell(e), timeout=240)
        assert hd.get(e.vm_id)[2]["state"] == "RUNNING"
    finally:
        hd.close()


OLD_AGENT = """#!/bin/bash
# hearth-agent as built before the direct stream: no --direct-listen.
a=()
while (($#)); do
    if [ "$1" = --direct-listen ]; then shift 2; continue; fi
    a+=("$1"); shift
done
exec %s "${a[@]}"
"""


def old_agent(tmp_path):
    """OLD_AGENT written to tmp_path, for HEARTH_HOST_AGENT."""
    agent = tmp_path / "old-agent"
    agent.write_text(OLD_AGENT % os.path.join(BUILD, "bin", "hearth-agent"))
    agent.chmod(0o755)
    return str(agent)


async def exec_cat(e):
    """A v1 exec of `cat` holding its stdin open: one agent channel."""
    ws = await connect(e)
    c, _ = await hello(ws)
    await c.send({"type": "exec", "argv": ["cat"], "stdin": True})
    return c


@pytest.mark.parametrize("direct,limit", [(True, 256), (False, 60)])
def test_channels_per_vm_limit(tmp_path, direct, limit):
    """A VM's agent link takes 256 channels on the direct stream and 60
    through the relay (an agent without the stream); the next one gets
    AgentUnavailable and close 1011, and a freed channel can be used again.
    Execs of cat on the host engine keep hundreds of channels cheap."""
    env = {}
    if not direct:
        env["HEARTH_HOST_AGENT"] = old_agent(tmp_path)
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--engine", "host"], env=env).start()
    try:
        hd.wait_ingress()
        e = Env(hd, hd.ingress_port, hd.run_running(BOOT)["microvmId"])
        assert os.path.exists(os.path.join(hd.state_dir, "vms", e.vm_id, "run",
                                           "direct.sock")) == direct

        async def go():
            held = [await exec_cat(e)]
            assert (await held[0].text())["type"] == "exec_started"
            while len(held) < limit:
                more = await asyncio.gather(*[exec_cat(e) for _ in
                                              range(min(32, limit - len(held)))])
                for c in more:
                    st = await c.text()
                    assert st["type"] == "exec_started", (len(held), st)
                held += more
            over = await exec_cat(e)
            err = await over.text()
            assert err["type"] == "error" and err["code"] == "AgentUnavailable", err
            assert (await over.closed())[0] == 1011
            await held[-1].send({"type": "eof"})
            assert await held.pop().closed() == (1000, "exec finished")
            again = await exec_cat(e)
            assert (await again.text())["type"] == "exec_started"
            for c in held + [again]:
                await c.ws.close()
        run(go(), timeout=600)
    finally:
        hd.close()


def test_without_a_direct_stream_hearthd_uses_the_relay(tmp_path):
    """An agent that does not announce the direct stream (HELLO flag 0x0002),
    as one from an older image: the keeper removes the direct socket and
    hearthd goes through the relay, where a dead hearthd's shells stay as
    orphans until the next hearthd's link closes them (PROTOCOL.md 2.3)."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--engine", "host"],
                 env={"HEARTH_HOST_AGENT": old_agent(tmp_path)}).start()
    try:
        hd.wait_ingress()
        e = Env(hd, hd.ingress_port, hd.run_running(BOOT)["microvmId"])
        vmdir = os.path.join(hd.state_dir, "vms", e.vm_id)
        assert not os.path.exists(os.path.join(vmdir, "run", "direct.sock"))

        def hearthd_orphans():
            with Agent.connect_unix(os.path.join(vmdir, "agent.sock"), timeout=10) as a:
                a.hello(timeout=10)
                return [c for c in a.list_channels() if 0x40000000 <= c["id"] <= 0x7fffffff]

        pid = run(open_shell_then_kill(e))
        assert [o["pid"] for o in hearthd_orphans()] == [int(pid)]
        hd.start()
        hd.wait_ingress()

        async def orphans_reaped(c):
            deadline = time.monotonic() + 30
            while hearthd_orphans():
                assert time.monotonic() < deadline, hearthd_orphans()
                await asyncio.sleep(0.2)
            await c.send("kill -0 %s 2>/dev/null && echo old-alive || echo old-gone\n" % pid)
            await c.expect(rb"old-gone\r")
        run(fresh_shell(e, orphans_reaped))
    finally:
        hd.close()