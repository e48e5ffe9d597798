"""HTTP/2 to the application (PROTOCOL.md 3.4, session/h2up.c): a request with a
gRPC content type or `x-aws-proxy-force-h2: true` goes to the app as h2c with
prior knowledge over one agent tcp channel per client connection. Real hearthd
on the host engine (the agent is a host process, so the "guest" apps are a
python3-grpcio server and Debian's nghttpd on loopback ports); clients are
python3-h2 speaking gRPC's framing by hand over prior-knowledge h2 on TLS."""
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
from concurrent import futures

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

from conftest import npm_installed
from grpc_app import SVC, Seen, handlers
from h2client import H2
from hearthd_harness import Hearthd, busybox_images, free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.join(HERE, "..", "conformance")

BIG = 8 * 1024 * 1024


def raw_h2_app(lsock):
    """An h2c app on python3-h2: /rst resets its stream (HTTP_1_1_REQUIRED),
    /echo-trailers answers with the request's trailers as its own,
    /goaway answers and then sends GOAWAY, anything else answers "ok"."""
    def serve(sock):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if isinstance(ev, h2.events.TrailersReceived):
                    # /echo-trailers: the request's trailers come back as the
                    # response's.
                    conn.send_headers(ev.stream_id, [(":status", "200")])
                    conn.send_data(ev.stream_id, b"got trailers")
                    conn.send_headers(ev.stream_id, ev.headers, end_stream=True)
                if not isinstance(ev, h2.events.RequestReceived):
                    continue
                sid, path = ev.stream_id, dict(ev.headers)[b":path"]
                if path == b"/echo-trailers":
                    continue
                if path == b"/rst":
                    conn.reset_stream(sid, 13)
                    continue
                conn.send_headers(sid, [(":status", "200")])
                conn.send_data(sid, b"ok", end_stream=True)
                if path == b"/goaway":
                    # After the answer is through (python3-h2, the client,
                    # takes no frame after a GOAWAY).
                    sock.sendall(conn.data_to_send())
                    time.sleep(0.5)
                    conn.close_connection(error_code=0, last_stream_id=sid)
            sock.sendall(conn.data_to_send())

    while True:
        try:
            s, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(s,), daemon=True).start()


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("h2up"))
    e = Env()
    e.seen = Seen()
    e.grpc_port, e.nghttpd_port = free_port(), free_port()
    e.grpcs_port, e.nghttpds_port = free_port(), free_port()
    key, cert = os.path.join(root, "app.key"), os.path.join(root, "app.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=app.internal"], check=True,
                   capture_output=True, timeout=60)
    opts = [("grpc.max_receive_message_length", 16 << 20),
            ("grpc.max_send_message_length", 16 << 20)]
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=opts)
    srv.add_generic_rpc_handlers((handlers(e.seen),))
    srv.add_insecure_port("127.0.0.1:%d" % e.grpc_port)
    # The same service speaking TLS itself (a self-signed certificate).
    with open(key, "rb") as f, open(cert, "rb") as g:
        creds = grpc.ssl_server_credentials([(f.read(), g.read())])
    srv.add_secure_port("127.0.0.1:%d" % e.grpcs_port, creds)
    srv.start()
    docroot = os.path.join(root, "www")
    os.makedirs(docroot)
    with open(os.path.join(docroot, "hello.txt"), "w") as f:
        f.write("hello from nghttpd\n")
    ng = subprocess.Popen(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", docroot,
                           "--trailer=x-checksum: abc123", str(e.nghttpd_port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ngs = subprocess.Popen(["nghttpd", "-a", "127.0.0.1", "-d", docroot,
                            "--trailer=x-checksum: tls", str(e.nghttpds_port), key, cert],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    e.raw_port = lsock.getsockname()[1]
    threading.Thread(target=raw_h2_app, args=(lsock,), daemon=True).start()
    d = Hearthd(os.path.join(root, "state"), busybox_images(root),
                extra=["--engine", "host"]).start()
    try:
        wait_port(e.nghttpd_port)
        wait_port(e.nghttpds_port)
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
                             "allowedPorts": [{"port": p} for p in (
                                 e.grpc_port, e.nghttpd_port, e.grpcs_port,
                                 e.nghttpds_port, e.raw_port)]})
        assert st == 200, doc
        e.tok = doc["authToken"]["X-aws-proxy-auth"]
        yield e
    finally:
        d.close()
        for p in (ng, ngs):
            p.kill()
            p.wait()
        srv.stop(0)
        lsock.close()


def frame(msg):
    return struct.pack(">BI", 0, len(msg)) + msg


def unframe(body):
    out = []
    while body:
        assert len(body) >= 5, body
        n = struct.unpack(">I", body[1:5])[0]
        out.append(body[5:5 + n])
        body = body[5 + n:]
    return out


def grpc_hdrs(e, extra=(), port=None):
    return [("content-type", "application/grpc"), ("te", "trailers"),
            ("x-aws-proxy-port", str(port or e.grpc_port)), ("x-aws-proxy-auth", e.tok),
            ("x-aws-proxy-trace", "secret")] + list(extra)


def call(c, e, method, msgs, extra=(), port=None):
    return c.request(e.authority, SVC + method, "POST", grpc_hdrs(e, extra, port),
                     body=b"".join(frame(m) for m in msgs))


def trailers(r):
    return dict(r["trailers"])


def test_unary_error_and_streams_over_one_connection(env):
    c = H2(env.iport, env.ca)
    try:
        u = call(c, env, "Unary", [b"hi"])
        f = call(c, env, "Fail", [b""])
        s = call(c, env, "Count", [b"1000"])
        t = call(c, env, "Total", [b"x" * i for i in range(1, 101)])
        b = call(c, env, "Bidi", [b"abc", b"defg"])
        ru, rf, rs, rt, rb = c.wait(u, f, s, t, b, timeout=60)
        assert ru["status"] == 200 and unframe(ru["body"]) == [b"echo:hi"], ru
        assert trailers(ru)["grpc-status"] == "0", ru
        # The error status and its message reach the client as trailers.
        tf = dict(rf["headers"] + rf["trailers"])
        assert tf["grpc-status"] == str(grpc.StatusCode.FAILED_PRECONDITION.value[0]), rf
        assert tf["grpc-message"] == "the widget is not ready", rf
        msgs = unframe(rs["body"])
        assert len(msgs) == 1000 and msgs[0] == b"0" and msgs[-1] == b"999"
        assert trailers(rs)["grpc-status"] == "0"
        assert unframe(rt["body"]) == [b"100/5050"], rt
        assert unframe(rb["body"]) == [b"cba", b"gfed"], rb
        # No x-aws-proxy-* reached the app; all streams shared one channel
        # (one TCP peer at the app).
        with env.seen.lock:
            md = list(env.seen.metadata)
            peers = set(env.seen.peers)
        for m in md:
            assert not [k for k, _ in m if k.startswith("x-aws-proxy")], m
        assert len(peers) == 1, peers
        assert not c.closed
    finally:
        c.close()


def test_eight_mib_message_both_ways(env):
    c = H2(env.iport, env.ca, timeout=60)
    try:
        msg = bytes(i % 253 for i in range(BIG))
        r, = c.wait(call(c, env, "Unary", [msg]), timeout=120)
        out = unframe(r["body"])
        assert trailers(r)["grpc-status"] == "0", r["trailers"]
        assert out == [b"echo:" + msg]
    finally:
        c.close()


def test_cancel_and_deadline_reach_the_server(env):
    c = H2(env.iport, env.ca)
    try:
        sid = call(c, env, "Slow", [b"cancel-me"])
        time.sleep(1.0)
        c.conn.reset_stream(sid, 8)  # CANCEL
        c.flush()
        # grpc-timeout: the app's own deadline, carried through.
        r, = c.wait(call(c, env, "Slow", [b"deadline"], extra=[("grpc-timeout", "500m")]))
        tr = dict(r["headers"] + r["trailers"])
        assert tr["grpc-status"] == str(grpc.StatusCode.DEADLINE_EXCEEDED.value[0]), r
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with env.seen.lock:
                if {"cancel-me", "deadline"} <= set(env.seen.cancelled):
                    break
            time.sleep(0.1)
        assert {"cancel-me", "deadline"} <= set(env.seen.cancelled), env.seen.cancelled
        # The connection goes on.
        r, = c.wait(call(c, env, "Unary", [b"after"]))
        assert unframe(r["body"]) == [b"echo:after"]
    finally:
        c.close()


def test_force_h2_trailers_from_nghttpd(env):
    c = H2(env.iport, env.ca)
    try:
        h = [("x-aws-proxy-port", str(env.nghttpd_port)), ("x-aws-proxy-auth", env.tok),
             ("x-aws-proxy-force-h2", "true")]
        r, = c.wait(c.request(env.authority, "/hello.txt", headers=h))
        assert r["status"] == 200 and r["body"] == b"hello from nghttpd\n", r
        assert ("x-checksum", "abc123") in r["trailers"], r
        # Without force-h2 the same app is reached over HTTP/1.1: nghttpd
        # speaks only h2, so that fails as a 502 (the app closes the channel).
        r, = c.wait(c.request(env.authority, "/hello.txt", headers=h[:2]))
        assert r["status"] == 502, r
    finally:
        c.close()


def test_unauthorized_grpc_stream_is_refused(env):
    c = H2(env.iport, env.ca)
    try:
        h = [("content-type", "application/grpc"), ("x-aws-proxy-port", str(env.grpc_port))]
        r, = c.wait(c.request(env.authority, SVC + "Unary", "POST", h, body=frame(b"x")))
        assert r["status"] == 401, r
        r, = c.wait(call(c, env, "Unary", [b"ok"]))
        assert unframe(r["body"]) == [b"echo:ok"]
    finally:
        c.close()


def test_app_speaking_tls_is_detected_and_reencrypted(env):
    c = H2(env.iport, env.ca, timeout=60)
    try:
        u = call(c, env, "Unary", [b"secret"], port=env.grpcs_port)
        s = call(c, env, "Count", [b"50"], port=env.grpcs_port)
        f = call(c, env, "Fail", [b""], port=env.grpcs_port)
        ru, rs, rf = c.wait(u, s, f, timeout=60)
        assert unframe(ru["body"]) == [b"echo:secret"], ru
        assert trailers(ru)["grpc-status"] == "0", ru
        assert len(unframe(rs["body"])) == 50 and trailers(rs)["grpc-status"] == "0"
        assert dict(rf["headers"] + rf["trailers"])["grpc-message"] == "the widget is not ready"
        h = [("x-aws-proxy-port", str(env.nghttpds_port)), ("x-aws-proxy-auth", env.tok),
             ("x-aws-proxy-force-h2", "true")]
        r, = c.wait(c.request(env.authority, "/hello.txt", headers=h))
        assert r["status"] == 200 and r["body"] == b"hello from nghttpd\n", r
        assert ("x-checksum", "tls") in r["trailers"], r
    finally:
        c.close()


def test_app_rst_stream_and_goaway_reach_the_client(env):
    c = H2(env.iport, env.ca)
    try:
        h = [("x-aws-proxy-port", str(env.raw_port)), ("x-aws-proxy-auth", env.tok),
             ("x-aws-proxy-force-h2", "true")]
        r, = c.wait(c.request(env.authority, "/rst", headers=h))
        assert r["reset"] == 13 and r["status"] is None, r
        r, = c.wait(c.request(env.authority, "/fine", headers=h))
        assert r["status"] == 200 and r["body"] == b"ok", r
        r, = c.wait(c.request(env.authority, "/goaway", headers=h))
        assert r["status"] == 200 and r["body"] == b"ok", r
        deadline = time.monotonic() + 10
        while not c.closed:
            assert time.monotonic() < deadline, "no GOAWAY"
            try:
                c.pump()
            except EOFError:
                break
        gone = [ev for ev in c.events if isinstance(ev, h2.events.ConnectionTerminated)]
        assert gone and gone[0].error_code == 0, c.events
    finally:
        c.close()


# ---- real gRPC clients: h2 by ALPN over TLS with only hearthd's CA ----

def channel(env):
    with open(env.ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    name = "%s.localhost" % env.vm_id
    return grpc.secure_channel("127.0.0.1:%d" % env.iport, creds, options=[
        ("grpc.ssl_target_name_override", name),
        ("grpc.default_authority", "%s:%d" % (name, env.iport)),
        ("grpc.max_receive_message_length", 16 << 20),
        ("grpc.max_send_message_length", 16 << 20)])


def md(env):
    return (("x-aws-proxy-auth", env.tok), ("x-aws-proxy-port", str(env.grpc_port)))


def test_grpcio_client(env):
    ch = channel(env)
    try:
        unary = ch.unary_unary(SVC + "Unary")
        assert unary(b"py", metadata=md(env), timeout=30) == b"echo:py"
        msgs = list(ch.unary_stream(SVC + "Count")(b"1000", metadata=md(env), timeout=60))
        assert len(msgs) == 1000 and msgs[-1] == b"999"
        total = ch.stream_unary(SVC + "Total")
        assert total(iter([b"ab", b"cde", b"f"]), metadata=md(env), timeout=30) == b"3/6"
        bidi = ch.stream_stream(SVC + "Bidi")
        assert list(bidi(iter([b"123", b"45"]), metadata=md(env), timeout=30)) == [b"321", b"54"]
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(SVC + "Fail")(b"", metadata=md(env), timeout=30)
        assert ei.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert ei.value.details() == "the widget is not ready"
        big = bytes(i % 251 for i in range(BIG))
        assert unary(big, metadata=md(env), timeout=120) == b"echo:" + big
        # A deadline that expires, and a cancel: the server sees both end.
        slow = ch.unary_unary(SVC + "Slow")
        with pytest.raises(grpc.RpcError) as ei:
            slow(b"py-deadline", metadata=md(env), timeout=0.5)
        assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        fut = slow.future(b"py-cancel", metadata=md(env), timeout=30)
        time.sleep(1.0)
        assert fut.cancel()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with env.seen.lock:
                if {"py-deadline", "py-cancel"} <= set(env.seen.cancelled):
                    break
            time.sleep(0.1)
        assert {"py-deadline", "py-cancel"} <= set(env.seen.cancelled), env.seen.cancelled
        # Without a token: UNAUTHENTICATED (the stream's 401, as gRPC maps it).
        with pytest.raises(grpc.RpcError) as ei:
            unary(b"x", metadata=(("x-aws-proxy-port", str(env.grpc_port)),), timeout=30)
        assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED, ei.value
    finally:
        ch.close()


def test_grpc_js_client(env):
    npm_installed(CONFORMANCE, os.path.join(CONFORMANCE, "node_modules", "@grpc", "grpc-js",
                                            "package.json"))
    cfg = {"port": env.iport, "ca": env.ca, "name": "%s.localhost" % env.vm_id,
           "tok": env.tok, "appPort": env.grpc_port}
    p = subprocess.run(["node", os.path.join(HERE, "grpcjs_client.js"), json.dumps(cfg)],
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["unary"] == "echo:js", r
    assert r["stream"] == {"n": 1000, "last": "999"}, r
    assert r["client"] == {"ok": "3/6"}, r
    assert r["bidi"] == {"ok": ["321", "54"]}, r
    assert r["fail"]["err"] == {"code": grpc.StatusCode.FAILED_PRECONDITION.value[0],
                                "details": "the widget is not ready"}, r
    assert r["big"] is True, r
    assert r["deadline"]["err"]["code"] == grpc.StatusCode.DEADLINE_EXCEEDED.value[0], r
    assert r["cancel"]["code"] == grpc.StatusCode.CANCELLED.value[0], r
    assert r["noauth"]["err"]["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0], r
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with env.seen.lock:
            if {"js-deadline", "js-cancel"} <= set(env.seen.cancelled):
                break
        time.sleep(0.1)
    assert {"js-deadline", "js-cancel"} <= set(env.seen.cancelled), env.seen.cancelled


def test_nghttp_sees_trailers_from_nghttpd(env):
    """nghttp by ALPN h2 to the ingress, forced to h2c towards nghttpd in the "guest":
    the response's trailer field arrives in a trailing HEADERS frame."""
    cmd = ["nghttp", "-nv", "-t", "30",
           "-H", ":authority: %s.localhost:%d" % (env.vm_id, env.iport),
           "-H", "x-aws-proxy-port: %d" % env.nghttpd_port,
           "-H", "x-aws-proxy-auth: " + env.tok, "-H", "x-aws-proxy-force-h2: true",
           "https://127.0.0.1:%d/hello.txt" % env.iport]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SSL_CERT_FILE=env.ca))
    out = p.stdout
    assert p.returncode == 0, (out[-2000:], p.stderr[-2000:])
    assert "negotiated protocol: h2" in out, out[:2000]
    assert ":status: 200" in out, out[-3000:]
    heads = re.findall(r"recv HEADERS frame <length=\d+, flags=0x(\w+), stream_id=13>", out)
    # The response head, then the trailers with END_STREAM (flags 0x05).
    assert len(heads) == 2 and int(heads[1], 16) & 1, out[-3000:]
    # nghttp prints a block's fields before its frame line: the trailer
    # field sits between the DATA frame and the final HEADERS frame.
    tail = out[out.index("recv DATA frame"):out.rindex("recv HEADERS frame")]
    assert "recv (stream_id=13) x-checksum: abc123" in tail, out[-3000:]


def test_request_trailers_reach_the_app(env):
    c = H2(env.iport, env.ca)
    try:
        h = [("x-aws-proxy-port", str(env.raw_port)), ("x-aws-proxy-auth", env.tok),
             ("x-aws-proxy-force-h2", "true")]
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo-trailers"),
                                  (":scheme", "https"), (":authority", env.authority)] + h)
        c.streams[sid] = {"status": None, "headers": [], "body": b"", "trailers": [],
                          "ended": False, "reset": None}
        c.conn.send_data(sid, b"payload")
        c.conn.send_headers(sid, [("x-sum", "42"), ("x-aws-proxy-secret", "no")],
                            end_stream=True)
        c.flush()
        r, = c.wait(sid)
        assert r["status"] == 200 and r["body"] == b"got trailers", r
        assert r["trailers"] == [("x-sum", "42")], r
    finally:
        c.close()
