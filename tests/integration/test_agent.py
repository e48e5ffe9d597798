"""hearth-agent over a unix socket: shells, exec, tcp relay, flow control,
sessions, bad frames. One agent per module (conftest.agent_server); each
test connects anew, which replaces the previous connection."""
import hashlib
import http.server
import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

from agentproto import (
    CLOSE, DATA, E_EXISTS, E_KIND, E_NOCHAN, E_PROTO, E_SPAWN, E_STATE, E_TOOBIG, E_TYPE,
    E_VERSION, E_WINDOW, EOF, HELLO, KIND_EXEC, KIND_SHELL, KIND_TCP, MAX_PAYLOAD, OPEN, PING,
    RESIZE, SIGNAL, WINDOW, OpenFailed, frame, hello_payload, open_payload, tlv, TAG_ARGV,
    TAG_PORT)

# Shells are /bin/sh: an interactive bash would run the user's ~/.bashrc
# (on a developer machine that may do anything, e.g. `pyenv rehash`).
SHELL_ENV = {"HISTFILE": "/dev/null", "PS1": "$ "}


def line(text):
    """Output ending a line, not glued to a word before it (prompts and
    escape codes may precede it on the same line)."""
    if isinstance(text, str):
        text = text.encode()
    return re.compile(rb"(?<![0-9A-Za-z])" + re.escape(text) + rb"\r\n")


def shell_cmd(sh, cmd, expect, timeout=10):
    """Type a command; wait for expected output (bytes or regex)."""
    sh.send(cmd + "\n")
    return sh.read_until(expect, timeout=timeout)


def check_shell(sh, n):
    """An echo round trip whose answer differs from what was typed."""
    shell_cmd(sh, "echo $((%d+1))x" % n, line(b"%dx" % (n + 1)))


def test_hello_info_ping(agent):
    assert agent.hello_info["software"].startswith("hearth-agent/")
    assert agent.hello_info["version"] == 1
    info = agent.info()
    assert info["agent"].startswith("hearth-agent/")
    assert info["kernel"] == os.uname().release
    assert info["mem_total"] > 0 and 0 < info["mem_free"] <= info["mem_total"]
    assert info["pid1"] is False
    assert info["uptime_ms"] > 0
    assert 0 < agent.ping(timeout=10) < 10
    assert agent.violations == []


def test_ten_shells(agent):
    shells = [agent.open_shell(rows=24, cols=80, env=SHELL_ENV, shell="/bin/sh") for _ in range(10)]
    assert len({s.id for s in shells}) == 10
    assert all(s.pid > 0 for s in shells)
    # commands, interleaved across shells
    for i, sh in enumerate(shells):
        sh.send("echo $((%d*7))z\n" % i)
    for i, sh in enumerate(shells):
        sh.read_until(line(b"%dz" % (i * 7)), timeout=10)
    # resize: each shell sees its own size
    for i, sh in enumerate(shells):
        sh.resize(20 + i, 70 + i)
    for i, sh in enumerate(shells):
        shell_cmd(sh, "stty size", line(b"%d %d" % (20 + i, 70 + i)))
    # ^C interrupts sleep in the foreground
    for i, sh in enumerate(shells):
        shell_cmd(sh, "echo st$((%d+0))rt; sleep 100" % i, line(b"st%drt" % i))
    time.sleep(0.3)
    for sh in shells:
        sh.send(b"\x03")
    for i, sh in enumerate(shells):
        shell_cmd(sh, "echo rc=$?", line(b"rc=130"))
    # exit codes
    for i, sh in enumerate(shells):
        sh.send("exit %d\n" % (i + 3))
    for i, sh in enumerate(shells):
        sh.collect(timeout=10)
        assert sh.wait_exit(10) == ("code", i + 3)
        sh.wait_closed(10)
    assert agent.violations == []


def test_shell_signal_and_sigwinch(agent):
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    # SIGWINCH reaches the foreground job when the size changes
    shell_cmd(sh, "trap 'echo WIN$((1+1))CH' WINCH; echo rea$((0))dy", line(b"rea0dy"))
    shell_cmd(sh, "sleep 2 & wait", b"wait")
    time.sleep(0.2)
    sh.resize(33, 99)
    sh.read_until(b"WIN2CH", timeout=10)
    # SIGNAL goes to the foreground process group: kill the shell itself
    check_shell(sh, 5)
    sh.signal(signal.SIGKILL)
    sh.collect(timeout=10)
    assert sh.wait_exit(10) == ("signal", signal.SIGKILL)


def test_shell_login_user_cwd_env(agent):
    # HOME without a .profile: the login shell reads nothing of the caller's
    sh = agent.open_shell(env=dict(SHELL_ENV, HV="val$1", HOME="/nonexistent"), cwd="/usr",
                          login=True, shell="/bin/sh", term="vt100")
    shell_cmd(sh, "echo [$0][$(pwd)][$HV][$TERM]", b"[-sh][/usr][val$1][vt100]")
    sh.send("exit\n")
    sh.collect(10)
    assert sh.wait_exit(10) == ("code", 0)
    if os.geteuid() == 0:
        how, value, out, err = agent.run("id -u; echo $HOME $USER", user="nobody")
        assert (how, value) == ("code", 0), err
        assert out.split()[0] == b"65534"
        assert b"nobody" in out


def test_shell_bad_program_and_cwd(agent):
    with pytest.raises(OpenFailed) as e:
        agent.open_shell(shell="/nonexistent/shell")
    assert e.value.code == E_SPAWN and "No such file" in e.value.msg
    with pytest.raises(OpenFailed) as e:
        agent.open_shell(cwd="/nonexistent/dir")
    assert e.value.code == E_SPAWN and "chdir" in e.value.msg
    with pytest.raises(OpenFailed) as e:
        agent.open_shell(user="no-such-user-here")
    assert e.value.code == E_SPAWN
    assert agent.list_channels() == []


def test_exec_streams_and_codes(agent):
    how, value, out, err = agent.run("echo out; echo err >&2; echo more; exit 3")
    assert (how, value) == ("code", 3)
    assert out == b"out\nmore\n" and err == b"err\n"
    how, value, out, err = agent.run("kill -TERM $$")
    assert (how, value) == ("signal", signal.SIGTERM)
    c = agent.open_exec(argv=["printf", "%s|", "a b", "$HOME", "*"], env={"X": "1"})
    out, err = c.collect(10)
    assert out == b"a b|$HOME|*|" and err == b""
    assert c.wait_exit(10) == ("code", 0)
    with pytest.raises(OpenFailed) as e:
        agent.open_exec(argv=["/nonexistent/program"])
    assert e.value.code == E_SPAWN


def test_exec_signal_and_close(agent):
    c = agent.open_exec(cmdline="echo started; exec sleep 100")
    assert c.read_until(b"started\n", timeout=10)
    c.signal(signal.SIGKILL)
    c.collect(10)
    assert c.wait_exit(10) == ("signal", signal.SIGKILL)
    # CLOSE on a running exec kills it and frees the channel
    c = agent.open_exec(cmdline="echo started; sleep 100")
    c.read_until(b"started\n", timeout=10)
    pid = c.pid
    c.close()
    assert all(ch["id"] != c.id for ch in agent.list_channels())
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % pid)


def test_exec_stdin(agent):
    how, value, out, err = agent.run("tr a-z A-Z", stdin=b"hello world\n" * 1000)
    assert (how, value) == ("code", 0)
    assert out == b"HELLO WORLD\n" * 1000
    blob = os.urandom(3 * 1024 * 1024 + 17)  # several windows' worth
    how, value, out, err = agent.run("sha256sum", stdin=blob, timeout=60)
    assert out.split()[0].decode() == hashlib.sha256(blob).hexdigest()
    # no stdin asked for: the child reads /dev/null
    how, value, out, err = agent.run("wc -c")
    assert out.strip() == b"0"


def test_bulk_100mb_while_shell_answers(agent):
    size = 100 * 1000 * 1000
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    check_shell(sh, 1)
    bulk = agent.open_exec(argv=["bash", "-c",
                                 "head -c %d /dev/urandom | tee >(sha256sum >&2)" % size])
    answered, errors, done = [], [], threading.Event()

    def echo_loop():
        i = 0
        try:
            while not done.is_set():
                i += 1
                check_shell(sh, 1000 + i)
                answered.append(time.monotonic())
        except Exception as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=echo_loop, daemon=True)
    t.start()
    h, got, err = hashlib.sha256(), 0, b""
    answered_during = 0
    deadline = time.monotonic() + 300
    while True:
        s, d = bulk.read_any(timeout=max(deadline - time.monotonic(), 0.1))
        if s is None:
            break
        if s == 1:
            h.update(d)
            got += len(d)
            if got < size:
                answered_during = len(answered)
        else:
            err += d
    done.set()
    t.join(30)
    assert not errors, errors
    assert bulk.wait_exit(30) == ("code", 0)
    assert got == size
    assert err.split()[0].decode() == h.hexdigest()
    # the shell kept answering while the bulk data was still flowing
    assert answered_during >= 3, answered_during
    assert agent.violations == []


def test_flow_control_bounds_agent(agent, agent_server):
    """A reader that stops reading: the agent stops too (window), its memory
    stays bounded, and another channel is not disturbed."""
    c = agent.open_exec(cmdline="yes flood")
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    time.sleep(1.0)
    with agent.cv:
        held = len(c.bufs[1])
    assert held <= c.window
    rss1 = agent_rss(agent_server.proc.pid)
    time.sleep(1.0)
    with agent.cv:
        assert len(c.bufs[1]) == held  # window exhausted: nothing more came
    check_shell(sh, 7)
    assert agent_rss(agent_server.proc.pid) < rss1 + 8 * 1024 * 1024
    c.close()
    sh.close()


def agent_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_tcp_relay_http(agent, tmp_path):
    body = os.urandom(300 * 1024)
    (tmp_path / "blob").write_bytes(body)
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: _Handler(*a, directory=str(tmp_path), **k))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        port = srv.server_address[1]
        c = agent.open_tcp(port)
        c.send(b"GET /blob HTTP/1.0\r\nHost: x\r\n\r\n")
        c.eof()
        resp = c.read_all(timeout=30)
        head, _, got = resp.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200")
        assert got == body
        c.wait_closed(10)
        # explicit host, two at once
        a1, a2 = agent.open_tcp(port, host="127.0.0.1"), agent.open_tcp(port)
        for c in (a1, a2):
            c.send(b"GET /nope HTTP/1.0\r\n\r\n")
        for c in (a1, a2):
            assert c.read_all(timeout=30).startswith(b"HTTP/1.0 404")
            c.close()
    finally:
        srv.shutdown()
        srv.server_close()
    # refused
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(OpenFailed) as e:
        agent.open_tcp(port)
    assert e.value.code == -9 and "refused" in e.value.msg.lower()
    with pytest.raises(OpenFailed):
        agent.open_tcp(80, host="not-an-address")


def test_channel_id_in_use_and_list(agent):
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    with pytest.raises(OpenFailed) as e:
        agent.open(KIND_SHELL, b"", cid=sh.id)
    assert e.value.code == E_EXISTS
    check_shell(sh, 3)  # the existing channel is untouched
    ls = agent.list_channels()
    assert [(c["id"], c["kind"], c["state"], c["pid"]) for c in ls] == \
        [(sh.id, KIND_SHELL, 0, sh.pid)]
    sh.close()
    assert agent.list_channels() == []


def test_session_survives_reconnect(agent_server):
    a = agent_server.connect()
    sh = a.open_shell(env=SHELL_ENV, shell="/bin/sh")
    shell_cmd(sh, "export HV=xyz$((100+23))", b"export")
    check_shell(sh, 10)
    cid, pid = sh.id, sh.pid
    a.close()
    time.sleep(0.2)
    b = agent_server.connect()
    try:
        ls = b.list_channels()
        assert {"id": cid, "kind": KIND_SHELL, "state": 0, "pid": pid} in ls
        sh2 = b.attach(cid, KIND_SHELL)
        shell_cmd(sh2, "echo $HV-ok", b"xyz123-ok")
        # a second HELLO on the same connection is a new session as well
        b.hello()
        shell_cmd(sh2, "echo $HV-again", b"xyz123-again")
        sh2.close()
        assert b.list_channels() == []
    finally:
        b.close()


def test_output_waits_while_disconnected(agent_server):
    a = agent_server.connect()
    c = a.open_exec(cmdline="sleep 0.5; seq 1 200000")
    cid = c.id
    a.close()
    time.sleep(1.5)  # the command ran and blocked on its pipe meanwhile
    b = agent_server.connect()
    try:
        c2 = b.attach(cid, KIND_EXEC)
        out, err = c2.collect(30)
        # bytes in flight on the old stream may be lost, the tail is not
        assert out.endswith(b"\n199999\n200000\n")
        assert c2.wait_exit(10) == ("code", 0)
    finally:
        b.close()


# ---- bad frames: each gets an ERROR, a parallel shell keeps working ----

@pytest.fixture
def with_shell(agent):
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    check_shell(sh, 0)
    yield agent, sh
    check_shell(sh, 99)
    assert 0 < agent.ping(timeout=10) < 10
    assert agent.violations == []
    sh.close()


def test_bad_oversized(with_shell):
    agent, sh = with_shell
    agent.send_raw(frame(DATA, sh.id, b"\0" * (MAX_PAYLOAD + 1)))
    assert agent.wait_error(0)[0] == E_TOOBIG
    check_shell(sh, 1)


def test_bad_unknown_type(with_shell):
    agent, sh = with_shell
    agent.send_raw(frame(0x7f, sh.id, b"junk"))
    assert agent.wait_error(0)[0] == E_TYPE
    check_shell(sh, 2)


def test_bad_version(with_shell):
    agent, sh = with_shell
    agent.send_raw(frame(DATA, sh.id, b"\0echo no\n", version=2))
    assert agent.wait_error(0)[0] == E_VERSION
    check_shell(sh, 3)


def test_bad_reserved(with_shell):
    agent, sh = with_shell
    agent.send_raw(frame(DATA, sh.id, b"\0echo no\n", reserved=1))
    assert agent.wait_error(0)[0] == E_PROTO
    check_shell(sh, 4)


def test_bad_truncated_payloads(with_shell):
    agent, sh = with_shell
    agent.send_raw(frame(WINDOW, sh.id, b"\0\1"))           # u32 cut short
    assert agent.wait_error(sh.id)[0] == E_PROTO
    agent.send_raw(frame(RESIZE, sh.id, b"\0\x20\0"))       # 3 of 8 bytes
    assert agent.wait_error(sh.id)[0] == E_PROTO
    agent.send_raw(frame(PING, 0, b"\1\2\3"))
    assert agent.wait_error(0)[0] == E_PROTO
    agent.send_raw(frame(DATA, sh.id, b""))                 # no stream byte
    assert agent.wait_error(sh.id)[0] == E_PROTO
    check_shell(sh, 5)


def test_bad_data_for_closed_channel(with_shell):
    agent, sh = with_shell
    c = agent.open_exec(cmdline="true")
    c.collect(10)
    c.wait_exit(10)
    c.wait_closed(10)  # our CLOSE answer goes out before anything below
    cid = c.id
    agent.send_raw(frame(DATA, cid, b"\0hello"))
    assert agent.wait_error(cid)[0] == E_NOCHAN
    agent.send_raw(frame(DATA, 4000000, b"\0hello"))
    assert agent.wait_error(4000000)[0] == E_NOCHAN
    agent.send_raw(frame(CLOSE, 4000001))
    assert agent.wait_error(4000001)[0] == E_NOCHAN
    check_shell(sh, 6)


def test_bad_open_tlvs(with_shell):
    agent, sh = with_shell
    bad = [
        open_payload(KIND_SHELL, 65536, b"\x02\x00\x09abc"),          # TLV overruns
        open_payload(KIND_SHELL, 65536, tlv(99, b"x")),              # unknown tag
        open_payload(KIND_EXEC, 65536, b""),                          # no argv/cmdline
        open_payload(9, 65536, b""),                                  # unknown kind
        open_payload(KIND_TCP, 65536, tlv(TAG_PORT, b"\0")),         # short port
        open_payload(KIND_EXEC, 65536, tlv(TAG_ARGV, b"a\0b")),      # NUL in string
        open_payload(KIND_SHELL, 0, b""),                             # zero window
        b"\x01",                                                      # truncated header
    ]
    for i, p in enumerate(bad):
        cid = 500 + i
        agent.send_raw(frame(OPEN, cid, p))
        code, msg = agent.wait_error(cid)
        assert code in (E_PROTO, E_KIND, -10), (i, code, msg)
    assert [c["id"] for c in agent.list_channels()] == [sh.id]
    check_shell(sh, 7)


def test_bad_window_overrun(with_shell):
    agent, sh = with_shell
    c = agent.open_exec(cmdline="sleep 100", stdin=True)
    chunk = b"\0" + b"x" * (MAX_PAYLOAD - 1)
    # the agent granted 256 KiB (+ a 64 KiB pipe) and `sleep` reads nothing
    for _ in range(8):
        agent.send_raw(frame(DATA, c.id, chunk))
    assert agent.wait_error(c.id)[0] == E_WINDOW
    check_shell(sh, 8)
    # wrong kind for RESIZE; exec without stdin refuses data
    agent.send_raw(frame(RESIZE, c.id, struct.pack(">HHHH", 10, 10, 0, 0)))
    code = E_WINDOW
    while code == E_WINDOW:  # one per overrunning frame, then the RESIZE's
        code = agent.wait_error(c.id)[0]
    assert code == E_STATE
    e = agent.open_exec(cmdline="sleep 100")
    agent.send_raw(frame(DATA, e.id, b"\0x"))
    assert agent.wait_error(e.id)[0] == E_STATE
    c.close()
    e.close()


def test_bad_frames_before_hello(agent_server):
    a = agent_server.connect(hello=False)
    try:
        a.send_raw(frame(OPEN, 7, open_payload(KIND_EXEC, 65536, tlv(TAG_ARGV, "true"))))
        assert a.wait_error(0)[0] == E_STATE
        assert 0 < a.ping(timeout=10) < 10  # PING is fine before HELLO
        a.send_raw(frame(HELLO, 0, hello_payload(version=2)))
        assert a.wait_error(0)[0] == E_VERSION
        a.send_raw(frame(HELLO, 0, hello_payload(flags=0)))
        assert a.wait_error(0)[0] == E_PROTO
        a.hello()
        assert a.list_channels() == []
    finally:
        a.close()


def test_dropped_mid_frame(agent_server):
    a = agent_server.connect()
    sh = a.open_shell(env=SHELL_ENV, shell="/bin/sh")
    check_shell(sh, 1)
    cid = sh.id
    # half a header, then half a payload, then gone
    a.send_raw(frame(DATA, cid, b"\0echo never\n")[:20])
    a.close()
    b = agent_server.connect()
    try:
        assert agent_server.alive()
        sh2 = b.attach(cid, KIND_SHELL)
        check_shell(sh2, 2)
        b.send_raw(frame(DATA, cid, b"\0echo nev")[:7])
    finally:
        b.close()
    c = agent_server.connect()
    try:
        sh3 = c.attach(cid, KIND_SHELL)
        shell_cmd(sh3, "echo al$((1))ive", b"al1ive")
        sh3.close()
    finally:
        c.close()
    assert agent_server.alive()


def test_eof_semantics(agent):
    # shell: EOF is accepted and ignored
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    sh.eof()
    check_shell(sh, 11)
    sh.close()
    # exec: EOF closes stdin
    c = agent.open_exec(argv=["cat"], stdin=True)
    c.send(b"abc")
    c.eof()
    assert c.collect(10) == (b"abc", b"")
    assert c.wait_exit(10) == ("code", 0)
    assert agent.errors == []


def test_shell_no_lost_tail(agent):
    """The exit status comes after every byte the shell wrote (ttyd #1429)."""
    for i in range(3):
        sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
        sh.send("seq 1 50000; exit %d\n" % (i + 2))
        out, _ = sh.collect(30)
        assert out.rstrip().endswith(b"\n49999\r\n50000"), out[-100:]
        assert sh.wait_exit(10) == ("code", i + 2)


def test_shell_exit_with_background_job(agent):
    """A background job that keeps the pty open does not hold the EXIT back."""
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    sh.send("sleep 3 & echo bg$((1))started; exit 6\n")
    out, _ = sh.collect(15)
    assert b"bg1started" in out
    assert sh.wait_exit(10) == ("code", 6)


def test_shell_tail_waits_for_window(agent):
    """The shell exits while most of its output still sits in the pty because
    the host granted a tiny window: nothing is lost, EXIT comes last."""
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh", window=1024)
    sh.send("seq 1 3000; exit 3\n")
    time.sleep(1.5)  # the shell is gone long before we read
    with agent.cv:
        assert sh.exit is None and len(sh.bufs[0]) <= 1024
    out, _ = sh.collect(30)
    assert out.rstrip().endswith(b"\n2999\r\n3000"), out[-100:]
    assert sh.wait_exit(10) == ("code", 3)


def test_random_frames_leave_other_channels_alone(with_shell):
    """A barrage of well-framed junk (random types, channels, payloads) at
    channels other than the shell's: errors come back, the shell is
    untouched. (No OPEN/CTL_REQ/HELLO: valid ones would act on this host.)"""
    import random
    agent, sh = with_shell
    rnd = random.Random(20261123)
    types = [DATA, WINDOW, RESIZE, SIGNAL, EOF, CLOSE, 0x11, 0x12, 0x18, PING, 0x03, 0x1a,
             0x05, 0x00, 0x20, 0xff]
    for i in range(3000):
        t = rnd.choice(types)
        ch = rnd.choice([0, 100 + rnd.randrange(8), 2 ** 32 - 1])
        if ch == sh.id:
            continue
        payload = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 2, 4, 5, 8, 9, 40])))
        agent.send_raw(frame(t, ch, payload))
        if i % 500 == 0:
            check_shell(sh, i)
    check_shell(sh, 4242)
    assert len(agent.errors) > 1000
    assert all(ch != sh.id for ch, _, _ in agent.errors)
    agent.errors.clear()


def test_flooding_shell_does_not_delay_echo(agent):
    """Shell A floods (`yes`, read as fast as we can); shell B keeps echoing."""
    flood = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    quiet = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    check_shell(quiet, 0)
    flood.send("yes flood\n")
    flood.read_until(b"flood\r\nflood\r\n", 10)
    got, stop = [0], threading.Event()

    def drain():
        while not stop.is_set():
            try:
                got[0] += len(flood.read(timeout=1))
            except Exception:
                pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        # echo until the flood has moved 4 MB alongside (and at least 20 times)
        i, deadline = 0, time.monotonic() + 120
        while (i < 20 or got[0] < 4 * 1024 * 1024) and time.monotonic() < deadline:
            check_shell(quiet, 100 + i)
            i += 1
        assert got[0] >= 4 * 1024 * 1024 and i >= 20, (got[0], i)
    finally:
        stop.set()
        t.join(5)
    flood.send(b"\x03")
    flood.close()
    quiet.close()


def test_exec_stdin_and_stdout_together(agent):
    """20 MB in and out at once (windows both ways, no deadlock)."""
    blob = os.urandom(20 * 1024 * 1024)
    how, value, out, err = agent.run("cat", stdin=blob, timeout=120)
    assert (how, value) == ("code", 0)
    assert hashlib.sha256(out).digest() == hashlib.sha256(blob).digest()


def test_shell_tty_modes(agent):
    """The pty starts in sane cooked mode with UTF-8 aware erase."""
    sh = agent.open_shell(env=SHELL_ENV, shell="/bin/sh")
    shell_cmd(sh, "stty -a | tr ' ' '\\n' | grep -x -e iutf8 -e icanon -e echo -e isig | "
                  "tr '\\n' , ; echo en$((0))d", line(b"iutf8,isig,icanon,echo,en0d"))
    sh.close()
