"""An image's app (image.json "app" and "ports", what the image builder writes)
under a real hearthd with real busybox VMs: the snapshot build starts the app
detached through the agent with the image's env, workdir and user, waits for
its first port (or /ready), snapshots it running, and runs /validate on a test
VM restored from the snapshot (503 = ask again, anything else fails). Every
wait has a deadline."""
import json
import os
import re
import subprocess
import time

from conftest import guest_image, needs_root
from hearthd_harness import Hearthd, busybox_app_images, busybox_images
from test_lifecycle import sh

BOOT = 300   # the first run builds the image snapshot
WAIT = 30

# Writes what it runs as into the page httpd serves, echoes whatever lands in
# its work file to its stdout (the console), then serves on 8080.
WHOAMI_APP = r"""
mkdir -p /tmp/www
{ echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "pwd=$(pwd)"; grep CapBnd /proc/self/status
  env | sort; } > /tmp/www/index.html
(while :; do
	if [ -e /tmp/www/say ]; then cat /tmp/www/say; rm -f /tmp/www/say; fi
	sleep 0.2
done) &
echo app-started
exec httpd -f -p 8080 -h /tmp/www
"""

# A hook endpoint on 9000 (nc -ll -e): logs "<hook> <body>"; /validate answers
# by $VALIDATE_MODE (the image's env): 503-then-200, or 500.
HANDLER = r"""#!/bin/sh
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
[ -n "$hook" ] && printf "%s %s\\n" "$hook" "$body" >> /tmp/hooks.log
code=200
if [ "$hook" = validate ]; then
	case "$VALIDATE_MODE" in
	503-then-200) [ -e /tmp/validate-seen ] || { touch /tmp/validate-seen; code=503; } ;;
	*) code=500 ;;
	esac
fi
printf 'HTTP/1.1 %s X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$code"
"""


def start(tmp_path, images):
    return Hearthd(str(tmp_path / "state"), images).start()


def fetch(hd, vm_id, path="/", port=8080):
    """GET through the VM's endpoint (ingress, TLS) with a token: (status, body)."""
    st, _, doc = hd.call("POST", "/microvms/%s/auth-token" % vm_id,
                         {"expirationInMinutes": 10, "allowedPorts": [{"port": port}]})
    assert st == 200, doc
    tok = doc["authToken"]["X-aws-proxy-auth"]
    ca = os.path.join(hd.state_dir, "tls", "ca.pem")
    cmd = ["curl", "-sS", "--max-time", str(WAIT), "--cacert", ca,
           "--resolve", "localhost:%d:127.0.0.1" % hd.ingress_port,
           "-H", "Host: %s.localhost:%d" % (vm_id, hd.ingress_port),
           "-H", "X-aws-proxy-auth: " + tok, "-H", "X-aws-proxy-port: %d" % port,
           "-w", "\n%{http_code}", "https://localhost:%d%s" % (hd.ingress_port, path)]
    p = subprocess.run(cmd, capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, (cmd, p.stderr)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body.decode(errors="replace")


def run_fails(hd, timeout=BOOT):
    st, _, vm = hd.run()
    assert st == 200, vm
    doc = hd.wait_state(vm["microvmId"], ("RUNNING", "TERMINATED"), timeout)
    assert doc["state"] == "TERMINATED", doc
    print("stateReason:", doc["stateReason"])  # shown with pytest -s
    return doc["stateReason"]


def test_app_serves_with_env_workdir_user(tmp_path):
    """No start command: the app alone serves through the endpoint, as uid/gid
    1000 (no passwd entry: Docker's rules), in its workdir, with exactly the
    image's env plus PATH and HOME, the agent's default capability set, and
    its output in the VM's console log."""
    hd = start(tmp_path, busybox_images(
        str(tmp_path), version="app-whoami",
        app={"argv": ["/bin/sh", "-c", WHOAMI_APP], "env": ["GREETING=hello world", "EMPTY="],
             "workdir": "/home", "user": "1000:1000"},
        ports=[8080]))
    try:
        hd.wait_ingress()
        vid = hd.run_running(BOOT)["microvmId"]
        st, body = fetch(hd, vid)
        assert st == 200, body
        lines = body.splitlines()
        assert "uid=1000" in lines and "gid=1000" in lines and "pwd=/home" in lines, body
        assert "GREETING=hello world" in lines and "EMPTY=" in lines, body
        assert "HOME=/" in lines and any(l.startswith("PATH=/") for l in lines), body
        # A container's environment: no login variables from the agent.
        assert not [l for l in lines if re.match(r"(USER|LOGNAME|SHELL)=", l)], body
        # Same bounding set as any exec the agent runs (the default restricted set).
        capbnd = [l for l in lines if l.startswith("CapBnd:")]
        assert capbnd and capbnd[0].split() == sh(hd, vid, "grep CapBnd /proc/self/status").split()
        assert capbnd[0].split()[1] != "000001ffffffffff", capbnd
        # The app, inherited through the snapshot, still writes to the console.
        sh(hd, vid, "echo console-marker-$((6*7)) > /tmp/www/say")
        log = os.path.join(hd.state_dir, "vms", vid, "run", "console.log")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if os.path.exists(log) and b"console-marker-42" in open(log, "rb").read():
                break
            time.sleep(0.2)
        else:
            raise AssertionError("app output not in %s" % log)
    finally:
        hd.close()


def test_missing_program_fails_run(tmp_path):
    hd = start(tmp_path, busybox_images(str(tmp_path), version="app-missing",
                                        app={"argv": ["/no/such/prog", "x"]}, ports=[8080]))
    try:
        why = run_fails(hd)
        assert "/no/such/prog" in why and "No such file or directory" in why, why
    finally:
        hd.close()


def test_bad_user_fails_run(tmp_path):
    hd = start(tmp_path, busybox_images(str(tmp_path), version="app-baduser",
                                        app={"argv": ["sleep", "1000"], "user": "nosuchuser"}))
    try:
        why = run_fails(hd)
        assert "no such user: nosuchuser" in why, why
    finally:
        hd.close()


def test_app_never_listening_fails_run(tmp_path):
    """ports without a ready hook: the first port must accept within 60 s."""
    hd = start(tmp_path, busybox_images(
        str(tmp_path), version="app-deaf",
        app={"argv": ["sh", "-c", "echo deaf-app-says-hi; exec sleep 1000"]}, ports=[8089]))
    try:
        t0 = time.monotonic()
        why = run_fails(hd)
        assert "app never accepted on port 8089" in why, why
        assert "deaf-app-says-hi" in why, why  # the app's last console line
        assert time.monotonic() - t0 >= 60
    finally:
        hd.close()


def test_app_exiting_fails_run_fast(tmp_path):
    """An app that ends before its port accepts fails the build at once (not
    after 60 s), with its last console line."""
    hd = start(tmp_path, busybox_images(
        str(tmp_path), version="app-crash",
        app={"argv": ["sh", "-c", "sleep 1; echo crashing-now; exit 3"]}, ports=[8080]))
    try:
        t0 = time.monotonic()
        why = run_fails(hd)
        assert "app exited before it accepted on port 8080" in why, why
        assert "crashing-now" in why, why
        assert time.monotonic() - t0 < 30
    finally:
        hd.close()


def hook_image(tmp_path, mode):
    return busybox_app_images(
        str(tmp_path), {"handler.sh": HANDLER.encode()}, "validate-" + mode,
        app={"argv": ["nc", "-ll", "-p", "9000", "-e", "/app/handler.sh"],
             "env": ["VALIDATE_MODE=" + mode]},
        ports=[9000],
        hooks={"port": 9000,
               "microvmImageHooks": {"validate": "ENABLED", "validateTimeoutInSeconds": 60},
               "microvmHooks": {"run": "ENABLED", "runTimeoutInSeconds": 30}})


def test_validate_503_then_200_and_run_hook_body(tmp_path):
    """/validate answers 503 first (the handler remembers it in the test VM),
    then 200: the run goes on; the /run hook gets the id and the payload."""
    hd = start(tmp_path, hook_image(tmp_path, "503-then-200"))
    try:
        vid = hd.run_running(BOOT, runHookPayload='p "1"\n')["microvmId"]
        log = sh(hd, vid, "cat /tmp/hooks.log")
        # The snapshot was taken before validation: its VMs never saw /validate.
        assert "validate" not in log, log
        assert 'run {"microvmId":"%s","runHookPayload":"p \\"1\\"\\n"}' % vid in log, log
        vid2 = hd.run_running(BOOT)["microvmId"]
        assert 'run {"microvmId":"%s"}' % vid2 in sh(hd, vid2, "cat /tmp/hooks.log")
    finally:
        hd.close()


def test_validate_500_fails(tmp_path):
    hd = start(tmp_path, hook_image(tmp_path, "500"))
    try:
        why = run_fails(hd)
        assert "validate hook answered HTTP 500" in why, why
        snaps = os.listdir(os.path.join(hd.state_dir, "snapshots"))
        assert not [s for s in snaps if not s.startswith(".")], snaps  # nothing made current
    finally:
        hd.close()


@needs_root  # debian-12 is built only as root (debootstrap)
def test_debian_app_user_by_name(tmp_path):
    """On a real distribution: USER name:group from /etc/passwd and /etc/group
    (the group is the only one), ENV and WORKDIR, the app inherited by every
    VM of the snapshot."""
    d = tmp_path / "images" / "debian-12"
    d.mkdir(parents=True)
    img = json.load(open(guest_image("debian-12")))
    img.update(version=img["version"] + "-app",
               app={"argv": ["sh", "-c", "env > app-env; id > app-id; exec sleep 100000"],
                    "env": ["APP_ENV=production"], "workdir": "/tmp", "user": "nobody:nogroup"})
    (d / "image.json").write_text(json.dumps(img))
    hd = start(tmp_path, str(tmp_path / "images"))
    try:
        vid = hd.run_running(BOOT, imageIdentifier="debian-12")["microvmId"]
        # No ports and no ready hook: the snapshot does not wait for the app,
        # which goes on where it was in every restored VM.
        deadline = time.monotonic() + WAIT
        while "groups=" not in sh(hd, vid, "cat /tmp/app-id 2>/dev/null; true") and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert sh(hd, vid, "cat /tmp/app-id").strip() == \
            "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
        env = sh(hd, vid, "cat /tmp/app-env").splitlines()
        assert "APP_ENV=production" in env and "HOME=/nonexistent" in env, env
        # Still running, as nobody, in every VM restored from the snapshot.
        ps = sh(hd, vid, "ps -o user=,args= -C sleep 2>/dev/null || ps -ef")
        assert re.search(r"nobody\s+sleep 100000", ps), ps
    finally:
        hd.close()
