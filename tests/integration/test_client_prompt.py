"""`hearth` with no command on a terminal: the `hearth> ` prompt, driven in
tmux against a real hearthd. It runs the subcommands (a failing one does not
end it), reports bad quoting, completes subcommand names and microVM ids with
Tab, keeps its history in ~/.hearth_history across runs, clears the line on
Ctrl-C and ends on `exit` or Ctrl-D with status 0. Without a terminal `hearth`
keeps printing usage and exiting 2. Every wait has a deadline."""
import os
import subprocess

import pytest

from hearthd_harness import BUILD, Hearthd, fake_image_dir
from tmuxterm import Tmux

HEARTH = os.path.join(BUILD, "bin", "hearth")
PROMPT = "hearth>"


@pytest.fixture
def hd(tmp_path):
    """A hearthd whose image cannot boot: its VMs end TERMINATED at once,
    which is all the prompt needs (ids to list, get and complete)."""
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images"))).start()
    yield d
    d.close()


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return str(h)


def start(tmux, hd, home):
    tmux.start(HEARTH, hd.client_env(HOME=home),
               w=100, h=30)
    tmux.wait_screen(lambda s: last_line(s) == PROMPT, 20, "the first prompt")


def last_line(screen):
    lines = [l for l in screen.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def wait_prompt_line(tmux, text, timeout=20):
    """Wait until the last line on screen is exactly `hearth> text`."""
    want = (PROMPT + " " + text).rstrip()
    return tmux.wait_screen(lambda s: last_line(s) == want, timeout, repr(want))


@pytest.fixture
def tmuxes(tmp_path):
    made = []

    def new(name="t"):
        t = Tmux(tmp_path, name)
        made.append(t)
        return t
    yield new
    for t in made:
        t.kill()


def two_vms(hd):
    ids = [hd.run()[2]["microvmId"] for _ in range(2)]
    for vid in ids:
        hd.wait_state(vid, "TERMINATED", 60)
    return ids


def unique_prefix(vid, others):
    for n in range(len("mvm-") + 1, len(vid) + 1):
        if not any(o.startswith(vid[:n]) for o in others):
            return vid[:n]
    return vid


def test_runs_commands_and_completes(hd, home, tmuxes):
    ids = two_vms(hd)
    t = tmuxes()
    start(t, hd, home)
    t.literal("list")
    t.keys("Enter")
    screen = t.wait_screen(lambda s: last_line(s) == PROMPT and all(i in s for i in ids), 20,
                           "list output")
    assert "MICROVM" in screen and "TERMINATED" in screen
    # Tab completes a subcommand name (unique prefix) ...
    t.literal("ter")
    t.keys("Tab")
    wait_prompt_line(t, "terminate")
    t.keys("C-u")
    # ... and a microVM id after it
    t.literal("get " + unique_prefix(ids[1], [ids[0]]))
    t.keys("Tab")
    wait_prompt_line(t, "get " + ids[1])
    t.keys("Enter")
    screen = t.wait_screen(lambda s: "stateReason" in s and last_line(s) == PROMPT, 20,
                           "get output")
    assert "microvmId     " + ids[1] in screen
    # an API error and a usage error are reported; the prompt goes on
    t.literal("get mvm-0000000000000000")
    t.keys("Enter")
    t.wait_screen(lambda s: "ResourceNotFoundException" in s and last_line(s) == PROMPT, 20,
                  "the API error")
    t.literal("list --max-results x")
    t.keys("Enter")
    t.wait_screen(lambda s: "usage: hearth list" in s and last_line(s) == PROMPT, 20,
                  "the usage error")
    # a command's --help exits the command, not the prompt
    t.literal("get --help")
    t.keys("Enter")
    t.wait_screen(lambda s: "common options:" in s and last_line(s) == PROMPT, 20, "get --help")
    # bad quoting is reported without running anything
    t.literal("tag 'arn:x k=v")
    t.keys("Enter")
    t.wait_screen(lambda s: "unterminated quote" in s and last_line(s) == PROMPT, 20,
                  "the quoting error")
    t.literal("help")
    t.keys("Enter")
    t.wait_screen(lambda s: "'exit' or Ctrl-D leaves" in s and last_line(s) == PROMPT, 20, "help")
    t.literal("exit")
    t.keys("Enter")
    assert t.wait_exit() == 0
    modes = t.stty()
    assert "icanon" in modes and "echo" in modes, modes


def test_completion_lists_all_matching_ids(hd, home, tmuxes):
    ids = two_vms(hd)
    t = tmuxes()
    start(t, hd, home)
    # Two candidates. The first Tab extends their common prefix (at least
    # "mvm-"; more when the ids share digits); readline lists them on the Tab
    # after the one that changed nothing, so the third Tab lists them.
    t.literal("suspend mv")
    t.keys("Tab", "Tab", "Tab")
    t.wait_screen(lambda s: all(i in s for i in ids), 20, "both ids listed")
    t.keys("C-u")
    t.keys("C-d")
    assert t.wait_exit() == 0


def test_history_across_runs_and_ctrl_c(hd, home, tmuxes):
    t = tmuxes("one")
    start(t, hd, home)
    for line in ("images", "list --all"):
        t.literal(line)
        t.keys("Enter")
        t.wait_screen(lambda s: last_line(s) == PROMPT and "MICROVM" in s if "list" in line
                      else last_line(s) == PROMPT and "busybox" in s, 20, line)
    # Ctrl-C drops the typed line and keeps the prompt; it is not remembered
    t.literal("terminate half-typed")
    t.keys("C-c")
    wait_prompt_line(t, "")
    t.keys("C-d")
    assert t.wait_exit() == 0
    with open(os.path.join(home, ".hearth_history")) as f:
        assert f.read().split("\n")[-3:] == ["images", "list --all", ""]
    assert oct(os.stat(os.path.join(home, ".hearth_history")).st_mode & 0o777) == "0o600"

    t2 = tmuxes("two")
    start(t2, hd, home)
    t2.keys("Up")
    wait_prompt_line(t2, "list --all")
    t2.keys("Up")
    wait_prompt_line(t2, "images")
    t2.keys("C-u")
    t2.keys("C-d")
    assert t2.wait_exit() == 0


def test_history_is_bounded(hd, home, tmuxes):
    with open(os.path.join(home, ".hearth_history"), "w") as f:
        f.write("".join("get mvm-%d\n" % i for i in range(1500)))
    t = tmuxes()
    start(t, hd, home)
    t.keys("C-d")
    assert t.wait_exit() == 0
    with open(os.path.join(home, ".hearth_history")) as f:
        lines = f.read().splitlines()
    assert len(lines) == 1000 and lines[-1] == "get mvm-1499", (len(lines), lines[-1:])


def test_without_a_terminal_usage_and_2(hd):
    p = subprocess.run([HEARTH], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2 and "usage: hearth COMMAND" in p.stdout and "top" in p.stdout
    # stdin a terminal is not enough: stdout piped (a script) still gets usage
    p = subprocess.run(["script", "-qec", HEARTH + " | cat", "/dev/null"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert "usage: hearth COMMAND" in p.stdout, (p.stdout, p.stderr)


def test_full_screen_commands_from_the_prompt(hd, home, tmuxes):
    """top runs from the prompt, takes the terminal and gives it back; Ctrl-C
    ends top, not the prompt."""
    ids = two_vms(hd)
    t = tmuxes()
    start(t, hd, home)
    t.literal("top --interval 1")
    t.keys("Enter")
    t.wait_screen(lambda s: "2 microVMs: 2 TERMINATED" in s and all(i in s for i in ids), 20,
                  "top inside the prompt")
    t.keys("q")
    wait_prompt_line(t, "")
    t.literal("top")
    t.keys("Enter")
    t.wait_text("2 microVMs: 2 TERMINATED")
    t.keys("C-c")
    wait_prompt_line(t, "")
    t.keys("C-d")
    assert t.wait_exit() == 0
    modes = t.stty()
    assert "icanon" in modes and "echo" in modes, modes
