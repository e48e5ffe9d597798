"""Shared fixtures for the integration tests (keep them generic).

HEARTH_BUILD (absolute build dir, default /work/main/build) says where the
binaries are; every helper here has a deadline and cleans up after itself.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("HEARTH_BUILD", os.path.join(HERE, "..", "..", "build"))
# The shell a test's agent runs where a channel names none (see the script):
# never the host user's login shell and dotfiles, which the suite cannot control.
HOST_SHELL = os.path.join(HERE, "host-shell")


# Tests must be able to fail. The only skip allowed is what this machine cannot
# do by design (a reason starting with BY_DESIGN, e.g. needs_root below); any
# other skip or xfail is reported as a failure (pytest_runtest_makereport), and
# a missing binary, image or node module is a build failure, not less testing.
BY_DESIGN = "by design: "
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason=BY_DESIGN + "needs root (namespaces, "
                                "setuid, mount, debootstrap)")


def built(path, what=None):
    """path, which `make` builds; a missing one fails the test (run make)."""
    if not os.path.exists(path):
        pytest.fail("%s missing: %s is built by make, a missing one is a build failure"
                    % (path, what or os.path.basename(path)), pytrace=False)
    return path


def guest_image(name, guest_dir=None):
    """The image.json of a built guest image. debian-12 is built only as root
    (debootstrap), so an unprivileged run skips it by design; as root it must exist."""
    p = os.path.join(guest_dir or os.path.join(BUILD, "guest"), name, "image.json")
    if name == "debian-12" and not ROOT and not os.path.exists(p):
        pytest.skip(BY_DESIGN + "debian-12 is built only as root (debootstrap)")
    return built(p, "the guest image " + name)


def _skip_reason(longrepr):
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _disallowed(rep):
    """Why this skipped report must count as a failure, or None."""
    if getattr(rep, "wasxfail", None) is not None:
        return "xfail is not allowed (%s): a test that cannot pass is fixed or removed" % (
            rep.wasxfail or "no reason")
    reason = _skip_reason(rep.longrepr)
    if "Skipped: " + BY_DESIGN in reason or reason.startswith(BY_DESIGN):
        return None
    return ("skip is not allowed (%s): only what the machine cannot do by design may skip "
            "(conftest.BY_DESIGN)" % reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    rep = (yield).get_result()
    if rep.skipped:
        why = _disallowed(rep)
        if why:
            rep.outcome, rep.longrepr = "failed", why
            if hasattr(rep, "wasxfail"):
                del rep.wasxfail


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module-level skip (pytest.skip(allow_module_level=True), importorskip) fails too."""
    rep = (yield).get_result()
    if rep.skipped:
        why = _disallowed(rep)
        if why:
            rep.outcome, rep.longrepr = "failed", why


def hearth_bin(name):
    """Path of a built binary, e.g. hearth_bin('hearth-agent')."""
    return os.path.join(BUILD, "bin", name)


def npm_installed(cwd, installed):
    """The node modules of cwd (its package-lock.json), which `make check` installs
    with `npm ci` (tests/module.mk); `installed` is a path inside them."""
    if not shutil.which("node"):
        pytest.fail("node is required (Debian package nodejs, installed by mk/deps.sh)")
    built(installed, "node_modules of %s (npm ci, run by make check)" % cwd)


def wait_for(pred, timeout, what):
    """Poll pred until it returns something truthy; AssertionError on expiry."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.02)


def stop_process(p, timeout=5):
    """SIGTERM, then SIGKILL; returns the exit status."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
    return p.wait(timeout)


class PtyBridge:
    """A socket pair joined to a pty master by two threads, so an Agent (it
    speaks over a socket) can drive hearth-agent serving the pty's slave as
    its device. stop() ends the threads; the master stays the caller's (closing
    it is the device's hangup)."""

    def __init__(self, master):
        self.sock, self._peer = socket.socketpair()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._pump, daemon=True,
                             args=(master, lambda n: os.read(master, n), self._peer.sendall)),
            threading.Thread(target=self._pump, daemon=True,
                             args=(self._peer, self._peer.recv,
                                   lambda b: os.write(master, b) and None))]
        for t in self._threads:
            t.start()

    def _pump(self, src, src_read, dst_write):
        # select with a timeout: a thread blocked in read() would keep the
        # master open after os.close, and the pty would never hang up
        while not self._stop.is_set():
            try:
                if not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src_read(65536)
            except OSError:
                break
            if not data:
                break
            try:
                dst_write(data)
            except OSError:
                break

    def stop(self, timeout=5):
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def close(self):
        self.stop()
        self.sock.close()
        self._peer.close()


class AgentProcess:
    """hearth-agent serving --listen unix:<dir>/agent.sock.

    prefix: a command to run it under (e.g. ['unshare', '--uts']);
    sockdir: where the socket lives (default: a fresh temporary directory);
    args: more options;
    shell: --shell, for channels that name none (None: /etc/passwd's).
    """

    def __init__(self, prefix=(), args=(), sockdir=None, env=None, shell=HOST_SHELL):
        self.dir = sockdir or tempfile.mkdtemp(prefix="hearth-agent-")
        self.sock = os.path.join(self.dir, "agent.sock")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.log = open(self.log_path, "wb")
        cmd = list(prefix) + [hearth_bin("hearth-agent"), "--listen", "unix:" + self.sock,
                              "--verbose"] + list(args)
        if shell:
            cmd += ["--shell", shell]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10,
                 "agent socket " + self.sock)
        if self.proc.poll() is not None:
            raise AssertionError("agent exited (%s): %s" % (self.proc.returncode,
                                                            self.log_text()))

    def connect(self, hello=True, timeout=10):
        from agentproto import Agent
        a = Agent.connect_unix(self.sock, timeout=timeout)
        if hello:
            a.hello(timeout=timeout)
        return a

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def sanitizer_reports(self):
        """AddressSanitizer/UBSan/LeakSanitizer findings in the log (SANITIZE builds)."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        return re.findall(r"(?m)^.*(?:Sanitizer|runtime error).*$", text)

    def stop(self, cleanup=True):
        """Stop it; returns the exit status. Removes the directory unless the
        log shows a sanitizer finding (then it is kept for a look)."""
        rc = stop_process(self.proc)
        self.log.close()
        self.reports = self.sanitizer_reports()
        if cleanup and not self.reports:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc


@pytest.fixture(scope="module")
def agent_server():
    """One hearth-agent per test module."""
    srv = AgentProcess()
    yield srv
    srv.stop()
    assert srv.reports == [], srv.log_path


@pytest.fixture
def agent(agent_server):
    """A connected Agent (HELLO done) on the module's agent; closed afterwards."""
    a = agent_server.connect()
    yield a
    # Leave the agent as we found it for the module's next test.
    try:
        for ch in a.list_channels(timeout=5):
            a.attach(ch["id"]).close(timeout=5)
    except Exception:
        pass
    a.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes long (real apt installs and the like)")
