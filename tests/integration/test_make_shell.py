"""The README's first command: `make shell` runs a fresh microVM under hearthd
and opens `hearth shell` on it. Drives mk/shell.sh (what `make shell` runs
after building) in tmux, twice: the first run starts hearthd (private state
under the build directory, default addresses) and says how to stop it, the
second reuses it. A command runs inside the guest and the VM is terminated
afterwards. The test stops the hearthd it caused and the VMs' keepers.

Fails when something already listens on the default API port (another
hearthd, which the script would use, and this test must not disturb): the
machine running the suite must leave 7400/7443 free."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from conftest import built, wait_for
from hearthd_harness import http_request, read_creds
from hearthd_harness import keeper_pids

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("HEARTH_BUILD", os.path.join(ROOT, "build"))
IMAGE_JSON = os.path.join(BUILD, "guest/busybox/image.json")
D = os.path.join(BUILD, "shell-hearthd")


def port_busy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def vm_state(vm_id):
    # Signed with the key of the hearthd make shell started (its state dir).
    st, _, body = http_request(7400, "GET", "/2025-09-09/microvms/" + vm_id, timeout=10,
                               creds=read_creds(os.path.join(D, "state", "credentials")))
    assert st == 200, body
    return json.loads(body)["state"]


def test_make_shell_twice(tmp_path):
    built(IMAGE_JSON, "the busybox guest image")
    assert not (port_busy(7400) or port_busy(7443)), \
        "a daemon already listens on 127.0.0.1:7400/7443 (make shell would use it): stop it"
    sock = str(tmp_path / "tmux.sock")
    env = dict(os.environ, HEARTH_BUILD=BUILD)
    for k in ("HEARTH_API", "HEARTH_CACERT", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
              "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(k, None)

    def tmux(*a, check=True):
        r = subprocess.run(["tmux", "-S", sock] + list(a), capture_output=True, text=True,
                           timeout=10, env=env)
        assert not check or r.returncode == 0, ("tmux", a, r.returncode, r.stderr)
        return r

    screen = lambda: tmux("capture-pane", "-p", "-S", "-100", "-t", "s").stdout
    pidfile = os.path.join(D, "hearthd.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)  # a daemon from an earlier run is not answering (port free)
    try:
        vm_ids = []
        for run in range(2):
            marker = tmp_path / ("exit%d" % run)
            cmd = f"bash {ROOT}/mk/shell.sh; echo $? > {marker}"
            tmux("kill-server", check=False)  # a fresh screen per run
            # ... on a socket of its own: a killed server may still hold the old one
            sock = str(tmp_path / ("tmux%d.sock" % run))
            tmux("new-session", "-d", "-s", "s", "-x", "100", "-y", "30", "sh", "-c", cmd)
            tmux("set-option", "-t", "s", "remain-on-exit", "on")
            wait_for(lambda: "~#" in screen(), 300, "the guest shell prompt")
            out = screen()
            m = re.search(r"shell: (mvm-[0-9a-f]+) is RUNNING", out)
            assert m, out
            vm_ids.append(m.group(1))
            if run == 0:
                assert "started hearthd (pid" in out, out
            else:
                assert "started hearthd" not in out, out  # the first one answered
            tmux("send-keys", "-t", "s", "uname -r", "Enter")
            # our guest kernel (release suffix -hearth), not the host's
            wait_for(lambda: "-hearth" in screen(), 60, "uname output")
            tmux("send-keys", "-t", "s", "exit 5", "Enter")
            wait_for(lambda: marker.exists() and marker.read_text().strip(), 60,
                     "make shell to end")
            # The status travels in hearth.v1's exit message.
            assert marker.read_text().strip() == "5", screen()
            wait_for(lambda: "stop it with: kill" in screen(), 10, "how to stop hearthd")
        pid = int(open(pidfile).read())
        assert "stop it with: kill %d" % pid in screen()
        assert vm_ids[0] != vm_ids[1]
        for vm_id in vm_ids:
            assert vm_state(vm_id) in ("TERMINATING", "TERMINATED")
    finally:
        tmux("kill-server", check=False)
        if os.path.exists(pidfile):
            pid = int(open(pidfile).read())
            try:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    time.sleep(0.1)
            except ProcessLookupError:
                pass
            os.unlink(pidfile)
        for k in keeper_pids(os.path.join(D, "state")):
            os.kill(k, signal.SIGKILL)
