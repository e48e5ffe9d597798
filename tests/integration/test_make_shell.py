"""The README's first command: `make shell` boots a fresh microVM and opens a
shell in it. Drives mk/shell.sh (what `make shell` runs after building) in
tmux: a command runs inside the guest, and the shell's exit status comes back
and the VM is gone afterwards."""
import os
import subprocess
import time

import pytest

from conftest import wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("HEARTH_BUILD", os.path.join(ROOT, "build"))
IMAGE_JSON = os.path.join(BUILD, "guest/busybox/image.json")


@pytest.mark.skipif(not os.path.exists(IMAGE_JSON), reason="guest images not built")
def test_make_shell_runs_a_command_in_a_fresh_vm(tmp_path):
    sock = str(tmp_path / "tmux.sock")

    def tmux(*a, check=True):
        return subprocess.run(["tmux", "-S", sock] + list(a), capture_output=True, text=True,
                              timeout=10, check=check)

    marker = tmp_path / "exit"
    tmux("new-session", "-d", "-s", "s", "-x", "100", "-y", "30",
         f"bash {ROOT}/mk/shell.sh; echo $? > {marker}")
    try:
        screen = lambda: tmux("capture-pane", "-p", "-t", "s").stdout
        wait_for(lambda: "~#" in screen(), 180, "the guest shell prompt")
        tmux("send-keys", "-t", "s", "uname -r", "Enter")
        # our guest kernel (release suffix -hearth), not the host's
        wait_for(lambda: "-hearth" in screen(), 60, "uname output")
        tmux("send-keys", "-t", "s", "exit 5", "Enter")
        wait_for(lambda: marker.exists() and marker.read_text().strip(), 60, "make shell to end")
        assert marker.read_text().strip() == "5"
    finally:
        tmux("kill-server", check=False)
