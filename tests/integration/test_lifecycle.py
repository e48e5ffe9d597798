"""The microVM lifecycle under a real hearthd with real VMs (busybox image,
TCG): run, a command through the agent, suspend/resume keeping a file, idle
suspend and terminate with short test timers, maximum duration, hooks with a
small app in the guest, and restarts of hearthd. Every wait has a deadline."""
import os
import shutil
import subprocess
import time

import pytest

from agentproto import Agent
from conftest import guest_image, needs_root
from hearthd_harness import Hearthd, REAL_BUSYBOX as REAL, busybox_app_images, busybox_images

BOOT = 300     # first run builds the image snapshot (boot under TCG)
STEP = 120     # restore, suspend, resume

HANDLER = r"""#!/bin/sh
# A lifecycle hook endpoint: logs "<hook> <body>" and answers 200 (500 for a
# /run whose runHookPayload is "fail", or while /tmp/fail-<hook> exists).
read -r method path proto
len=0
while IFS= read -r line; do
	line=$(printf '%s' "$line" | tr -d '\r')
	[ -z "$line" ] && break
	case "$line" in [Cc]ontent-[Ll]ength:*) len=$(printf '%s' "${line#*:}" | tr -d ' ');; esac
done
body=""
[ "$len" -gt 0 ] && body=$(head -c "$len")
hook=${path##*/}
echo "$hook $body" >> /tmp/hooks.log
code=200
case "$body" in *'"runHookPayload":"fail"'*) code=500;; esac
[ -e "/tmp/fail-$hook" ] && code=500
printf 'HTTP/1.1 %s X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$code"
"""
SERVE = "#!/bin/sh\n# -ll: a persistent listener (the socket stays open across connections)\nexec nc -ll -p 8080 -e /app/handler.sh\n"


def hooks_image(root):
    """busybox plus a hook app (handler.sh served by nc on 8080)."""
    return busybox_app_images(
        root, {"handler.sh": HANDLER.encode(), "serve.sh": SERVE.encode()}, "hooks",
        command="setsid /app/serve.sh </dev/null >/dev/null 2>&1 &",
        hooks={"port": 8080,
               "microvmImageHooks": {"ready": "ENABLED", "readyTimeoutInSeconds": 120},
               "microvmHooks": {"run": "ENABLED", "runTimeoutInSeconds": 30,
                                "resume": "ENABLED", "resumeTimeoutInSeconds": 30,
                                "suspend": "ENABLED", "suspendTimeoutInSeconds": 30,
                                "terminate": "ENABLED", "terminateTimeoutInSeconds": 30}})




def agent_sock(hd, vm_id):
    return os.path.join(hd.state_dir, "vms", vm_id, "agent.sock")


def sh(hd, vm_id, cmd, timeout=60):
    with Agent.connect_unix(agent_sock(hd, vm_id), timeout=30) as a:
        a.hello(timeout=30)
        how, value, out, err = a.run(cmd, timeout=timeout)
    assert (how, value) == (0, 0), (cmd, how, value, out, err)
    return out.decode()


@pytest.fixture
def hd(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    yield d
    d.close()


def run_running(hd, timeout=BOOT, **kw):
    st, _, vm = hd.run(**kw)
    assert st == 200, vm
    doc = hd.wait_state(vm["microvmId"], ("RUNNING", "TERMINATED"), timeout)
    assert doc["state"] == "RUNNING", (doc, hd.read_log())
    return doc


def test_run_command_suspend_resume_terminate(hd):
    vm = run_running(hd)
    vid = vm["microvmId"]
    # Fresh identity after restore: the hostname is the VM's id.
    assert sh(hd, vid, "hostname").strip() == vid
    sh(hd, vid, "echo kept-across-suspend > /root/f")
    st, _, _ = hd.call("POST", "/microvms/%s/suspend" % vid)
    assert st == 200
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED", doc
    assert not os.path.exists(agent_sock(hd, vid))
    # Suspend and resume are idempotent in their target states.
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)
    assert doc["state"] == "RUNNING", doc
    assert sh(hd, vid, "cat /root/f").strip() == "kept-across-suspend"
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200
    doc = hd.wait_state(vid, "TERMINATED", STEP)
    assert "TerminateMicrovm" in doc["stateReason"]
    assert not os.path.exists(os.path.join(hd.state_dir, "vms", vid))


@needs_root  # mounts a tmpfs
def test_failed_suspend_leaves_vm_running(hd):
    """Disk full during suspend: the VM stays RUNNING and stateReason says why."""
    vm = run_running(hd)
    vid = vm["microvmId"]
    sh(hd, vid, "echo before > /root/f")
    # The suspend writes susp-N.tmp/ and renames it to susp-N/ once complete.
    target = os.path.join(hd.state_dir, "vms", vid, "susp-1.tmp")
    os.makedirs(target)
    # 8 KiB: less than any snapshot (its device state alone is larger; an idle
    # VM's memory, a delta over its image's, is a few hundred kB).
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", target],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, "cannot mount a small tmpfs: %s" % r.stderr.decode().strip()
    try:
        assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
        doc = hd.wait_state(vid, ("RUNNING", "SUSPENDED", "TERMINATED"), STEP)
        deadline = time.monotonic() + STEP
        while doc["state"] == "SUSPENDING" and time.monotonic() < deadline:
            doc = hd.get(vid)[2]
        assert doc["state"] == "RUNNING", doc
        assert "suspend failed" in doc["stateReason"], doc
        assert sh(hd, vid, "cat /root/f").strip() == "before"
    finally:
        subprocess.run(["umount", target], capture_output=True, timeout=30)
    # With room again, the next suspend works.
    hd.call("POST", "/microvms/%s/suspend" % vid)
    assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", STEP)


def test_two_vms_are_distinct(hd):
    a = run_running(hd)["microvmId"]
    b = run_running(hd, timeout=STEP)["microvmId"]
    ra = sh(hd, a, "cat /proc/sys/kernel/random/boot_id; hostname")
    rb = sh(hd, b, "cat /proc/sys/kernel/random/boot_id; hostname")
    assert ra.split()[1] == a and rb.split()[1] == b
    sh(hd, a, "echo only-a > /root/x")
    assert sh(hd, b, "cat /root/x 2>/dev/null || echo none").strip() == "none"
    for v in (a, b):
        hd.call("DELETE", "/microvms/" + v)
    for v in (a, b):
        hd.wait_state(v, "TERMINATED", STEP)


def test_idle_suspend_then_terminate(hd):
    vm = run_running(hd, idlePolicy={"maxIdleDurationSeconds": 3, "suspendedDurationSeconds": 4,
                                     "autoResumeEnabled": False})
    vid = vm["microvmId"]
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED", doc
    assert "without endpoint traffic" in doc["stateReason"]
    doc = hd.wait_state(vid, "TERMINATED", STEP)
    assert "suspended" in doc["stateReason"], doc


def test_shell_traffic_keeps_vm_awake(hd):
    vm = run_running(hd, idlePolicy={"maxIdleDurationSeconds": 3,
                                     "suspendedDurationSeconds": 600,
                                     "autoResumeEnabled": False})
    vid = vm["microvmId"]
    with Agent.connect_unix(agent_sock(hd, vid), timeout=30) as a:
        a.hello(timeout=30)
        end = time.monotonic() + 9
        while time.monotonic() < end:
            assert a.run("true", timeout=30)[:2] == (0, 0)
            assert hd.get(vid)[2]["state"] == "RUNNING"
            time.sleep(0.5)
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED" and "without endpoint traffic" in doc["stateReason"]
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", STEP)


def test_maximum_duration(hd):
    st, _, vm = hd.run(maximumDurationInSeconds=6)
    doc = hd.wait_state(vm["microvmId"], "TERMINATED", BOOT)
    assert "maximum duration" in doc["stateReason"], doc


def test_hooks(tmp_path):
    images = hooks_image(str(tmp_path))
    d = Hearthd(str(tmp_path / "state"), images).start()
    try:
        vm = run_running(d, runHookPayload="payload-xyz")
        vid = vm["microvmId"]
        # The /run body: the VM's id and the caller's payload (PROTOCOL.md, hooks).
        assert 'run {"microvmId":"%s","runHookPayload":"payload-xyz"}' % vid in \
            sh(d, vid, "cat /tmp/hooks.log")
        d.call("POST", "/microvms/%s/suspend" % vid)
        assert d.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
        d.call("POST", "/microvms/%s/resume" % vid)
        assert d.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
        log = sh(d, vid, "cat /tmp/hooks.log")
        assert "ready" in log and "suspend" in log and "resume" in log, log
        # A failing /run hook ends the run: TERMINATED with the reason.
        st, _, bad = d.run(runHookPayload="fail")
        doc = d.wait_state(bad["microvmId"], "TERMINATED", STEP)
        assert "run hook answered HTTP 500" in doc["stateReason"], doc
    finally:
        d.close()


def test_restart_readopts_running_and_keeps_suspended(tmp_path):
    images = busybox_images(str(tmp_path))
    d = Hearthd(str(tmp_path / "state"), images,
                extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    try:
        run_vm = run_running(d)["microvmId"]
        susp = run_running(d, timeout=STEP)["microvmId"]
        timed = run_running(d, timeout=STEP, maximumDurationInSeconds=40)["microvmId"]
        sh(d, run_vm, "echo still-here > /root/g")
        sh(d, susp, "echo survives-restart > /root/f")
        d.call("POST", "/microvms/%s/suspend" % susp)
        assert d.wait_state(susp, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
        d.kill9()
        d.start()
        # The running VM kept running and is re-adopted: same guest, same file.
        doc = d.get(run_vm)[2]
        assert doc["state"] == "RUNNING", (doc, d.read_log())
        assert sh(d, run_vm, "cat /root/g").strip() == "still-here"
        # The suspended VM is resumable with its state.
        assert d.get(susp)[2]["state"] == "SUSPENDED"
        d.call("POST", "/microvms/%s/resume" % susp)
        assert d.wait_state(susp, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
        assert sh(d, susp, "cat /root/f").strip() == "survives-restart"
        # Timers continue across the restart.
        doc = d.wait_state(timed, "TERMINATED", STEP)
        assert "maximum duration" in doc["stateReason"], doc
        # A graceful stop and start keeps running VMs running too.
        d.stop()
        d.start()
        assert d.get(run_vm)[2]["state"] == "RUNNING"
        assert sh(d, run_vm, "cat /root/g").strip() == "still-here"
        # A VM whose engine process died while hearthd was down ends TERMINATED.
        d.kill9()
        for keeper in keeper_pids(d, run_vm):
            os.kill(keeper, 9)
        d.start()
        doc = d.wait_state(run_vm, "TERMINATED", STEP)
        assert "engine process" in doc["stateReason"], doc
        for v in (susp,):
            d.call("DELETE", "/microvms/" + v)
            d.wait_state(v, "TERMINATED", STEP)
    finally:
        d.close()


def keeper_pids(hd, vm_id):
    """The keeper of one VM."""
    mine = [p for p in hd.keepers()
            if vm_id.encode() in open("/proc/%d/cmdline" % p, "rb").read()]
    assert mine, "no keeper for " + vm_id
    return mine


def test_api_answers_while_vms_start(hd):
    """The event loop never waits on a VM: RunMicrovm answers PENDING at once
    and GetMicrovm keeps answering (still PENDING) while the VMs start."""
    first = run_running(hd)["microvmId"]  # builds the image snapshot
    ids, seen_pending = [], False
    for _ in range(3):
        st, _, vm = hd.run()
        assert st == 200 and vm["state"] == "PENDING"
        ids.append(vm["microvmId"])
    for i in ids:
        seen_pending |= hd.get(i)[2]["state"] == "PENDING"
    assert seen_pending
    for i in ids:
        assert hd.wait_state(i, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    for i in ids + [first]:
        hd.call("DELETE", "/microvms/" + i)
    for i in ids + [first]:
        hd.wait_state(i, "TERMINATED", STEP)


def _b64url(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def decode_token(tok, key):
    """Check a token's HMAC with the installation key; return its claims."""
    import hashlib
    import hmac
    import struct
    assert tok.startswith("hth1.")
    signed, mac = tok.rsplit(".", 1)
    assert hmac.compare_digest(_b64url(mac), hmac.new(key, signed.encode(), hashlib.sha256).digest())
    p = _b64url(signed[5:])
    ver, kind, idlen = p[0], p[1], p[2]
    vm_id = p[3:3 + idlen].decode()
    gen, issued, expires, nr = struct.unpack(">IQQB", p[3 + idlen:3 + idlen + 21])
    off = 3 + idlen + 21
    ranges = [struct.unpack(">HH", p[off + 4 * i:off + 4 * i + 4]) for i in range(nr)]
    assert len(p) == off + 4 * nr + 8
    return dict(version=ver, kind=kind, vm=vm_id, gen=gen, issued=issued, expires=expires,
                ranges=ranges)


def test_tokens_signed_with_installation_key(hd):
    vm = run_running(hd)
    vid = vm["microvmId"]
    key = open(os.path.join(hd.state_dir, "token.key"), "rb").read()
    st, _, doc = hd.call("POST", "/microvms/%s/auth-token" % vid,
                         {"expirationInMinutes": 7,
                          "allowedPorts": [{"port": 8080}, {"range": {"startPort": 9000,
                                                                      "endPort": 9009}}]})
    assert st == 200, doc
    c = decode_token(doc["authToken"]["X-aws-proxy-auth"], key)
    assert c["kind"] == 2 and c["vm"] == vid and c["gen"] == 1
    assert c["expires"] - c["issued"] == 7 * 60
    assert c["ranges"] == [(8080, 8080), (9000, 9009)]
    st, _, doc = hd.call("POST", "/microvms/%s/shell-auth-token" % vid,
                         {"expirationInMinutes": 600})
    assert st == 200, doc
    c = decode_token(doc["authToken"]["X-aws-proxy-auth"], key)
    assert c["kind"] == 1 and c["expires"] - c["issued"] == 3600  # capped at 60 minutes
    # The token never appears in hearthd's log.
    assert doc["authToken"]["X-aws-proxy-auth"] not in hd.read_log()
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", STEP)


def test_ingress_connectors_gate_tokens(hd):
    shell_only = run_running(hd, ingressNetworkConnectors=[
        "arn:hearth:lambda:local:aws:network-connector:SHELL_INGRESS"])["microvmId"]
    st, et, doc = hd.call("POST", "/microvms/%s/auth-token" % shell_only,
                          {"expirationInMinutes": 5, "allowedPorts": [{"allPorts": {}}]})
    assert st == 400 and et == "ValidationException", doc
    st, _, doc = hd.call("POST", "/microvms/%s/shell-auth-token" % shell_only,
                         {"expirationInMinutes": 5})
    assert st == 200
    closed = run_running(hd, timeout=STEP, ingressNetworkConnectors=[
        "arn:hearth:lambda:local:aws:network-connector:NO_INGRESS"])["microvmId"]
    st, et, doc = hd.call("POST", "/microvms/%s/shell-auth-token" % closed,
                          {"expirationInMinutes": 5})
    assert st == 400 and et == "ValidationException", doc
    for v in (shell_only, closed):
        hd.call("DELETE", "/microvms/" + v)
    for v in (shell_only, closed):
        hd.wait_state(v, "TERMINATED", STEP)


def test_debian_disk_survives_two_suspends(tmp_path):
    d = os.path.join(str(tmp_path), "images", "debian-12")
    os.makedirs(d)
    shutil.copy(guest_image("debian-12", os.path.dirname(os.path.dirname(REAL))),
                os.path.join(d, "image.json"))
    hd = Hearthd(str(tmp_path / "state"), os.path.join(str(tmp_path), "images")).start()
    try:
        vid = run_running(hd, imageIdentifier="debian-12")["microvmId"]
        assert sh(hd, vid, "cat /etc/debian_version").strip().startswith("12")
        sh(hd, vid, "echo on-disk > /root/y && sync")
        for _ in range(2):
            hd.call("POST", "/microvms/%s/suspend" % vid)
            assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
            hd.call("POST", "/microvms/%s/resume" % vid)
            assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
            assert sh(hd, vid, "cat /root/y").strip() == "on-disk"
        hd.call("DELETE", "/microvms/" + vid)
        hd.wait_state(vid, "TERMINATED", STEP)
    finally:
        hd.close()
