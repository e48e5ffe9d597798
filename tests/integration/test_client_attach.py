"""`hearth attach` driven in tmux against a real hearth-agent on a unix socket:
typing reaches the shell, a resize of the tmux window reaches `stty size`,
the remote exit status becomes the client's, and the detach key leaves the
shell running."""
import os
import subprocess
import time

import pytest

from agentproto import Agent
from conftest import AgentProcess, hearth_bin, wait_for

HEARTH = hearth_bin("hearth")


@pytest.fixture
def agent():
    srv = AgentProcess()
    yield srv.sock
    srv.stop()


class Tmux:
    def __init__(self, tmp_path):
        self.sock = str(tmp_path / "tmux.sock")
        self.session = "t"

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=check,
                              capture_output=True, text=True, timeout=10)

    def start(self, cmd, w=100, h=30):
        self.run("new-session", "-d", "-s", self.session, "-x", str(w), "-y", str(h), cmd)
        self.run("set-option", "-t", self.session, "remain-on-exit", "on")

    def keys(self, *k):
        self.run("send-keys", "-t", self.session, *k)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", self.session).stdout

    def start_client(self, args, w=100, h=30):
        """Run the client through sh so its exit status lands in a file
        (tmux 3.3 does not always report a dead pane's status)."""
        self.status_file = self.sock + ".status"
        self.start(f"{HEARTH} {args}; echo $? > {self.status_file}", w, h)

    def wait_exit(self, timeout):
        read = lambda: open(self.status_file).read().strip() if os.path.exists(
            self.status_file) else ""
        return int(wait_for(read, timeout, "the client to exit"))

    def kill(self):
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.kill()


def test_attach_types_resizes_and_exits_with_remote_status(agent, tmux):
    tmux.start_client(f"attach unix:{agent}", 100, 30)
    tmux.keys("echo hello-$((6*7))", "Enter")
    wait_for(lambda: "hello-42" in tmux.screen(), 20, "command output")
    tmux.keys("stty size", "Enter")
    wait_for(lambda: "30 100" in tmux.screen(), 20, "initial size 30 100")
    tmux.run("resize-window", "-t", tmux.session, "-x", "120", "-y", "40")
    tmux.keys("clear; stty size", "Enter")
    wait_for(lambda: "40 120" in tmux.screen(), 20, "resized size 40 120")
    tmux.keys("exit 7", "Enter")
    assert tmux.wait_exit(20) == 7


def test_detach_leaves_shell_running(agent, tmux):
    tmux.start_client(f"attach unix:{agent}")
    tmux.keys("export MARK=still-here", "Enter")
    time.sleep(0.3)
    tmux.keys("C-]", "d")
    assert tmux.wait_exit(20) == 0
    # The shell is still alive in the agent: LIST shows it.
    a = Agent.connect_unix(agent)
    a.hello()
    chans = a.list_channels()
    assert any(c["kind"] == 1 and c["state"] == 0 for c in chans), chans  # a live shell


def test_attach_to_nothing_fails_cleanly(tmp_path):
    r = subprocess.run([HEARTH, "attach", "unix:" + str(tmp_path / "nope.sock")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "cannot connect" in r.stderr
