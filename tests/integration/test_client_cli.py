"""The `hearth` API subcommands against a real hearthd: tables and --json,
errors (exit 1 with the API's error type, usage errors exit 2, an unreachable
API named), paging, tags, managed images, and with the real busybox image the
lifecycle run --wait / suspend / resume / terminate plus both tokens. Every
subprocess and wait has a deadline."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from hearthd_harness import (BUILD, Hearthd, busybox_app_images,
                             busybox_images, fake_image_dir)

HEARTH = os.path.join(BUILD, "bin", "hearth")
BOOT = 300   # the first run of an image boots it under TCG to build the snapshot
STEP = 120   # suspend, resume, terminate


# A key for calls that never reach a hearthd (the client needs one to sign).
NO_SERVER_KEY = {"AWS_ACCESS_KEY_ID": "AKIANOSERVERCHECKS00",
                 "AWS_SECRET_ACCESS_KEY": "no-hearthd-answers-here"}


def hearth(hd, *args, timeout=60, api=True):
    cmd = [HEARTH] + list(args)
    env = dict(os.environ, **NO_SERVER_KEY) if hd is None else dict(os.environ)
    env.pop("HEARTH_API", None)
    if api and hd is not None:
        env.update(hd.client_env())  # HEARTH_API and the daemon's key
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def ok(hd, *args, timeout=60):
    p = hearth(hd, *args, timeout=timeout)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr,
                               hd.read_log() if hd else "")
    return p.stdout


def ok_json(hd, *args, timeout=60):
    return json.loads(ok(hd, *args, "--json", timeout=timeout))


def table(text):
    """Rows of an aligned table split on runs of 2+ spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def fields(text):
    """The `get` view: "field  value" lines as a dict."""
    return {row[0]: row[1] for row in table(text) if len(row) == 2}


@pytest.fixture
def hd(tmp_path):
    images = fake_image_dir(str(tmp_path / "images"))
    d = Hearthd(str(tmp_path / "state"), images).start()
    yield d
    d.close()


def wait_terminated(hd, vm_id):
    return hd.wait_state(vm_id, "TERMINATED", 60)


# ---- no working VM needed (the fake image fails in the engine) ----

def test_run_get_list_json_and_table(hd):
    vm = ok_json(hd, "run", "busybox", "--max-duration", "600", "--client-token", "cli-1")
    vid = vm["microvmId"]
    assert vm["state"] == "PENDING" and vm["maximumDurationInSeconds"] == 600
    # the client token makes the call idempotent: the same VM again
    assert ok_json(hd, "run", "busybox", "--max-duration", "600",
                   "--client-token", "cli-1")["microvmId"] == vid
    end = wait_terminated(hd, vid)
    got = ok_json(hd, "get", vid)
    assert got == end
    view = fields(ok(hd, "get", vid))
    assert view["microvmId"] == vid and view["state"] == "TERMINATED"
    assert view["stateReason"] == end["stateReason"]
    assert view["imageArn"].endswith(":microvm-image:busybox")
    rows = table(ok(hd, "list"))
    assert rows[0][:3] == ["MICROVM", "STATE", "IMAGE"]
    assert [vid, "TERMINATED", "busybox"] == rows[1][:3]
    doc = ok_json(hd, "list")
    assert [i["microvmId"] for i in doc["items"]] == [vid]
    assert ok_json(hd, "list", "--image", "busybox")["items"][0]["microvmId"] == vid


def test_run_with_idle_policy_and_payload(hd):
    vm = ok_json(hd, "run", "busybox", "--idle", "60", "--suspended-for", "0",
                 "--no-auto-resume", "--payload", "hello", "--version", "1")
    assert vm["idlePolicy"] == {"maxIdleDurationSeconds": 60, "suspendedDurationSeconds": 0,
                                "autoResumeEnabled": False}
    assert vm["imageVersion"] == "1"
    # --wait on an image that cannot boot: the VM ends TERMINATED, reported, exit 1
    p = hearth(hd, "run", "busybox", "--wait", "--wait-timeout", "60", timeout=90)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "TERMINATED" in p.stderr and fields(p.stdout)["state"] == "TERMINATED"


def test_paging_all(hd):
    ids = [ok_json(hd, "run", "busybox")["microvmId"] for _ in range(3)]
    for vid in ids:
        wait_terminated(hd, vid)
    one = ok_json(hd, "list", "--max-results", "1")
    assert len(one["items"]) == 1 and one["nextToken"]
    p = hearth(hd, "list", "--max-results", "1")
    assert p.returncode == 0 and len(table(p.stdout)) == 2 and "--all" in p.stderr
    every = ok_json(hd, "list", "--max-results", "1", "--all")
    assert sorted(i["microvmId"] for i in every["items"]) == sorted(ids)
    assert "nextToken" not in every
    rows = table(ok(hd, "list", "--max-results", "1", "--all"))
    assert sorted(r[0] for r in rows[1:]) == sorted(ids)


def test_images(hd):
    rows = table(ok(hd, "images"))
    assert rows[0][:3] == ["IMAGE", "VERSION", "STATUS"]
    names = {r[0] for r in rows[1:]}
    assert {"busybox", "debian-12"} <= names
    assert ["busybox", "1", "AVAILABLE"] in [r[:3] for r in rows[1:]]
    doc = ok_json(hd, "images")
    by = {i["imageArn"].rsplit(":", 1)[1]: i for i in doc["items"]}
    assert set(by) >= {"busybox", "debian-12"}
    assert by["busybox"]["versions"][0]["imageVersion"] == "1"


def test_tags_round_trip(hd):
    vid = ok_json(hd, "run", "busybox")["microvmId"]
    arn = "arn:hearth:lambda:local:000000000000:microvm:" + vid
    assert ok(hd, "tag", arn, "team=a", "env=dev") == ""
    assert ok_json(hd, "tags", arn) == {"Tags": {"team": "a", "env": "dev"}}
    rows = table(ok(hd, "tags", arn))
    assert rows[0] == ["KEY", "VALUE"] and sorted(rows[1:]) == [["env", "dev"], ["team", "a"]]
    ok(hd, "untag", arn, "team")
    assert ok_json(hd, "tags", arn) == {"Tags": {"env": "dev"}}
    p = hearth(hd, "tag", arn, "aws:x=y")
    assert p.returncode == 1 and p.stderr.startswith("hearth: ValidationException: ")


def test_api_errors_exit_1(hd):
    for args in (["get", "mvm-00000000"], ["suspend", "mvm-00000000"],
                 ["resume", "mvm-00000000"], ["terminate", "mvm-00000000"],
                 ["token", "mvm-00000000", "--minutes", "5", "--all-ports"],
                 ["shell-token", "mvm-00000000", "--minutes", "5"]):
        p = hearth(hd, *args)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        assert p.stderr.startswith("hearth: ResourceNotFoundException: "), (args, p.stderr)
        assert p.stdout == ""
    p = hearth(hd, "run", "no-such-image")
    assert p.returncode == 1 and p.stderr.startswith("hearth: ResourceNotFoundException: ")
    # a terminated VM cannot be suspended: the API's ConflictException
    vid = ok_json(hd, "run", "busybox")["microvmId"]
    wait_terminated(hd, vid)
    p = hearth(hd, "suspend", vid)
    assert p.returncode == 1 and p.stderr.startswith("hearth: ConflictException: "), p.stderr


@pytest.mark.parametrize("args", [
    ["get"], ["get", "a", "b"], ["run"], ["run", "busybox", "--max-duration", "0"],
    ["run", "busybox", "--idle", "60"], ["run", "busybox", "--bogus"],
    ["list", "--max-results", "x"], ["list", "extra"],
    ["token", "mvm-1", "--all-ports"], ["token", "mvm-1", "--minutes", "5"],
    ["token", "mvm-1", "--minutes", "61", "--all-ports"],
    ["token", "mvm-1", "--minutes", "5", "--ports", "9-3"],
    ["shell-token", "mvm-1"], ["tag", "arn:x"], ["tag", "arn:x", "novalue"],
    ["untag", "arn:x"], ["images", "x"], ["get", "x", "--timeout", "0"], ["nonsense"],
    ["get", "mvm-1", "--api"],
])
def test_usage_errors_exit_2(hd, args):
    p = hearth(hd, *args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stderr


def test_unreachable_api():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = "http://127.0.0.1:%d" % port
    for args in (["list", "--api", url], ["get", "mvm-1", "--api", url]):
        p = hearth(None, *args, api=False)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "cannot reach the API at " + url in p.stderr, p.stderr
    env = dict(os.environ, HEARTH_API=url, **NO_SERVER_KEY)
    p = subprocess.run([HEARTH, "images"], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1 and url in p.stderr
    p = hearth(None, "list", "--api", "https://127.0.0.1:1", api=False)
    assert p.returncode == 1 and "http://" in p.stderr


def test_server_that_is_not_http(tmp_path):
    """A listener that answers garbage: a clear error, exit 1, no hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    child = subprocess.Popen([HEARTH, "list", "--api", "http://127.0.0.1:%d" % port,
                              "--timeout", "20"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, **NO_SERVER_KEY))
    try:
        srv.settimeout(20)
        conn, _ = srv.accept()
        conn.settimeout(20)
        conn.recv(4096)
        conn.sendall(b"SSH-2.0-nope\r\n\r\n")
        conn.close()
        out, err = child.communicate(timeout=30)
        assert child.returncode == 1 and "bad HTTP response" in err, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        srv.close()


# ---- real VMs (busybox guest image) ----



def test_lifecycle_with_a_real_vm(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        out = ok(d, "run", "busybox", "--wait", "--wait-timeout", str(BOOT), timeout=BOOT + 60)
        vm = fields(out)
        vid = vm["microvmId"]
        assert vm["state"] == "RUNNING", out
        assert fields(ok(d, "get", vid))["state"] == "RUNNING"
        assert ok_json(d, "get", vid)["state"] == "RUNNING"
        assert [vid, "RUNNING", "busybox"] in [r[:3] for r in table(ok(d, "list"))]
        assert [i["state"] for i in ok_json(d, "list")["items"]] == ["RUNNING"]

        tok = ok(d, "token", vid, "--minutes", "5", "--port", "8080", "--ports", "9000-9010")
        assert len(tok.strip()) > 20 and "\n" not in tok.strip()
        doc = ok_json(d, "token", vid, "--minutes", "5", "--all-ports")
        assert doc["authToken"]["X-aws-proxy-auth"]
        stok = ok(d, "shell-token", vid, "--minutes", "5").strip()
        assert len(stok) > 20 and stok != tok.strip()

        out = ok(d, "suspend", vid, "--wait", "--wait-timeout", str(STEP), timeout=STEP + 60)
        assert out.split() == [vid, "SUSPENDED"]
        assert ok_json(d, "get", vid)["state"] == "SUSPENDED"
        out = ok(d, "resume", vid, "--wait", "--wait-timeout", str(STEP), timeout=STEP + 60)
        assert out.split() == [vid, "RUNNING"]
        # without --wait: the answer is immediate and the table shows the new state
        out = ok(d, "terminate", vid)
        assert out.split()[0] == vid and out.split()[1] in ("TERMINATING", "TERMINATED")
        d.wait_state(vid, "TERMINATED", STEP)
        assert ok_json(d, "get", vid)["state"] == "TERMINATED"
        assert ok_json(d, "terminate", vid) == {}
    finally:
        d.close()


def failing_hooks_image(root):
    """test_lifecycle's hook app (a hook fails while /tmp/fail-<hook> exists),
    with run and resume hooks only."""
    from test_lifecycle import HANDLER, SERVE
    return busybox_app_images(
        root, {"handler.sh": HANDLER.encode(), "serve.sh": SERVE.encode()}, "cli-hooks",
        command="setsid /app/serve.sh </dev/null >/dev/null 2>&1 &",
        hooks={"port": 8080,
               "microvmImageHooks": {"ready": "ENABLED", "readyTimeoutInSeconds": 120},
               "microvmHooks": {"run": "ENABLED", "runTimeoutInSeconds": 30,
                                "resume": "ENABLED", "resumeTimeoutInSeconds": 30}})


def test_wait_ends_on_failure_with_the_reason(tmp_path):
    """--wait ends as soon as the VM shows the action failed, with the reason on
    stderr and exit 1, not at --wait-timeout: a run whose /run hook fails
    (TERMINATED), a resume whose /resume hook fails (SUSPENDED again, still
    resumable: hearthd says "resuming" while one is under way)."""
    from test_lifecycle import sh
    d = Hearthd(str(tmp_path / "state"), failing_hooks_image(str(tmp_path))).start()
    try:
        long = "600"
        t0 = time.monotonic()
        p = hearth(d, "run", "busybox", "--payload", "fail", "--wait", "--wait-timeout", long,
                   timeout=BOOT + 60)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "TERMINATED" in p.stderr and "run hook answered HTTP 500" in p.stderr, p.stderr
        assert time.monotonic() - t0 < BOOT

        vid = fields(ok(d, "run", "busybox", "--wait", "--wait-timeout", str(BOOT),
                        timeout=BOOT + 60))["microvmId"]
        sh(d, vid, "touch /tmp/fail-resume")
        assert ok(d, "suspend", vid, "--wait", "--wait-timeout", str(STEP),
                  timeout=STEP + 60).split() == [vid, "SUSPENDED"]
        t0 = time.monotonic()
        p = hearth(d, "resume", vid, "--wait", "--wait-timeout", long, timeout=STEP + 60)
        took = time.monotonic() - t0
        assert p.returncode == 1, (p.stdout, p.stderr, d.read_log())
        assert "SUSPENDED" in p.stderr and "resume hook answered HTTP 500" in p.stderr, p.stderr
        assert took < STEP, took
        doc = ok_json(d, "get", vid)
        assert doc["state"] == "SUSPENDED" and "resume hook" in doc["stateReason"], doc
    finally:
        d.close()


def vm_server(state, reason):
    doc = {"microvmId": "mvm-1", "state": state, "stateReason": reason}
    body = json.dumps(doc).encode()
    return OneShotServer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.mark.parametrize("cmd,state,reason", [
    ("suspend", "RUNNING", "suspend failed, VM left running: No space left on device"),
    ("suspend", "TERMINATED", "suspend failed and the VM ended: keeper gone"),
    ("resume", "SUSPENDED", "resume failed: memory image unreadable"),
    ("resume", "TERMINATING", "terminated by TerminateMicrovm"),
])
def test_wait_stops_at_a_failure_state(cmd, state, reason):
    """What hearthd reports after a failed suspend (RUNNING with the reason, or
    TERMINATED) or resume (SUSPENDED with a reason other than "resuming") ends
    --wait at the first poll, exit 1, the reason printed."""
    srv = vm_server(state, reason)
    try:
        t0 = time.monotonic()
        p = hearth(None, cmd, "mvm-1", "--wait", "--wait-timeout", "60", "--api", srv.url,
                   api=False, timeout=90)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert state in p.stderr and reason in p.stderr, p.stderr
        assert time.monotonic() - t0 < 10
    finally:
        srv.close()


def test_wait_goes_on_while_resuming():
    """A SUSPENDED VM whose reason says "resuming" is still on its way: --wait
    waits (here until its timeout, as the fake server never changes)."""
    srv = vm_server("SUSPENDED", "resuming")
    try:
        p = hearth(None, "resume", "mvm-1", "--wait", "--wait-timeout", "2", "--api", srv.url,
                   api=False, timeout=60)
        assert p.returncode == 1 and "still SUSPENDED after 2 s" in p.stderr, p.stderr
        assert len(srv.requests) > 3  # polled, not given up at once
    finally:
        srv.close()


class OneShotServer:
    """A listener answering each connection with fixed bytes (or nothing):
    the client's HTTP handling against what a server could send."""

    def __init__(self, reply):
        import threading
        self.reply = reply
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(0.2)  # so serve() sees stop soon
        self.url = "http://127.0.0.1:%d" % self.srv.getsockname()[1]
        self.requests = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        held = []
        while not self.stop:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            self.requests.append(data)
            if self.reply is None:
                held.append(conn)  # never answer: the client's deadline must end it
                continue
            try:
                conn.sendall(self.reply)
            except OSError:
                pass
            conn.close()
        for c in held:
            c.close()

    def close(self):
        self.stop = True
        self.thread.join(timeout=10)
        self.srv.close()


def test_chunked_error_response():
    body = b'{"message":"slow down"}'
    reply = (b"HTTP/1.1 429 Too Many Requests\r\nx-amzn-ErrorType: ThrottlingException\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n" +
             b"%x\r\n%s\r\n" % (5, body[:5]) + b"%x\r\n%s\r\n" % (len(body) - 5, body[5:]) +
             b"0\r\n\r\n")
    srv = OneShotServer(reply)
    try:
        p = hearth(None, "get", "mvm-1", "--api", srv.url, api=False)
        assert p.returncode == 1 and p.stderr == "hearth: ThrottlingException: slow down\n", p.stderr
        req = srv.requests[0].decode()
        assert req.startswith("GET /2025-09-09/microvms/mvm-1 HTTP/1.1\r\n"), req
    finally:
        srv.close()


def test_chunked_success_and_url_prefix():
    doc = {"items": [{"microvmId": "mvm-abc", "state": "RUNNING", "imageArn": "a:b:busybox",
                      "imageVersion": "1", "startedAt": 0}]}
    body = json.dumps(doc).encode()
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
             % (len(body), body))
    srv = OneShotServer(reply)
    try:
        p = hearth(None, "list", "--json", "--api", srv.url + "/base/", api=False)
        assert p.returncode == 0 and json.loads(p.stdout) == doc, (p.stdout, p.stderr)
        assert srv.requests[0].startswith(b"GET /base/2025-09-09/microvms HTTP/1.1\r\n")
    finally:
        srv.close()


def test_read_deadline():
    srv = OneShotServer(None)
    try:
        p = hearth(None, "list", "--api", srv.url, "--timeout", "1", api=False, timeout=30)
        assert p.returncode == 1 and "no complete response" in p.stderr, p.stderr
    finally:
        srv.close()


def test_help_exits_0_and_bare_hearth_exits_2():
    p = subprocess.run([HEARTH, "run", "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "--max-duration" in p.stdout
    p = subprocess.run([HEARTH], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "shell-token" in p.stdout
