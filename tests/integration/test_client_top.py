"""`hearth top` driven in tmux against a real hearthd: it lists the VMs with
their states, s/r/t act on the selected VM (checked through the API), t asks
first, errors land in the status line without ending top, q exits 0 and
gives the terminal back in its normal mode. Without a terminal, or without an
API, it says so and exits 1. Every wait has a deadline."""
import os
import re
import socket
import subprocess

import pytest

from conftest import wait_for
from hearthd_harness import BUILD, Hearthd, busybox_images, fake_image_dir
from tmuxterm import Tmux

HEARTH = os.path.join(BUILD, "bin", "hearth")
BOOT = 300   # the first run of an image boots it under TCG to build the snapshot
STEP = 120   # suspend, resume, terminate
KEYS = "Up/Down select  a attach  s suspend  r resume  t terminate  q quit"


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.kill()


def api_env(hd):
    return hd.client_env(NO_COLOR="1")


def row(screen, vid):
    """The table row of one VM, split on blanks ([] when not shown)."""
    for line in screen.splitlines():
        if line.startswith(vid):
            return line.split()
    return []


def state_on_screen(tmux, vid, state, timeout):
    return tmux.wait_screen(lambda s: row(s, vid)[1:2] == [state], timeout,
                            "%s shown as %s" % (vid, state))


def assert_terminal_restored(tmux):
    modes = tmux.stty()
    assert "icanon" in modes and "echo" in modes, modes
    assert KEYS not in tmux.screen()  # the full-screen view is gone


def test_not_a_terminal():
    p = subprocess.run([HEARTH, "top", "--api", "http://127.0.0.1:1"], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "needs a terminal" in p.stderr and p.stdout == ""


@pytest.mark.parametrize("args", [["--interval", "0"], ["--interval", "x"], ["extra"],
                                  ["--json"], ["--bogus"]])
def test_usage_errors(args):
    p = subprocess.run([HEARTH, "top"] + args, capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "usage: hearth top" in p.stderr, (args, p.stderr)


def test_unreachable_api(tmux):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
    # A key to sign with (nothing answers to check it).
    tmux.start("%s top --api %s" % (HEARTH, url),
               {"AWS_ACCESS_KEY_ID": "AKIANOSERVERCHECKS00",
                "AWS_SECRET_ACCESS_KEY": "no-hearthd-answers-here"})
    assert tmux.wait_exit() == 1
    screen = tmux.screen()
    assert "hearth top: cannot reach the API at " + url in screen, screen
    assert_terminal_restored(tmux)


@pytest.fixture
def fake_hd(tmp_path):
    """A hearthd whose image cannot boot: its VMs end TERMINATED at once."""
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images"))).start()
    yield d
    d.close()


def test_errors_go_to_the_status_line(fake_hd, tmux):
    ids = [fake_hd.run()[2]["microvmId"] for _ in range(2)]
    for vid in ids:
        fake_hd.wait_state(vid, "TERMINATED", 60)
    tmux.start("%s top --interval 1" % HEARTH, api_env(fake_hd))
    screen = tmux.wait_text(KEYS)
    assert "2 microVMs: 2 TERMINATED" in screen, screen
    for vid in ids:
        assert row(screen, vid)[1:3] == ["TERMINATED", "busybox:1"], screen
    # the selected VM's detail line carries the API's stateReason
    tmux.keys("Down")
    tmux.wait_screen(lambda s: any(l.startswith(ids[1]) and "reason:" in l
                                   for l in s.splitlines()), 20, "the detail line of VM 2")
    # a conflict from the API is shown, top keeps running
    tmux.keys("s")
    tmux.wait_text("suspend failed: ConflictException: ")
    tmux.keys("r")
    tmux.wait_text("resume failed: ConflictException: ")
    # attach runs `hearth shell ID`, which cannot open a shell on a terminated
    # VM: its message stays on screen until Enter, then top is back
    tmux.keys("a")
    screen = tmux.wait_text(" - press Enter]", 30)
    assert "hearth shell %s exited with status" % ids[1] in screen
    assert "hearth: " in screen, screen  # the shell command's own error
    tmux.keys("Enter")
    tmux.wait_screen(lambda s: "hearth shell %s exited with status" % ids[1] in s and KEYS in s,
                     30, "top back after a failed attach")
    # the API goes away under a running top: a refresh error, no crash
    fake_hd.stop()
    tmux.wait_text("refresh failed: cannot reach the API at ")
    tmux.keys("q")
    assert tmux.wait_exit() == 0
    assert_terminal_restored(tmux)


def test_small_terminal_resize_and_ctrl_c(fake_hd, tmux):
    vid = fake_hd.run()[2]["microvmId"]
    fake_hd.wait_state(vid, "TERMINATED", 60)
    tmux.start("%s top" % HEARTH, api_env(fake_hd), w=80, h=24)
    screen = tmux.wait_text(KEYS)  # the whole key line fits in 80 columns
    assert row(screen, vid)[:2] == [vid, "TERMINATED"]
    tmux.resize(50, 10)  # redrawn for the new size: the key line is cut at 50 columns
    tmux.wait_screen(lambda s: " Up/Down select  a attach  s suspend  r resume" in s and
                     "q quit" not in s and row(s, vid)[:2] == [vid, "TERMINATED"], 20,
                     "redrawn at 50x10")
    tmux.resize(30, 5)
    tmux.wait_text("terminal too small")
    tmux.resize(120, 40)
    tmux.wait_text(KEYS)
    tmux.keys("C-c")
    assert tmux.wait_exit() == 0
    assert_terminal_restored(tmux)


FG_COLOR = re.compile(r"\x1b\[[0-9;]*(3[1-7]|9[1-7])[0-9;]*m")


@pytest.mark.parametrize("no_color", [True, False])
def test_colors_follow_no_color(fake_hd, tmux, no_color):
    vid = fake_hd.run()[2]["microvmId"]
    fake_hd.wait_state(vid, "TERMINATED", 60)
    env = api_env(fake_hd)
    if not no_color:
        del env["NO_COLOR"]
    tmux.start("%s top" % HEARTH, env)
    tmux.wait_screen(lambda s: row(s, vid)[1:2] == ["TERMINATED"], 20, "the VM")
    sgr = tmux.screen_sgr()
    assert bool(FG_COLOR.search(sgr)) != no_color, repr(sgr)
    assert "\x1b[7m" in sgr or "\x1b[7;" in sgr or ";7m" in sgr, repr(sgr)  # reverse video
    tmux.keys("q")
    assert tmux.wait_exit() == 0


# ---- real VMs (busybox guest image) ----



def test_suspend_resume_terminate_from_top(tmp_path, tmux):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        ids = []
        for _ in range(2):
            st, _, doc = d.run()
            assert st == 200, doc
            ids.append(doc["microvmId"])
        for vid in ids:
            d.wait_state(vid, "RUNNING", BOOT)
        env = dict(api_env(d), HEARTH_CACERT=os.path.join(d.state_dir, "tls", "ca.pem"))
        tmux.start("%s top --interval 1" % HEARTH, env)
        tmux.wait_text(KEYS)
        for vid in ids:
            state_on_screen(tmux, vid, "RUNNING", 20)
        assert "2 microVMs: 2 RUNNING" in tmux.screen()
        # hearth's own columns: idle time and the VM's resident memory
        cols = row(tmux.screen(), ids[0])
        assert re.fullmatch(r"\d+[smhd].*", cols[4]) and re.fullmatch(r"\d+M", cols[5]), cols
        assert int(cols[5][:-1]) > 1, cols
        # select the second VM: the detail line follows the selection
        first_line = lambda s: [l for l in s.splitlines() if l.startswith("mvm-")][-1]
        tmux.keys("Down")
        tmux.wait_screen(lambda s: first_line(s).startswith(ids[1] + "  ends in"), 20,
                         "VM 2 selected")
        tmux.keys("s")
        d.wait_state(ids[1], "SUSPENDED", STEP)
        state_on_screen(tmux, ids[1], "SUSPENDED", 20)
        assert d.get(ids[0])[2]["state"] == "RUNNING"
        tmux.keys("r")
        d.wait_state(ids[1], "RUNNING", STEP)
        state_on_screen(tmux, ids[1], "RUNNING", 20)
        # a: a shell in the selected VM (`hearth shell ID`), then back to top
        tmux.keys("a")
        tmux.wait_screen(lambda s: KEYS not in s, 30, "the shell taking the terminal")
        tmux.literal("echo top-$((6*7))")
        tmux.keys("Enter")
        tmux.wait_text("top-42", 30)
        tmux.literal("exit")
        tmux.keys("Enter")
        tmux.wait_screen(lambda s: "shell on %s ended" % ids[1] in s and KEYS in s, 30,
                         "top back after the shell")
        # t asks first; anything but y keeps the VM
        tmux.keys("t")
        tmux.wait_text("terminate %s? (y/n)" % ids[1])
        tmux.keys("n")
        tmux.wait_text("terminate %s cancelled" % ids[1])
        assert d.get(ids[1])[2]["state"] == "RUNNING"
        tmux.keys("t")
        tmux.wait_text("terminate %s? (y/n)" % ids[1])
        tmux.keys("y")
        d.wait_state(ids[1], "TERMINATED", STEP)
        state_on_screen(tmux, ids[1], "TERMINATED", 20)
        assert d.get(ids[0])[2]["state"] == "RUNNING"
        tmux.wait_text("2 microVMs: 1 RUNNING, 1 TERMINATED")
        tmux.keys("q")
        assert tmux.wait_exit() == 0
        assert_terminal_restored(tmux)
        # the first VM was never touched
        wait_for(lambda: d.get(ids[0])[2]["state"] == "RUNNING", 5, "VM 1 still running")
    finally:
        d.close()
