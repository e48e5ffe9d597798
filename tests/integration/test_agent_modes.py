"""hearth-agent beyond the basic socket tests: control operations, running
as an unprivileged user, as PID 1 in fresh namespaces, on a character
device (a pty standing in for /dev/hvc0), shutdown, and the channel limit.
Each test starts its own agent (conftest.AgentProcess)."""
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import tty

import pytest

from agentproto import (
    CTL_ENTROPY, CTL_HOSTNAME, CTL_TIME, E_LIMIT, E_PERM, E_PROTO, Agent,
    CtlFailed, OpenFailed, str16)
from conftest import AgentProcess, PtyBridge, hearth_bin, needs_root, stop_process, wait_for


def gone(pid):
    """True once pid has exited (absent or a zombie awaiting its new parent)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_ctl_entropy_hostname_time_args():
    srv = AgentProcess()
    try:
        a = srv.connect()
        a.add_entropy(os.urandom(64))
        a.add_entropy(b"")
        assert a.ctl(CTL_ENTROPY, b"x" * 4097)[0] == E_LIMIT
        # malformed arguments are refused before anything is changed
        assert a.ctl(CTL_TIME, struct.pack(">QI", 1, 2000000000))[0] == E_PROTO
        assert a.ctl(CTL_TIME, b"\0\0")[0] == E_PROTO
        assert a.ctl(CTL_HOSTNAME, str16("bad name!"))[0] == E_PROTO
        assert a.ctl(CTL_HOSTNAME, str16(""))[0] == E_PROTO
        assert a.ctl(CTL_HOSTNAME, b"\0\5ab")[0] == E_PROTO
        a.close()
    finally:
        srv.stop()
    assert srv.reports == []


@needs_root
def test_ctl_hostname_in_uts_namespace():
    srv = AgentProcess(prefix=["unshare", "--uts"])
    try:
        a = srv.connect()
        a.set_hostname("hearth-test-1")
        assert a.info()["hostname"] == "hearth-test-1"
        assert a.run("hostname")[2] == b"hearth-test-1\n"
        a.close()
    finally:
        srv.stop()
    assert socket.gethostname() != "hearth-test-1"
    assert srv.reports == []


@needs_root
def test_unprivileged_agent():
    d = tempfile.mkdtemp(prefix="hearth-agent-")
    os.chmod(d, 0o777)
    srv = AgentProcess(prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
                       sockdir=d)
    try:
        a = srv.connect()
        with pytest.raises(CtlFailed) as e:
            a.set_time(time.time())
        assert e.value.status == E_PERM
        with pytest.raises(CtlFailed) as e:
            a.set_hostname("nope")
        assert e.value.status == E_PERM
        a.add_entropy(os.urandom(32))  # written uncredited
        with pytest.raises(OpenFailed) as e:
            a.open_shell(user="root", shell="/bin/sh")
        assert e.value.code == E_PERM
        sh = a.open_shell(user="nobody", shell="/bin/sh", env={"PS1": "$ "})
        sh.send("echo u=$(id -u)\n")
        sh.read_until(b"u=65534\r\n", 10)
        sh.close()
        how, value, out, err = a.run("pwd; echo $HOME")
        assert out == b"/\n/nonexistent\n"  # home missing: cwd falls back to /
        a.close()
    finally:
        srv.stop()
    assert srv.reports == []


@needs_root
def test_pid1_in_namespaces():
    """PID 1 in new pid/mount/net/uts namespaces: mounts, lo up, orphans
    reaped, POWEROFF ends the namespace. The host's files stay the host's:
    the DNS stub names itself in /etc/resolv.conf by a bind mount private to
    the agent's mount namespace (it once replaced the host's file)."""
    host_resolv = open("/etc/resolv.conf", "rb").read()
    # /tmp, /run and /dev get fresh mounts inside: keep the socket elsewhere.
    d = tempfile.mkdtemp(prefix="hearth-agent-", dir="/var/tmp")
    srv = AgentProcess(prefix=["unshare", "--mount", "--pid", "--fork", "--net", "--uts",
                               "--propagation", "private"], sockdir=d)
    try:
        a = srv.connect()
        info = a.info()
        assert info["pid1"] is True
        out = a.run("cat /proc/1/comm; stat -f -c %T /tmp /run /dev/pts /dev/shm /sys; "
                    "cat /sys/class/net/lo/flags; ls -ld /tmp")[2].decode().split("\n")
        assert out[0] == "hearth-agent"
        assert out[1:6] == ["tmpfs", "tmpfs", "devpts", "tmpfs", "sysfs"]
        assert int(out[6], 16) & 1  # IFF_UP
        assert out[7].startswith("drwxrwxrwt")
        # Inside, the stub; outside, the host's resolver, untouched.
        assert b"nameserver 127.0.0.53" in a.run("cat /etc/resolv.conf")[2]
        assert open("/etc/resolv.conf", "rb").read() == host_resolv
        # a pty shell works on the fresh devpts instance
        sh = a.open_shell(shell="/bin/sh", env={"PS1": "$ "})
        sh.send("echo t=$(tty)\n")
        sh.read_until(re.compile(rb"t=/dev/pts/\d+\r\n"), 10)
        # orphans are reaped by PID 1
        a.run("sh -c '(sleep 0.2 &) ; exit 0'")
        time.sleep(1.0)
        st = a.run("cat /proc/[0-9]*/stat")[2].decode()
        states = [ln.rsplit(")", 1)[1].split()[0] for ln in st.splitlines() if ")" in ln]
        assert "Z" not in states, st
        a.poweroff()
        assert srv.proc.wait(20) is not None
    finally:
        srv.stop()
        os.rmdir(d) if os.path.isdir(d) and not os.listdir(d) else None
    assert open("/etc/resolv.conf", "rb").read() == host_resolv
    assert srv.reports == []


def test_device_mode_on_a_pty(tmp_path):
    """--device: the agent serves a tty (as /dev/hvc0 in a guest)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # before the agent opens it: nothing is cooked meanwhile
    path = os.ttyname(slave)
    log = open(tmp_path / "agent.log", "wb")
    p = subprocess.Popen([hearth_bin("hearth-agent"), "--device", path, "--verbose"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    bridge = PtyBridge(master)
    try:
        a = Agent(bridge.sock)
        a.hello(timeout=10, retry=0.2)  # the agent may not have opened it yet
        how, value, out, err = a.run("printf 'a\\r\\nb\\0c'; exit 4", timeout=30)
        assert (how, value, out) == ("code", 4, b"a\r\nb\0c")
        blob = bytes(range(256)) * 4096
        how, value, out, err = a.run("cat", stdin=blob, timeout=60)
        assert out == blob
        assert a.violations == []
        a.close()
    finally:
        bridge.close()
        stop_process(p)
        log.close()
        for fd in (master, slave):
            os.close(fd)
    text = (tmp_path / "agent.log").read_text(errors="replace")
    assert not re.search(r"Sanitizer|runtime error", text), text


def test_sigterm_ends_agent_and_shells():
    srv = AgentProcess()
    a = srv.connect()
    sh = a.open_shell(shell="/bin/sh")
    ex = a.open_exec(cmdline="sleep 100")
    pids = [sh.pid, ex.pid]
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(10) == 0
    wait_for(lambda: all(gone(p) for p in pids), 10, "channel processes to end")
    assert not os.path.exists(srv.sock)  # the agent removed its socket
    a.close()
    srv.stop()
    assert srv.reports == []


def test_poweroff_when_not_pid1():
    srv = AgentProcess()
    a = srv.connect()
    a.poweroff()  # the reply arrives first, then the agent leaves
    assert srv.proc.wait(10) == 0
    a.close()
    srv.stop()
    assert srv.reports == []


def test_channel_limit():
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(2048)
    port = lsn.getsockname()[1]
    srv = AgentProcess()
    try:
        a = srv.connect()
        fds = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
        chans = [a.open_tcp(port, timeout=20) for _ in range(1024)]
        with pytest.raises(OpenFailed) as e:
            a.open_tcp(port)
        assert e.value.code == E_LIMIT
        assert len(a.list_channels()) == 1024
        # freeing one makes room again
        chans.pop().close()
        chans.append(a.open_tcp(port))
        assert a.info()["channels"] == 1024
        for c in chans:
            c.close()
        assert a.list_channels() == []
        # every channel's fds went with it; shells and execs too
        for _ in range(20):
            a.run("true")
            a.open_shell(shell="/bin/sh").close()
        assert len(os.listdir("/proc/%d/fd" % srv.proc.pid)) == fds
        a.close()
    finally:
        srv.stop()
        lsn.close()
    assert srv.reports == []


@needs_root
def test_user_lookup_without_nss(tmp_path):
    """/etc/passwd and /etc/group are parsed by the agent itself (static
    binary, no NSS): bind-mount crafted files in a private mount namespace.
    Malformed, commented and overlong lines are skipped."""
    # a home the user can enter (pytest's tmp root is private to root)
    home = tempfile.mkdtemp(prefix="hearth-home-", dir="/var/tmp")
    os.chmod(home, 0o755)
    passwd = "\n".join([
        "root:x:0:0:root:/root:/bin/sh",
        "# tuser:x:1:1::/:/bin/false",
        "tuser:x:notanumber:1::/:/bin/false",
        "tuser:x:1:1",
        "x" * 3000 + ":x:2:2::/:/bin/sh",
        "tuser:x:4242:4343:Test User:%s:/bin/sh" % home,
        "other:x:4244:4244::/:/bin/sh",
    ]) + "\n"
    group = "\n".join([
        "root:x:0:",
        "g1:x:5000:other,tuser",
        "# g2:x:5001:tuser",
        "g3:x:5002:tuserx,xtuser",
        "g4:x:bad:tuser",
        "y" * 3000 + ":x:5003:tuser",
        "g5:x:5004:tuser",
    ])  # no final newline: the last line still counts
    (tmp_path / "passwd").write_text(passwd)
    (tmp_path / "group").write_text(group)
    script = ("mount --bind %s/passwd /etc/passwd && mount --bind %s/group /etc/group && "
              'exec "$@"' % (tmp_path, tmp_path))
    srv = AgentProcess(prefix=["unshare", "--mount", "--propagation", "private",
                               "sh", "-c", script, "sh"], shell=None)
    try:
        a = srv.connect()
        how, value, out, err = a.run("id -u; id -g; id -G; echo $HOME $USER $SHELL; pwd",
                                     user="tuser")
        assert (how, value) == ("code", 0), err
        lines = out.decode().split("\n")
        assert lines[0] == "4242" and lines[1] == "4343"
        assert sorted(lines[2].split()) == ["4343", "5000", "5004"]
        assert lines[3] == "%s tuser /bin/sh" % home
        assert lines[4] == str(home)
        # Docker's USER forms (an image's app): name:group is the only group,
        # a uid finds its entry, a uid without one runs as its numbers with home /.
        ids = "id -u; id -g; id -G; echo $HOME"
        for user, want in (("tuser:g5", ["4242", "5004", "5004", home]),
                           ("tuser:77", ["4242", "77", "77", home]),
                           ("4242", ["4242", "4343", None, home]),
                           ("7777:8888", ["7777", "8888", "8888", "/"]),
                           ("7777", ["7777", "0", "0", "/"])):
            how, value, out, err = a.run(ids, user=user)
            assert (how, value) == ("code", 0), (user, err)
            got = out.decode().split("\n")[:4]
            if want[2] is None:  # the user's groups from /etc/group
                want[2] = got[2]
                assert sorted(got[2].split()) == ["4343", "5000", "5004"], got
            assert got == [str(w) for w in want], (user, got)
        for bad in ("tuser:nosuchgroup", "tuser:", "nosuchuser:0"):
            with pytest.raises(OpenFailed):
                a.open_exec(cmdline="true", user=bad)
        with pytest.raises(OpenFailed):
            a.open_exec(cmdline="true", user="x" * 33)  # over MUX_MAX_USER
        with pytest.raises(OpenFailed):
            a.open_shell(user="nosuchuser")
        sh = a.open_shell(user="tuser", login=True, env={"PS1": "$ "})
        sh.send("echo [$0]$(id -u)\n")
        sh.read_until(b"[-sh]4242\r\n", 10)
        sh.close()
        a.close()
    finally:
        srv.stop()
        os.rmdir(home)
    assert srv.reports == []


@needs_root  # the detached program's console is root's /dev/console
def test_detached_exec(tmp_path):
    """DETACH (PROTOCOL.md 1.3.2): the channel ends once the program started;
    the program lives on in its own session with the given env plus PATH and
    HOME only; one that cannot start ends the channel with 127 and the reason."""
    srv = AgentProcess()
    pid = None
    try:
        a = srv.connect()
        pidf, envf = tmp_path / "pid", tmp_path / "env"
        script = "env > %s; echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 60" % (
            envf, pidf, pidf, pidf)
        c = a.open_exec(argv=["sh", "-c", script], env={"GREETING": "hi"}, cwd=str(tmp_path),
                        detach=True)
        out, err = c.collect(timeout=10)
        assert c.wait_exit(timeout=10) == ("code", 0), err
        c.wait_closed(timeout=10)
        wait_for(pidf.exists, 10, "the detached program's pid file")
        pid = int(pidf.read_text())
        assert out == b"%d\n" % pid, out  # the channel says which process it started
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read().rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        assert int(stat[3]) == pid, stat  # its own session: no signal of the channel's
        env = envf.read_text().splitlines()
        assert "GREETING=hi" in env and "HOME=/root" in env, env
        assert any(l.startswith("PATH=") for l in env), env
        assert not [l for l in env if l.split("=")[0] in ("USER", "LOGNAME", "SHELL")], env
        time.sleep(0.5)
        assert not gone(pid)  # outlived its channel
        c = a.open_exec(argv=["/no/such/prog"], detach=True)
        out, err = c.collect(timeout=10)
        assert c.wait_exit(timeout=10) == ("code", 127)
        assert b"/no/such/prog: No such file or directory" in err, err
        with pytest.raises(OpenFailed):
            a.open_exec(argv=["true"], user="nosuchuser", detach=True)
        a.close()
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
        srv.stop()
    assert srv.reports == []


def test_shell_option_replaces_the_login_shell(tmp_path):
    """--shell: a pty channel that names no shell runs it, login or not (for
    every user, in place of /etc/passwd's); one that names a shell keeps its
    own. A relative path is a usage error."""
    sh = tmp_path / "my-shell"
    sh.write_text("#!/bin/sh\necho \"my-shell $0 $$\"\nexec /bin/sh\n")
    sh.chmod(0o755)
    srv = AgentProcess(shell=str(sh))
    a = srv.connect()
    for login in (False, True):
        c = a.open_shell(login=login)
        c.read_until(b"my-shell " + str(sh).encode())  # a script's $0 is its path
        c.send(b"echo SHELL=$SHELL\n")
        c.read_until(b"SHELL=" + str(sh).encode())
        c.close()
    c = a.open_shell(shell="/bin/sh")
    c.send(b"echo own-$0\n")
    c.read_until(b"own-/bin/sh")
    c.close()
    a.close()
    srv.stop()
    assert srv.reports == []
    r = subprocess.run([hearth_bin("hearth-agent"), "--listen", "unix:" + str(tmp_path / "s"),
                        "--shell", "sh"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "--shell wants an absolute path" in r.stderr
