"""`hearth mcp` (shell/client/cmd_mcp.c, mcp_tools.c) driven by the official MCP
TypeScript SDK (@modelcontextprotocol/sdk, tests/mcp/, installed by `make check`
with npm ci) against a real hearthd and a real busybox VM: initialize, list
tools, run a VM, exec with a non-zero exit, stdin, truncation, write then read a
file (text and binary), list a directory, a cancelled long command (it stops in
the VM), bad arguments as tool errors, an endpoint token, the audit log. The
same flow over the Streamable HTTP transport (`hearth mcp --http`, mcp_http.c)
with the SDK's StreamableHTTPClientTransport, and that transport's refusals
(token, Origin/Host, sessions, size, bind address) over raw HTTP."""
import http.client
import json
import os
import re
import subprocess
import time

from conftest import hearth_bin, npm_installed
from hearthd_harness import Hearthd, busybox_images
from test_ingress import sanitizer_reports

HEARTH = hearth_bin("hearth")
MCP_DIR = os.path.join(os.path.dirname(__file__), "..", "mcp")


def run_client(hd, env_extra):
    """mcp_client.mjs against hd: its observations (one JSON object)."""
    env = dict(os.environ, HEARTH=HEARTH, IMAGE="busybox",
               HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"), **hd.client_env())
    env.update(env_extra)
    r = subprocess.run(["node", "mcp_client.mjs"], cwd=MCP_DIR, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def sdk_installed():
    npm_installed(MCP_DIR, os.path.join(MCP_DIR, "node_modules", "@modelcontextprotocol",
                                        "sdk", "package.json"))


def test_mcp_with_the_official_sdk(tmp_path):
    sdk_installed()
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    audit = tmp_path / "audit.log"
    try:
        hd.wait_ingress()
        out, stderr = run_client(hd, {"AUDIT": str(audit)})
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path
    # hearth mcp's own stderr (a SANITIZE build reports there)
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr[-3000:]
    check_flow(out, audit)


def check_flow(out, audit):
    """What the client saw and the audit log, the same over every transport."""
    assert out["server"]["name"] == "hearth"
    assert out["capabilities"]["tools"] == {"listChanged": False}
    names = {t["name"] for t in out["tools"]}
    assert names == {"run_microvm", "list_microvms", "get_microvm", "suspend_microvm",
                     "resume_microvm", "terminate_microvm", "exec", "write_file", "read_file",
                     "list_dir", "endpoint_url"}
    for t in out["tools"]:
        assert t["schema"]["type"] == "object", t

    assert out["run"]["isError"] is False and out["vmId"], out["run"]
    ef = out["execFail"]
    assert ef["isError"] is False
    assert ef["structured"]["exitCode"] == 3
    assert ef["structured"]["stdout"] == "out\n" and ef["structured"]["stderr"] == "err\n"
    assert out["execStdin"]["stdout"] == "from stdin\n" and out["execStdin"]["exitCode"] == 0
    big = out["execBig"]
    assert big["truncated"] is True
    assert big["tail"].endswith("[... truncated: 200000 more bytes]"), big

    assert out["write"]["isError"] is False and "wrote 13 bytes" in out["write"]["text"]
    assert out["read"] == {"isError": False, "text": "héllo\nworld\n"}
    assert out["writtenMode"] == "600"
    blob = [c for c in out["readBin"] if c["type"] == "resource"]
    assert blob and blob[0]["resource"]["blob"] == "AAEC/w==", out["readBin"]
    assert out["listDir"]["isError"] is False and "mcp-note.txt" in out["listDir"]["text"]
    assert out["readMissing"]["isError"] is True and "/nonexistent-mcp" in out["readMissing"]["text"]
    assert out["writeBad"]["isError"] is True
    assert "cannot write /nonexistent-dir/x" in out["writeBad"]["text"], out["writeBad"]

    assert "rejected" in out["cancel"] and out["cancel"]["progress"] >= 2, out["cancel"]
    assert out["afterCancel"] == "stopped\ngone\n", out["afterCancel"]

    assert out["badArg"]["isError"] is True and "timeout" in out["badArg"]["text"]
    assert out["noId"]["isError"] is True and "'id'" in out["noId"]["text"]
    assert "unknown tool" in out["unknownTool"], out["unknownTool"]
    assert out["endpoint"] == {"isError": False, "hasToken": True}
    assert out["get"] == "RUNNING"
    assert out["terminate"]["isError"] is False

    lines = audit.read_text().splitlines()
    assert all(l.startswith("hearth mcp audit: ") for l in lines), lines
    assert any('client="hearth-test/1.2.3" tool=exec vm="%s"' % out["vmId"] in l and
               "exit=3 outcome=ok" in l for l in lines), lines
    assert any("tool=exec" in l and "outcome=cancelled" in l for l in lines), lines
    assert any("tool=write_file" in l and "what=\"write_file /tmp/mcp-note.txt\"" in l
               for l in lines), lines
    text = audit.read_text()
    # never file contents or tokens
    assert "héllo" not in text and "world" not in text and "AAEC" not in text
    tok = [l for l in lines if "tool=endpoint_url" in l]
    assert tok and "outcome=ok" in tok[0]
    assert "authToken" not in text and "X-aws-proxy-auth" not in text


TOKEN = "test-token-0123456789abcdef"


def start_http(tmp_path, extra_args=(), env=None, token=TOKEN):
    """`hearth mcp --http 127.0.0.1:0` with a token file: (process, port)."""
    tok = tmp_path / "mcp-token"
    tok.write_text(token + "\n")
    p = subprocess.Popen([HEARTH, "mcp", "--http", "127.0.0.1:0", "--http-token-file", str(tok),
                          *extra_args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stderr.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp", line)
    assert m, line
    return p, int(m.group(1))


def stop_http(p):
    p.terminate()
    err = p.stderr.read()
    assert p.wait(timeout=30) == 0, err
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    return err


def test_mcp_over_streamable_http(tmp_path):
    sdk_installed()
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    audit = tmp_path / "audit.log"
    p = None
    try:
        hd.wait_ingress()
        env = dict(os.environ, HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"),
                   **hd.client_env())
        p, port = start_http(tmp_path, ["--audit-log", str(audit), "--max-output", "100000"], env)
        out, _ = run_client(hd, {"MCP_URL": "http://127.0.0.1:%d/mcp" % port,
                                 "MCP_TOKEN": TOKEN})
        # the client's DELETE ended its session
        st, _, _ = req(port, "POST", body=PING, headers={"Mcp-Session-Id": out["sessionId"]})
        assert st == 404
        hangup = hang_up_during_a_call(port)
        err = stop_http(p)
        p = None
    finally:
        if p:
            p.kill()
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path
    assert re.fullmatch(r"[0-9a-f]{64}", out["sessionId"]), out["sessionId"]
    check_flow(out, audit)
    assert TOKEN not in err and TOKEN not in audit.read_text()
    assert hangup == "stopped\ngone\n", hangup
    assert any('client="raw/1" tool=exec' in l and "outcome=cancelled" in l
               for l in audit.read_text().splitlines()), audit.read_text()


def call(port, sid, name, args, rid=10):
    st, _, body = req(port, "POST", json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                                "params": {"name": name, "arguments": args}}),
                      headers={"Mcp-Session-Id": sid, "Accept": "application/json"})
    assert st == 200, (st, body)
    return json.loads(body)["result"]


def hang_up_during_a_call(port):
    """A raw client whose connection closes while its exec runs (after the
    first progress event of its SSE stream): the command stops in the VM.
    Returns what a later exec says about it."""
    st, hdr, _ = req(port, "POST", INIT)
    assert st == 200
    sid = hdr["mcp-session-id"]
    vm = json.loads(call(port, sid, "run_microvm", {"image": "busybox"})["content"][0]["text"])
    vid = vm["microvmId"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/mcp", body=json.dumps({
        "jsonrpc": "2.0", "id": 11, "method": "tools/call",
        "params": {"name": "exec", "_meta": {"progressToken": "p"},
                   "arguments": {"id": vid, "command":
                                 "echo $$ > /tmp/longpid; sleep 60; echo done > /tmp/finished"}}}),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream", "Mcp-Session-Id": sid})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    line = r.fp.readline()  # the chunk's size, then the event
    while b"notifications/progress" not in line:
        line = r.fp.readline()
        assert line, "the stream ended before any progress"
    c.sock.shutdown(2)
    c.close()
    time.sleep(3)
    res = call(port, sid, "exec", {"id": vid, "command":
                                   "test -e /tmp/finished && echo finished || echo stopped; "
                                   "kill -0 $(cat /tmp/longpid) 2>/dev/null && echo alive || echo gone"},
               rid=12)
    call(port, sid, "terminate_microvm", {"id": vid}, rid=13)
    return res["structuredContent"]["stdout"]


INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18",
                              "clientInfo": {"name": "raw", "version": "1"}, "capabilities": {}}})
PING = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"})


def req(port, method, body=None, headers=None, token=TOKEN):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, "/mcp", body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def test_mcp_http_refusals(tmp_path):
    p, port = start_http(tmp_path)
    try:
        st, hdr, body = req(port, "POST", INIT, token=None)
        assert st == 401 and hdr["www-authenticate"].startswith("Bearer"), (st, hdr)
        st, hdr, _ = req(port, "POST", INIT, token=TOKEN + "x")
        assert st == 401 and "mcp-session-id" not in hdr
        st, _, _ = req(port, "POST", INIT, token=TOKEN[:-1])
        assert st == 401
        st, _, _ = req(port, "POST", INIT, headers={"Authorization": "Basic " + TOKEN})
        assert st == 401
        # an unauthenticated body is read and dropped (not collected); the
        # connection then serves the next request
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("POST", "/mcp", body=b" " * (1 << 20), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 401 and json.loads(r.read())["error"]["message"] == "Unauthorized"
        c.request("POST", "/mcp", body=INIT, headers={"Content-Type": "application/json",
                                                      "Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["result"]["serverInfo"]["name"] == "hearth"
        c.close()
        # DNS rebinding: a foreign Origin or Host, even with the token
        st, _, _ = req(port, "POST", INIT, headers={"Origin": "http://evil.example"})
        assert st == 403
        st, _, _ = req(port, "POST", INIT, headers={"Host": "evil.example:%d" % port})
        assert st == 403
        st, hdr, body = req(port, "POST", INIT, headers={"Origin": "http://localhost:%d" % port})
        assert st == 200 and hdr["content-type"] == "application/json", (st, hdr, body)
        assert json.loads(body)["result"]["protocolVersion"] == "2025-06-18"
        sid = hdr["mcp-session-id"]
        assert re.fullmatch(r"[0-9a-f]{64}", sid)
        # sessions: required after initialize, unknown ones are 404
        st, _, _ = req(port, "POST", PING)
        assert st == 400
        st, _, _ = req(port, "POST", PING, headers={"Mcp-Session-Id": "0" * 64})
        assert st == 404
        st, _, _ = req(port, "POST", PING, headers={"Mcp-Session-Id": sid,
                                                    "MCP-Protocol-Version": "1999-01-01"})
        assert st == 400
        st, hdr, body = req(port, "POST", PING, headers={"Mcp-Session-Id": sid,
                                                         "MCP-Protocol-Version": "2025-06-18"})
        assert st == 200 and json.loads(body) == {"jsonrpc": "2.0", "id": 2, "result": {}}
        # only SSE accepted: the answer is a stream that ends after it
        st, hdr, body = req(port, "POST", PING, headers={"Mcp-Session-Id": sid,
                                                         "Accept": "text/event-stream"})
        assert st == 200 and hdr["content-type"] == "text/event-stream", (st, hdr)
        assert body == b'event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n', body
        st, _, body = req(port, "POST", json.dumps({"jsonrpc": "2.0",
                                                    "method": "notifications/initialized"}),
                          headers={"Mcp-Session-Id": sid})
        assert st == 202 and body == b""
        st, _, body = req(port, "POST", "{not json", headers={"Mcp-Session-Id": sid})
        assert st == 400 and json.loads(body)["error"]["code"] == -32700
        st, hdr, _ = req(port, "GET", headers={"Mcp-Session-Id": sid})
        assert st == 405 and "POST" in hdr["allow"]
        # over JSONRPC_MAX (16 MiB): refused from its Content-Length
        st, _, _ = req(port, "POST", b"x" * 65536,
                       headers={"Mcp-Session-Id": sid, "Content-Length": str((16 << 20) + 1)})
        assert st == 413
        st, _, _ = req(port, "POST", PING, headers={"Mcp-Session-Id": sid, "Accept": "text/html"})
        assert st == 406
        st, _, _ = req(port, "POST", PING, headers={"Mcp-Session-Id": sid,
                                                    "Content-Type": "text/plain"})
        assert st == 415
        st, _, _ = req(port, "DELETE", headers={"Mcp-Session-Id": sid})
        assert st == 200
        st, _, _ = req(port, "POST", PING, headers={"Mcp-Session-Id": sid})
        assert st == 404
        err = stop_http(p)
        p = None
        assert TOKEN not in err
    finally:
        if p:
            p.kill()


def test_mcp_http_token_and_bind(tmp_path):
    # a made-up token, shown once on stderr, is the only one that works
    p = subprocess.Popen([HEARTH, "mcp", "--http", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ,
                                                                    HEARTH_MCP_TOKEN=""))
    try:
        tok = re.search(r"bearer token \(shown once\): ([0-9a-f]{64})$", p.stderr.readline())
        m = re.search(r":(\d+)/mcp", p.stderr.readline())
        assert tok and m
        port = int(m.group(1))
        assert req(port, "POST", INIT, token=tok.group(1))[0] == 200
        assert req(port, "POST", INIT, token=TOKEN)[0] == 401
        err = stop_http(p)
        p = None
        assert tok.group(1) not in err
    finally:
        if p:
            p.kill()
    # a non-loopback address needs --http-allow-remote
    for addr in ("0.0.0.0:0", "[::]:0", "192.0.2.1:0"):
        r = subprocess.run([HEARTH, "mcp", "--http", addr], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1 and "not a loopback address" in r.stderr, (addr, r.stderr)
    r = subprocess.run([HEARTH, "mcp", "--http-allow-remote"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2


def test_mcp_http_request_deadline(tmp_path):
    """A request that never completes is dropped after 30 s; the server keeps serving."""
    import socket
    p, port = start_http(tmp_path)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        assert s.recv(100) == b""  # closed by the server, not by our timeout
        took = time.monotonic() - t0
        assert 25 < took < 45, took
        s.close()
        assert req(port, "POST", INIT)[0] == 200
        stop_http(p)
        p = None
    finally:
        if p:
            p.kill()
