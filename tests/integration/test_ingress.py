"""The HTTPS ingress: the shell WebSocket's compatible core against a real
hearthd and a real busybox VM (spec/shell-websocket.md), driven by Python
`websockets` (Debian's 10.x, asyncio API). Every wait has a deadline."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import time

import pytest
import websockets

from hearthd_harness import Hearthd, busybox_images, free_port, wait_port

BOOT = 300   # the first run builds the image snapshot (boot under TCG)
WAIT = 20    # one shell round trip, generous for TCG




def sanitizer_reports(hd):
    """AddressSanitizer/UBSan findings in hearthd's log (SANITIZE builds)."""
    with open(hd.log_path, "rb") as f:
        text = f.read().decode(errors="replace")
    return re.findall(r"(?m)^.*(?:Sanitizer|runtime error).*$", text)


class Env:
    def __init__(self, hd, iport, vm_id):
        self.hd, self.iport, self.vm_id = hd, iport, vm_id
        self.ca = os.path.join(hd.state_dir, "tls", "ca.pem")
        self.key = open(os.path.join(hd.state_dir, "token.key"), "rb").read()

    def token(self, vm_id=None, path="shell-auth-token"):
        body = {"expirationInMinutes": 5}
        if path == "auth-token":
            body["allowedPorts"] = [{"port": 8080}]
        st, _, doc = self.hd.call("POST", "/microvms/%s/%s" % (vm_id or self.vm_id, path), body)
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ingress"))
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root),
                 extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        assert doc["endpoint"] == "https://%s.localhost:%d" % (doc["microvmId"], hd.ingress_port)
        yield Env(hd, hd.ingress_port, doc["microvmId"])
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


def ssl_ctx(env):
    """Trust only hearthd's own CA. The name checked is "localhost": OpenSSL does
    not match the certificate's *.localhost against a one-label parent."""
    ctx = ssl.create_default_context(cafile=env.ca)
    return ctx


def connect(env, token=None, vm_id=None, headers=None):
    protos = ["lambda-microvms"]
    if token:
        protos.append("lambda-microvms.authentication." + token)
    uri = "wss://%s.localhost:%d/" % (vm_id or env.vm_id, env.iport)
    return websockets.connect(uri, ssl=ssl_ctx(env), host="127.0.0.1", port=env.iport,
                              server_hostname="localhost", subprotocols=protos,
                              extra_headers=headers or {}, open_timeout=WAIT,
                              close_timeout=5, max_size=None)


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Term:
    """Collects BINARY output and TEXT frames of one shell session."""

    def __init__(self, ws):
        self.ws, self.out, self.texts = ws, b"", []
        self.all = b""  # everything, for "never typed into the shell" checks

    async def recv_one(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out; output so far: %r texts %r" % (self.out[-2000:],
                                                                          self.texts))
        m = await asyncio.wait_for(self.ws.recv(), left)
        if isinstance(m, bytes):
            self.out += m
            self.all += m
        else:
            self.texts.append(json.loads(m))

    async def expect(self, pattern, timeout=WAIT):
        """Wait until pattern (bytes regex) appears in the output after the mark."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out)
            if m:
                self.out = self.out[m.end():]
                return m
            await self.recv_one(deadline)

    async def expect_text(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not self.texts:
            await self.recv_one(deadline)
        return self.texts.pop(0)

    async def send(self, s):
        await self.ws.send(s.encode() if isinstance(s, str) else s)


def test_shell_session(env):
    async def go():
        async with connect(env, env.token()) as ws:
            assert ws.subprotocol == "lambda-microvms"
            t = Term(ws)
            init = await t.expect_text()
            assert init["type"] == "session_init"
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                r"[0-9a-f]{12}", init["session_id"])
            await ws.send(json.dumps({"type": "resize", "cols": 101, "rows": 37}))
            await t.send("echo hi-$((6*7))\n")
            await t.expect(rb"hi-42")
            await t.send("stty size\n")
            await t.expect(rb"37 101")
            # Malformed and unknown control frames: an error frame, never keystrokes.
            for bad in ("echo INJECTED-$((1+1))\r", '{"type":"bogus"}',
                        '{"type":"resize","cols":"x","rows":1}'):
                await ws.send(bad)
                err = await t.expect_text()
                assert err["type"] == "error" and err["message"], err
            await t.send("echo after-$((2+3))\n")
            await t.expect(rb"after-5")
            assert b"INJECTED" not in t.all and b"bogus" not in t.all, t.all
            # ^C reaches the foreground job (a 30 s sleep ends well before its time).
            await t.send("echo sleeping-$((3*3)); sleep 30\n")
            await t.expect(rb"sleeping-9")
            await asyncio.sleep(1)
            await t.send(b"\x03")
            await t.send("echo woke-$((4*4))\n")
            await t.expect(rb"woke-16", timeout=15)
            # exit: close 1000 "shell exited".
            await t.send("exit\n")
            deadline = time.monotonic() + WAIT
            with pytest.raises(websockets.exceptions.ConnectionClosedOK):
                while True:
                    await t.recv_one(deadline)
            assert ws.close_code == 1000 and ws.close_reason == "shell exited"
    run(go())


def test_header_auth_and_shell_path(env):
    async def go():
        uri = "wss://%s.localhost:%d/shell" % (env.vm_id, env.iport)
        async with websockets.connect(uri, ssl=ssl_ctx(env), host="127.0.0.1", port=env.iport,
                                      server_hostname="localhost",
                                      subprotocols=["lambda-microvms"],
                                      extra_headers={"X-aws-proxy-auth": env.token()},
                                      open_timeout=WAIT, close_timeout=5) as ws:
            t = Term(ws)
            assert (await t.expect_text())["type"] == "session_init"
            await t.send("echo hdr-$((5*5)); exit\n")
            await t.expect(rb"hdr-25")
    run(go())


def sign(key, kind, vm_id, gen, issued, expires):
    """A token in hearth's format (protocol/token.h), signed with the installation key."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    p = bytes([1, kind, len(vm_id)]) + vm_id.encode() + struct.pack(">IQQB", gen, issued,
                                                                      expires, 0) + os.urandom(8)
    signed = "hth1." + b64(p)
    return signed + "." + b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())


def raw_upgrade(env, vm_id, token=None, header=None):
    """One upgrade request over TLS; returns (status, body)."""
    ctx = ssl_ctx(env)
    protos = "lambda-microvms"
    if token:
        protos += ", lambda-microvms.authentication." + token
    req = ("GET / HTTP/1.1\r\nHost: %s.localhost:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\n"
           % (vm_id, env.iport, protos))
    if header:
        req += "X-aws-proxy-auth: %s\r\n" % header
    with socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall((req + "\r\n").encode())
            data = b""
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and head.split()[1] == b"101":
                    break
                if sep:
                    m = re.search(rb"content-length: *(\d+)", head, re.I)
                    if m and len(body) >= int(m.group(1)):
                        break
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# ---- raw WebSocket frames: what websockets never sends ----

def ws_frame(op, payload=b"", fin=True):
    """One client frame, masked as RFC 6455 wants of clients."""
    key = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(s, buf):
    """One server frame from a raw TLS socket: (opcode, payload, rest of buf)."""
    while True:
        if len(buf) >= 2:
            n, off = buf[1] & 0x7f, 2
            if n == 126 and len(buf) >= 4:
                n, off = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127 and len(buf) >= 10:
                n, off = struct.unpack(">Q", buf[2:10])[0], 10
            if n < 126 or off > 2:
                if len(buf) >= off + n:
                    return buf[0] & 0x0f, buf[off:off + n], buf[off + n:]
        try:
            chunk = s.recv(65536)
        except (ConnectionError, ssl.SSLError) as e:
            raise AssertionError("connection reset before a CLOSE frame: %r" % e) from None
        assert chunk, "connection closed without a CLOSE frame"
        buf += chunk


class RawWS:
    """A WebSocket on a raw TLS socket, for frames a library would not send."""

    def __init__(self, env, path="/", v1=False, token=None, rcvbuf=None, vm_id=None):
        protos = (["hearth.v1"] if v1 else []) + [
            "lambda-microvms", "lambda-microvms.authentication." + (token or env.token())]
        req = ("GET %s HTTP/1.1\r\nHost: %s.localhost:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Protocol: %s\r\n\r\n"
               % (path, vm_id or env.vm_id, env.iport, ", ".join(protos)))
        raw = socket.socket()
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(WAIT)
        raw.connect(("127.0.0.1", env.iport))
        self.s = ssl_ctx(env).wrap_socket(raw, server_hostname="localhost")
        self.s.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            assert chunk, buf
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        self.status = int(head.split()[1])
        self.head = head
        self.texts = []

    def close(self):
        self.s.close()

    def send(self, op, payload=b"", fin=True):
        self.s.sendall(ws_frame(op, payload, fin))

    def frame(self, timeout=WAIT):
        self.s.settimeout(timeout)
        op, payload, self.buf = read_frame(self.s, self.buf)
        if op == 0x1:
            self.texts.append(json.loads(payload))
        return op, payload

    def until_close(self, timeout=WAIT):
        """Frames up to the server's CLOSE: (code or None, reason bytes, data ops seen)."""
        deadline = time.monotonic() + timeout
        ops = []
        while True:
            op, payload = self.frame(max(0.1, deadline - time.monotonic()))
            if op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:], ops
            ops.append(op)

    def hung_up(self, timeout=WAIT):
        """True once the server closes the TCP connection (the CLOSE handshake is over)."""
        self.s.settimeout(timeout)
        try:
            while self.s.recv(65536):
                pass
        except (ConnectionError, ssl.SSLError):
            pass
        except socket.timeout:
            return False
        return True


def shell_raw(env, **kw):
    """A compatible-core shell on a raw socket, past its session_init."""
    w = RawWS(env, **kw)
    assert w.status == 101, w.head
    op, payload = w.frame()
    assert op == 0x1 and json.loads(payload)["type"] == "session_init", payload
    return w


# Close payloads a client may not send (RFC 6455 5.5.1, 7.4) and the answer owed.
BAD_CLOSES = [(struct.pack(">H", c), 1002) for c in (0, 999, 1004, 1005, 1006, 1015, 1016,
                                                     2000, 2999, 5000, 65535)] + [
    (b"\x03", 1002),                                   # one byte: half a code
    (struct.pack(">H", 1000) + b"bye \xff", 1007),      # a reason that is not UTF-8
    (struct.pack(">H", 1000) + b"\xed\xa0\x80", 1007),  # a surrogate
]


def test_close_codes_follow_rfc6455(env):
    """A CLOSE with a code no endpoint may send is answered 1002, one whose reason
    is not UTF-8 1007 (never the client's own code echoed back); valid codes are
    echoed, an empty CLOSE gets an empty one. No error frame comes first."""
    for payload, want in BAD_CLOSES:
        w = shell_raw(env)
        try:
            w.send(0x8, payload)
            code, reason, ops = w.until_close()
            assert code == want, (payload, code, reason)
            assert 0x1 not in ops and w.texts[1:] == [], (payload, ops, w.texts)
            assert w.hung_up(), payload
        finally:
            w.close()
    for code in (1000, 1001, 3000, 4999):
        w = shell_raw(env)
        try:
            w.send(0x8, struct.pack(">H", code) + "fin \u00e9".encode())
            assert w.until_close()[0] == code
        finally:
            w.close()
    w = shell_raw(env)
    try:
        w.send(0x8)
        op, payload = w.frame()
        while op != 0x8:
            op, payload = w.frame()
        assert payload == b""  # no code came, none goes back
    finally:
        w.close()


def test_broken_frames_are_closed_1002_and_1009(env):
    """A frame RFC 6455 forbids is answered 1002, one over 64 KiB 1009, each a
    CLOSE with no error frame before it. Where framing is lost hearthd cannot
    read the client's answer, so it hangs up on its own a few seconds after its
    CLOSE; otherwise it waits for the answer and hangs up when it comes."""
    unmasked = bytes([0x82, 3]) + b"abc"
    cases = [(unmasked, 1002, True), (bytes([0x83, 0x80]) + os.urandom(4), 1002, True),
             (ws_frame(0x9, b"p", fin=False), 1002, True),        # a fragmented PING
             (ws_frame(0x2, b"z" * 70000), 1009, True),
             (ws_frame(0x0, b"x"), 1002, False)]                   # a continuation of nothing
    for data, want, lost in cases:
        w = shell_raw(env)
        try:
            w.s.sendall(data)
            code, reason, ops = w.until_close()
            assert code == want, (data[:4], code, reason)
            assert w.texts[1:] == [], w.texts
            t0 = time.monotonic()
            if not lost:
                w.send(0x8, struct.pack(">H", code))
            assert w.hung_up(timeout=20), data[:4]
            assert time.monotonic() - t0 < (12 if lost else 3), (data[:4], time.monotonic() - t0)
        finally:
            w.close()


def test_text_that_is_not_utf8_is_closed_1007(env):
    """An invalid UTF-8 TEXT message fails the connection with 1007 (RFC 6455 8.1),
    whether whole, split over fragments, or cut short at its end; a valid
    character split between two fragments is fine."""
    bad = [
        [(0x1, b'{"type":"resize","cols":80,"rows":24,"x":"\xff"}', True)],
        [(0x1, b'{"type":"x","y":"\xc3', False), (0x0, b'\x28"}', True)],  # bad continuation
        [(0x1, b'{"type":"x","y":"\xe2\x82', True)],                   # cut short
        [(0x1, b"\xc0\xaf", True)],                                     # overlong '/'
    ]
    for frames in bad:
        w = shell_raw(env)
        try:
            for op, payload, fin in frames:
                w.send(op, payload, fin)
            code, reason, ops = w.until_close()
            assert code == 1007, (frames, code, reason)
            assert w.texts[1:] == [], w.texts  # a CLOSE, no error frame
        finally:
            w.close()
    w = shell_raw(env)
    try:
        msg = '{"type":"resize","cols":91,"rows":33,"note":"\u00e9\u20ac"}'.encode()
        cut = msg.index(b"\xe2") + 1
        w.send(0x1, msg[:cut], fin=False)
        w.send(0x0, msg[cut:])
        w.send(0x2, b"stty size; echo utf-$((3*3))\n")
        out = b""
        deadline = time.monotonic() + WAIT
        while b"utf-9" not in out:
            op, payload = w.frame(max(0.1, deadline - time.monotonic()))
            assert op != 0x8, payload
            if op == 0x2:
                out += payload
        assert b"33 91" in out, out
        assert not [t for t in w.texts if t["type"] == "error"], w.texts
    finally:
        w.close()


def test_shell_paths_are_plain(env):
    """The shell is at / and /shell. A path that could mean something else once
    decoded (%00, an encoded '/', dot or empty segments, ';' parameters) is
    refused 400 before anything decides on it; another plain path is 404."""
    tok = env.token()
    for path in ("/%00", "/shell%00", "/%2F", "/shell%2f", "/%2e/shell", "/./shell",
                 "/shell/..", "/x/../shell", "//shell", "//", "/shell;x", "/%zz", "/%5Cshell"):
        w = RawWS(env, path=path, token=tok)
        try:
            assert w.status == 400, (path, w.head)
        finally:
            w.close()
    w = RawWS(env, path="/other", token=tok)
    try:
        assert w.status == 404, w.head
    finally:
        w.close()
    for path in ("/", "/shell"):
        w = RawWS(env, path=path, token=tok)
        try:
            assert w.status == 101, (path, w.head)
        finally:
            w.close()


def test_refused_tokens_look_alike(env):
    now = int(time.time())
    good = env.token()
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    cases = {
        "forged": (env.vm_id, forged),
        "other key": (env.vm_id, sign(b"k" * 32, 1, env.vm_id, 1, now - 10, now + 300)),
        "expired": (env.vm_id, sign(env.key, 1, env.vm_id, 1, now - 600, now - 60)),
        "older run": (env.vm_id, sign(env.key, 1, env.vm_id, 0, now - 10, now + 300)),
        "other VM": (env.vm_id, sign(env.key, 1, "mvm-0000000000000000", 1, now - 10,
                                     now + 300)),
        "unknown VM": ("mvm-0000000000000000", sign(env.key, 1, "mvm-0000000000000000", 1,
                                                    now - 10, now + 300)),
        "token of this VM at another host": ("mvm-0000000000000000", good),
    }
    answers = {name: raw_upgrade(env, vm, tok) for name, (vm, tok) in cases.items()}
    assert set(answers.values()) == {answers["unknown VM"]}, answers
    assert answers["unknown VM"][0] == 403
    assert raw_upgrade(env, env.vm_id, None, header=forged) == answers["unknown VM"]
    assert raw_upgrade(env, env.vm_id)[0] == 401
    # The good token itself is accepted (101), so the refusals above are about the token.
    assert raw_upgrade(env, env.vm_id, good)[0] == 101
    # A proxy token never opens a shell: the upgrade goes to the app proxy instead.
    assert raw_upgrade(env, env.vm_id, env.token(path="auth-token"))[0] != 101

    async def refused():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            async with connect(env, cases["expired"][1]):
                pass
        assert e.value.status_code == 403
    run(refused())


def suspended_vm(env, auto_resume):
    return env.hd.run_suspended(auto_resume, env.token, BOOT)


def test_shell_resumes_a_suspended_vm(env):
    vid, tok = suspended_vm(env, True)

    async def go():
        async with connect(env, tok, vm_id=vid) as ws:
            t = Term(ws)
            assert (await t.expect_text())["type"] == "session_init"
            await t.send("echo resumed-$((7*7)); exit\n")
            await t.expect(rb"resumed-49", timeout=120)
    run(go(), timeout=180)
    assert env.hd.get(vid)[2]["state"] == "RUNNING"
    env.hd.call("DELETE", "/microvms/" + vid)


def test_no_auto_resume_is_refused_clearly(env):
    vid, tok = suspended_vm(env, False)
    status, body = raw_upgrade(env, vid, tok)
    assert status == 409, body
    msg = json.loads(body)["message"]
    assert "SUSPENDED" in msg and "autoResume" in msg, msg
    assert env.hd.get(vid)[2]["state"] == "SUSPENDED"
    env.hd.call("DELETE", "/microvms/" + vid)


def test_slow_client_gets_all_output(env):
    """Output beyond the agent window while the client does not read: the shell
    waits (nothing dropped, nothing buffered without bound), then all of it arrives."""
    total = 2 * 1024 * 1024

    async def go():
        async with connect(env, env.token()) as ws:
            t = Term(ws)
            assert (await t.expect_text())["type"] == "session_init"
            await t.send("head -c %d /dev/zero | tr '\\0' Z; echo; echo done-$((8*8))\n" % total)
            await asyncio.sleep(3)  # not reading: the window fills and the shell waits
            await t.expect(rb"done-64", timeout=90)
            assert t.all.count(b"Z") >= total, t.all.count(b"Z")
            await t.send("exit\n")
    run(go(), timeout=150)


def test_own_ca_files(env):
    d = os.path.join(env.hd.state_dir, "tls")
    for name, mode in (("ca.key", 0o600), ("server.key", 0o600), ("ca.pem", 0o644),
                       ("server.pem", 0o644)):
        assert os.stat(os.path.join(d, name)).st_mode & 0o777 == mode, name


def test_bring_your_own_certificate(tmp_path):
    import subprocess
    cert, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=byo-test", "-days", "1",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    iport = free_port()
    images = str(tmp_path / "images")
    os.makedirs(images)
    hd = Hearthd(str(tmp_path / "state"), images,
                 extra=["--ingress-listen", "127.0.0.1:%d" % iport, "--tls-cert", cert,
                        "--tls-key", key]).start()
    try:
        wait_port(iport)
        ctx = ssl.create_default_context(cafile=cert)
        with socket.create_connection(("127.0.0.1", iport), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                assert dict(x[0] for x in s.getpeercert()["subject"])["commonName"] == "byo-test"
        assert not os.path.exists(os.path.join(hd.state_dir, "tls"))
    finally:
        hd.close()


def test_shell_traffic_keeps_vm_awake(env):
    st, _, vm = env.hd.run(idlePolicy={"maxIdleDurationSeconds": 3,
                                       "suspendedDurationSeconds": 600,
                                       "autoResumeEnabled": False})
    assert st == 200, vm
    vid = vm["microvmId"]
    assert env.hd.wait_state(vid, ("RUNNING", "TERMINATED"), BOOT)["state"] == "RUNNING"

    async def go():
        async with connect(env, env.token(vid), vm_id=vid) as ws:
            t = Term(ws)
            assert (await t.expect_text())["type"] == "session_init"
            end = time.monotonic() + 7
            i = 0
            while time.monotonic() < end:
                i += 1
                await t.send("echo tick-%d-$((1+%d))\n" % (i, i))
                await t.expect(rb"tick-%d-%d" % (i, i + 1))
                assert env.hd.get(vid)[2]["state"] == "RUNNING"
                await asyncio.sleep(0.5)
            await t.send("exit\n")
    run(go())
    doc = env.hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), 120)
    assert doc["state"] == "SUSPENDED" and "without endpoint traffic" in doc["stateReason"], doc
    env.hd.call("DELETE", "/microvms/" + vid)


def tls_exchange(env, data):
    """Raw bytes to the ingress over TLS; everything it sends until it closes."""
    with socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT) as raw:
        with ssl_ctx(env).wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(data)
            got = b""
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    return got
                got += chunk
            raise AssertionError("the ingress kept the connection open: %r" % got[:200])


@pytest.mark.parametrize("data, status, etype", [
    (b"garbage\r\n\r\n", 400, "ValidationException"),
    (b"GET / HTTP/1.1\nHost: localhost\n\n", 400, "ValidationException"),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431,
     "RequestHeaderFieldsTooLargeException"),
])
def test_refusals_have_the_aws_error_shape_and_close(env, data, status, etype):
    """Framing errors on the endpoint: the API's error shape (x-amzn-ErrorType and
    a JSON message), Connection: close, and the connection ends."""
    head, _, body = tls_exchange(env, data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert int(lines[0].split()[1]) == status, head
    h = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    assert h.get("x-amzn-errortype") == etype, head
    assert h.get("connection") == "close", head
    assert h.get("content-type") == "application/json", head
    assert json.loads(body)["message"], body
