"""hearth-agent's direct stream (PROTOCOL.md 1.9): a second host stream,
served with --direct-listen unix:PATH (or --direct PATH on a device) next to
the main stream (--listen). Each stream has its own session, channel ids,
CTL ids and queue; the direct stream's channels end with its session, and it
has no whole-VM control. Each test starts its own agent."""
import os
import re
import socket
import struct
import subprocess
import tempfile
import time
import tty

import pytest

from agentproto import (
    CTL_ENTROPY, CTL_HOSTNAME, CTL_INFO, CTL_LIST, CTL_POWEROFF, CTL_TIME, E_LIMIT, E_PERM,
    HELLO, KIND_EXEC, KIND_SHELL, OPEN, TAG_CMDLINE, TAG_SHELL, TAG_SIZE, TAG_TERM,
    Agent, OpenFailed, frame, hello_payload, open_payload, str16, tlv)
from conftest import AgentProcess, PtyBridge, hearth_bin, wait_for

ROOT = os.geteuid() == 0


def gone(pid):
    """True once pid has exited (absent, or a zombie awaiting its reaper)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped while we looked
        return True


class DirectAgent:
    """hearth-agent with --listen unix:DIR/agent.sock --direct-listen unix:DIR/direct.sock.
    prefix: a command to run it under (e.g. ['unshare', '--uts'])."""

    def __init__(self, prefix=()):
        d = tempfile.mkdtemp(prefix="hearth-agent-direct-")
        self.direct_sock = os.path.join(d, "direct.sock")
        self.srv = AgentProcess(prefix=prefix, sockdir=d,
                                args=["--direct-listen", "unix:" + self.direct_sock])
        wait_for(lambda: os.path.exists(self.direct_sock), 10, "direct socket")

    def main(self):
        return self.srv.connect()

    def direct(self, hello=True):
        a = Agent.connect_unix(self.direct_sock, timeout=10)
        if hello:
            a.hello(timeout=10)
        return a

    def stop(self):
        self.srv.stop()
        assert self.srv.reports == [], self.srv.log_path


@pytest.fixture
def agents():
    d = DirectAgent()
    yield d
    d.stop()


def shell(a, cid):
    """A /bin/sh on channel cid (the id is the caller's: both streams may use it)."""
    f = tlv(TAG_TERM, "xterm") + tlv(TAG_SIZE, struct.pack(">HH", 24, 80))
    f += tlv(TAG_SHELL, "/bin/sh")
    return a.open(KIND_SHELL, f, cid=cid)


def echo(ch, word):
    """The shell still runs and answers on its own stream."""
    ch.send(b"echo " + word.encode() + b"-$((6*7))\n")
    ch.read_until(word.encode() + b"-42", timeout=10)


def rehello(a):
    """A new session on a's stream. agentproto keeps channels across HELLO
    (main stream rule); on the direct stream they are gone: forget them."""
    a.hello(timeout=10)
    with a.cv:
        a.chans.clear()


def ids(a):
    return sorted((c["id"], c["pid"]) for c in a.list_channels())


def test_same_id_on_both_streams_are_two_channels(agents):
    m, d = agents.main(), agents.direct()
    sm, sd = shell(m, 5), shell(d, 5)
    assert sm.pid != sd.pid
    echo(sm, "main")
    echo(sd, "direct")
    # each stream lists only its own channel, under the same id
    assert ids(m) == [(5, sm.pid)]
    assert ids(d) == [(5, sd.pid)]
    assert m.info()["channels"] == 1 and d.info()["channels"] == 1
    # a second shell on the direct stream does not show on the main one
    sd2 = shell(d, 6)
    assert ids(d) == sorted([(5, sd.pid), (6, sd2.pid)])
    assert ids(m) == [(5, sm.pid)]
    # CLOSE on one stream's id 5 leaves the other's id 5 alone
    sd.close()
    wait_for(lambda: gone(sd.pid), 10, "direct shell %d to end" % sd.pid)
    echo(sm, "main-still")
    assert ids(d) == [(6, sd2.pid)]
    assert m.violations == [] and d.violations == []
    m.close()
    d.close()


def test_closing_the_direct_connection_ends_its_channels(agents):
    m, d = agents.main(), agents.direct()
    sm, sd = shell(m, 1), shell(d, 1)
    ex = d.open_exec(cmdline="sleep 1000")
    # the shell's foreground job goes too (the pty hangs up), as after CLOSE
    sd.send(b"sh -c 'echo fg=$$; exec sleep 1000'\n")
    got = sd.read_until(re.compile(rb"fg=\d+\r\n"), timeout=10)
    fg = int(re.search(rb"fg=(\d+)\r\n", got).group(1))
    pids = [sd.pid, ex.pid, fg]
    d.close()
    for pid in pids:
        wait_for(lambda: gone(pid), 10, "direct process %d to end" % pid)
    # the main stream's shell lives on and still echoes
    assert not gone(sm.pid)
    echo(sm, "alive")
    # reconnecting gives a fresh session: nothing listed, OPEN works (same id)
    d2 = agents.direct()
    assert d2.list_channels() == []
    sd2 = shell(d2, 1)
    echo(sd2, "fresh")
    # the main stream keeps its channels across its own reconnect (1.4 rule 2)
    m.close()
    m2 = agents.main()
    assert ids(m2) == [(1, sm.pid)]
    echo(m2.attach(1, KIND_SHELL), "resumed")
    assert m2.violations == [] and d2.violations == []
    m2.close()
    d2.close()


def test_a_new_direct_connection_replaces_the_old_one(agents):
    d1 = agents.direct()
    s1 = shell(d1, 3)
    d2 = agents.direct()
    wait_for(lambda: gone(s1.pid), 10, "first connection's shell to end")
    assert d2.list_channels() == []
    # the old connection was closed by the agent
    wait_for(lambda: d1.lost, 10, "old direct connection to be closed")
    echo(shell(d2, 3), "second")
    d1.close()
    d2.close()


def test_second_hello_on_direct_ends_its_channels(agents):
    m, d = agents.main(), agents.direct()
    sm = shell(m, 2)
    sd = shell(d, 2)
    ex = d.open_exec(cmdline="sleep 1000")
    rehello(d)
    for pid in (sd.pid, ex.pid):
        wait_for(lambda: gone(pid), 10, "process %d to end after HELLO" % pid)
    assert d.list_channels() == []
    # the new session works, the main stream is untouched
    echo(shell(d, 2), "after-hello")
    echo(sm, "main")
    # on the main stream a second HELLO keeps channels (1.4 rule 2)
    m.hello(timeout=10)
    assert ids(m) == [(2, sm.pid)]
    m.close()
    d.close()


def test_whole_vm_control_is_refused_on_direct():
    # In a UTS namespace when root: a wrongly allowed HOSTNAME cannot touch the host.
    agents = DirectAgent(prefix=["unshare", "--uts"] if ROOT else ())
    try:
        m, d = agents.main(), agents.direct()
        before = m.info()
        now = time.time()
        refused = {
            CTL_HOSTNAME: str16("hearth-direct-x"),
            CTL_ENTROPY: os.urandom(32),
            CTL_TIME: struct.pack(">QI", int(now), 0),
            CTL_POWEROFF: b"",
        }
        for op, arg in refused.items():
            assert d.ctl(op, arg)[0] == E_PERM, op
        # nothing changed: same hostname, the agent still runs and serves both
        assert agents.srv.alive()
        assert d.info()["hostname"] == before["hostname"] != "hearth-direct-x"
        assert m.info()["hostname"] == before["hostname"]
        info = d.info()
        assert info["agent"].startswith("hearth-agent/")
        assert info["channels"] == 0
        assert d.ctl(CTL_INFO)[0] == 0 and d.ctl(CTL_LIST)[0] == 0
        # the same operations work on the main stream
        m.add_entropy(os.urandom(32))
        if ROOT:
            m.set_hostname("hearth-direct-y")
            assert d.info()["hostname"] == "hearth-direct-y"
        assert d.violations == []
        m.close()
        d.close()
    finally:
        agents.stop()


def test_exec_on_direct(agents):
    d = agents.direct()
    how, value, out, err = d.run("echo out; echo err >&2; exit 3", timeout=30)
    assert (how, value, out, err) == ("code", 3, b"out\n", b"err\n")
    blob = os.urandom(300000)
    how, value, out, err = d.run("cat", stdin=blob, timeout=60)
    assert (how, value, out) == ("code", 0, blob)
    assert d.violations == []
    d.close()


def test_blocked_direct_stream_does_not_stall_main(agents):
    """A direct host that stops reading (its output floods the socket
    buffer) holds back neither the main stream's echo nor its bulk output."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(agents.direct_sock)
    s.sendall(frame(HELLO, 0, hello_payload()))
    s.sendall(frame(OPEN, 1, open_payload(KIND_EXEC, 16 << 20, tlv(TAG_CMDLINE, "yes"))))
    m = agents.main()
    try:
        sm = shell(m, 1)
        for i in range(20):
            echo(sm, "k%d" % i)
        how, value, out, err = m.run("head -c 2000000 /dev/zero", timeout=60)
        assert (how, value, len(out)) == ("code", 0, 2000000)
        # the direct stream itself is still served once its host reads again
        got = b""
        s.settimeout(10)
        while len(got) < 1 << 20:
            got += s.recv(1 << 16)
        assert b"y\ny\n" in got
    finally:
        s.close()
        m.close()


def test_channel_limit_spans_both_streams(agents):
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(2048)
    port = lsn.getsockname()[1]
    m, d = agents.main(), agents.direct()
    try:
        mc = [m.open_tcp(port, timeout=20) for _ in range(1000)]
        dc = [d.open_tcp(port, timeout=20) for _ in range(24)]
        for a in (m, d):
            with pytest.raises(OpenFailed) as e:
                a.open_tcp(port)
            assert e.value.code == E_LIMIT
        assert len(m.list_channels()) == 1000 and len(d.list_channels()) == 24
        # the direct host leaves: its 24 channels are freed for the main stream
        d.close()
        wait_for(lambda: _try_open(m, port, mc), 10,
                 "room after the direct stream's channels ended")
        assert len(m.list_channels()) == 1001
        assert len(dc) == 24
    finally:
        m.close()
        lsn.close()


def _try_open(a, port, chans):
    try:
        chans.append(a.open_tcp(port))
        return True
    except OpenFailed as e:
        assert e.code == E_LIMIT
        return False


def test_direct_alone_is_not_a_main_stream():
    """--direct-listen needs a main stream (--listen or --device)."""
    d = tempfile.mkdtemp(prefix="hearth-agent-direct-")
    r = subprocess.run([hearth_bin("hearth-agent"), "--direct-listen",
                        "unix:" + os.path.join(d, "direct.sock")],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert r.returncode == 2
    r = subprocess.run([hearth_bin("hearth-agent"), "--listen", "unix:" + os.path.join(d, "a"),
                        "--direct", "/nonexistent/hearth-direct"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert r.returncode == 1 and b"/nonexistent/hearth-direct" in r.stderr
    os.rmdir(d)


def test_direct_on_a_device_ends_channels_on_hangup(tmp_path):
    """--direct PATH: the direct stream on a character device (a pty here,
    a virtio-serial port in a VM). When the device's host side goes away
    (the pty master is closed: the slave reads 0 and reports EPOLLHUP), the
    session's channels end; the main stream is not touched."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    sockdir = str(tmp_path)
    srv = AgentProcess(sockdir=sockdir, args=["--direct", path])
    bridge = PtyBridge(master)
    closed = False
    try:
        m = srv.connect()
        sm = shell(m, 7)
        d = Agent(bridge.sock)
        d.hello(timeout=10, retry=0.2)
        sd = shell(d, 7)
        echo(sd, "on-device")
        assert ids(d) == [(7, sd.pid)] and ids(m) == [(7, sm.pid)]
        # a second HELLO on the device: a new host, the old channels end
        rehello(d)
        wait_for(lambda: gone(sd.pid), 10, "device shell to end after HELLO")
        assert d.list_channels() == []
        sd = shell(d, 7)
        echo(sd, "again")
        # the host side hangs up
        bridge.stop()
        os.close(master)
        closed = True
        wait_for(lambda: gone(sd.pid), 10, "device shell to end after hangup")
        assert srv.alive()
        echo(sm, "main-lives")
        assert d.violations == [] and m.violations == []
        m.close()
    finally:
        bridge.close()
        if not closed:
            os.close(master)
        os.close(slave)
        srv.stop()
    assert srv.reports == []
