"""The SSH ingress (hearthd --ssh-listen, PROTOCOL.md 6) with clients nobody
here wrote: OpenSSH's ssh, scp and sftp, and paramiko. Most tests use the
host engine (the agent as a host process: no VM boot, the same hearthd,
worker and agent code); one boots a busybox VM under TCG."""
import base64
import hashlib
import hmac
import os
import pty
import select
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
import fcntl
import termios

import paramiko
import pytest

from hearthd_harness import REAL_BUSYBOX, Hearthd, busybox_images, wait_port
from conftest import guest_image

BOOT = 300


def ssh_base(port, known_hosts, user=None):
    a = ["ssh", "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=%s" % known_hosts, "-o", "LogLevel=ERROR",
         "-o", "ConnectTimeout=20"]
    if user:
        a += ["-l", user]
    return a


class Env:
    def __init__(self, hd, tmp):
        self.hd, self.tmp = hd, tmp
        self.known = os.path.join(tmp, "known_hosts")

    def token(self, vm_id, minutes=5):
        st, _, doc = self.hd.call("POST", "/microvms/%s/shell-auth-token" % vm_id,
                                  {"expirationInMinutes": minutes})
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]

    def ssh(self, vm_id, *cmd, tok=None, opts=(), **kw):
        """ssh with the token in the user name, BatchMode (no prompt)."""
        user = "%s#%s" % (vm_id, tok or self.token(vm_id))
        # Options the test gives come first: for ssh the first value of an option wins.
        args = ["ssh"] + list(opts) + ssh_base(self.hd.ssh_port, self.known, user)[1:]
        args += ["-o", "BatchMode=yes", "127.0.0.1"] + list(cmd)
        kw.setdefault("timeout", 60)
        return subprocess.run(args, capture_output=True, **kw)

    def ssh_password(self, user, password, *cmd, timeout=60):
        """ssh with a password from SSH_ASKPASS (no sshpass needed)."""
        askpass = os.path.join(self.tmp, "askpass")
        with open(askpass, "w") as f:
            f.write("#!/bin/sh\ncat \"$HEARTH_TEST_PW_FILE\"\n")
        os.chmod(askpass, 0o700)
        pwfile = os.path.join(self.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force",
                   DISPLAY=":0", HEARTH_TEST_PW_FILE=pwfile)
        args = ssh_base(self.hd.ssh_port, self.known, user) + [
            "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
            "127.0.0.1"] + list(cmd)
        return subprocess.run(args, capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)


def run_host_vm(hd):
    """A host-engine VM, RUNNING. Two runs close together can race on the
    image snapshot directory (a host-engine quirk, not SSH's): run again then."""
    for _ in range(3):
        st, _, vm = hd.run()
        assert st == 200, vm
        doc = hd.wait_state(vm["microvmId"], ("RUNNING", "TERMINATED"), 60)
        if doc["state"] == "RUNNING":
            return doc["microvmId"]
        time.sleep(1)
    raise AssertionError(doc)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ssh"))
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root),
                 extra=["--engine", "host"]).start()
    try:
        wait_port(hd.ssh_port)
        e = Env(hd, root)
        e.vm = run_host_vm(hd)
        yield e
    finally:
        hd.close()


def test_exec_streams_apart_and_exit_code(env):
    r = env.ssh(env.vm, "echo to-out; echo to-err >&2; exit 7")
    assert r.returncode == 7, r
    assert r.stdout == b"to-out\n" and r.stderr == b"to-err\n", r


def test_script_on_stdin(env):
    """What VS Code Remote-SSH does first: `ssh host bash < script`."""
    script = b"x=$((6 * 7))\necho \"answer $x\"\nexit 3\necho not-reached\n"
    r = env.ssh(env.vm, "bash", input=script)
    assert (r.returncode, r.stdout) == (3, b"answer 42\n"), r
    # Bytes on stdin arrive whole, then EOF (a 3 MB stream through the windows).
    data = os.urandom(3 << 20)
    r = env.ssh(env.vm, "sha256sum", input=data)
    assert r.returncode == 0 and r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_password_login_and_identical_refusals(env):
    tok = env.token(env.vm)
    r = env.ssh_password(env.vm, tok, "echo via-password")
    assert (r.returncode, r.stdout) == (0, b"via-password\n"), r

    # Valid signatures over other claims, made with the installation key:
    # expired, and for another VM (a second host-engine VM cannot run beside
    # the first in this tree: its image snapshot is rebuilt and collides).
    key = open(os.path.join(env.hd.state_dir, "token.key"), "rb").read()

    def resign(vm_id=None, times=None):
        p64 = tok.split(".")[1]
        payload = bytearray(base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4)))
        idlen = payload[2]
        if times:
            struct.pack_into(">QQ", payload, 3 + idlen + 4, *times)
        if vm_id:
            payload[2:3 + idlen] = bytes([len(vm_id)]) + vm_id.encode()
        p64 = base64.urlsafe_b64encode(bytes(payload)).rstrip(b"=").decode()
        mac = hmac.new(key, ("hth1." + p64).encode(), hashlib.sha256).digest()
        return "hth1.%s.%s" % (p64, base64.urlsafe_b64encode(mac).rstrip(b"=").decode())

    now = int(time.time())
    expired = resign(times=(now - 7200, now - 3600))
    other_vm = resign(vm_id="mvm-0123456789abcdef")
    assert resign() == tok  # the re-signing is right: unchanged claims give the token back
    forged = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
    outs = []
    for bad in (expired, other_vm, forged, "not-a-token"):
        r = env.ssh(env.vm, "echo in", tok=bad)
        assert r.returncode == 255 and r.stdout == b"", r
        outs.append(r.stderr.replace(bad.encode(), b"TOKEN"))
        r = env.ssh_password(env.vm, bad, "echo in")
        assert r.returncode == 255 and r.stdout == b"", r
        outs.append(r.stderr.replace(bad.encode(), b"TOKEN"))
    # An unknown VM, and a user name that names no VM at all.
    r = env.ssh("mvm-0000000000000000", "true", tok=tok)
    outs.append(r.stderr.replace(tok.encode(), b"TOKEN").replace(b"mvm-0000000000000000",
                                                                 env.vm.encode()))
    assert len(set(outs)) <= 2, outs  # "#TOKEN" user or plain user: one text each
    assert all(b"Permission denied (password)" in o for o in outs), outs
    log = env.hd.read_log()
    for t in (tok, expired, other_vm, forged):
        assert t not in log and t[-20:] not in log
    assert "#" + tok[:10] not in log


def test_pty_shell_with_term_and_resize(env):
    tok = env.token(env.vm)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-hearth-test"
        args = ssh_base(env.hd.ssh_port, env.known, "%s#%s" % (env.vm, tok))
        os.execvp("ssh", args + ["-tt", "-o", "BatchMode=yes", "-o", "SendEnv=LANG",
                                 "127.0.0.1"])
    out = bytearray()

    def winsize(rows, cols):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(pat, timeout=30):
        deadline = time.monotonic() + timeout
        while pat not in out:
            assert time.monotonic() < deadline, (pat, bytes(out[-2000:]))
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    out.extend(os.read(fd, 65536))
                except OSError:
                    break
        assert pat in out, (pat, bytes(out[-2000:]))

    try:
        winsize(30, 100)
        os.write(fd, b"echo T=$TERM; stty size; tty >/dev/null && echo IS-A-TTY\r")
        expect(b"T=xterm-hearth-test")
        expect(b"30 100")
        expect(b"IS-A-TTY")
        winsize(41, 123)
        time.sleep(0.5)
        os.write(fd, b"stty size\r")
        expect(b"41 123")
        os.write(fd, b"exit 5\r")
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.WEXITSTATUS(status) == 5, bytes(out[-500:])
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_command_on_a_pty(env, tmp_path):
    """ssh -t host cmd: the command runs on a pty of the client's size and
    TERM, and its exit status comes back."""
    tok = env.token(env.vm)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "vt220"
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        args = ssh_base(env.hd.ssh_port, env.known, "%s#%s" % (env.vm, tok))
        os.execvp("ssh", args + ["-tt", "-o", "BatchMode=yes", "127.0.0.1",
                                 "tty >/dev/null && echo PTY $TERM $(stty size); exit 4"])
    out = bytearray()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                break
            if not d:
                break
            out.extend(d)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"PTY vt220 33 111" in out, bytes(out)
    assert os.WEXITSTATUS(status) == 4, bytes(out)


def test_remote_forward_refused_session_goes_on(env):
    r = env.ssh(env.vm, "echo still-here", opts=["-R", "0:127.0.0.1:9",
                                                 "-o", "ExitOnForwardFailure=no",
                                                 "-o", "LogLevel=INFO"])
    assert r.returncode == 0 and r.stdout == b"still-here\n", r
    assert b"forwarding failed" in r.stderr or b"forward" in r.stderr.lower(), r
    # Agent and X11 forwarding asked for: refused, the command still runs.
    r = env.ssh(env.vm, "echo ok-too", opts=["-A", "-X", "-o", "ForwardX11Trusted=no"])
    assert r.returncode == 0 and r.stdout == b"ok-too\n", r


def _echo_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with c:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d.upper())
    threading.Thread(target=serve, daemon=True).start()
    return s


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_local_forward_reaches_a_port_in_the_guest(env):
    srv = _echo_server()
    lport, other = _free_port(), _free_port()
    while other == lport:
        other = _free_port()
    tok = env.token(env.vm)
    args = ssh_base(env.hd.ssh_port, env.known, "%s#%s" % (env.vm, tok)) + [
        "-o", "BatchMode=yes", "-N", "-o", "ExitOnForwardFailure=yes",
        "-L", "%d:localhost:%d" % (lport, srv.getsockname()[1]),
        "-L", "%d:192.0.2.1:80" % other, "127.0.0.1"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(lport, 20)
        wait_port(other, 20)
        with socket.create_connection(("127.0.0.1", lport), timeout=20) as c:
            c.sendall(b"hello through ssh")
            got = b""
            while len(got) < 17:
                d = c.recv(100)
                assert d, got
                got += d
        assert got == b"HELLO THROUGH SSH"
        # Another host than the guest's loopback: the channel ends, nothing answers.
        with socket.create_connection(("127.0.0.1", other), timeout=20) as c:
            c.settimeout(20)
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert c.recv(100) == b""
        assert p.poll() is None, p.stderr.read()
    finally:
        p.kill()
        p.wait(timeout=10)
        srv.close()


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def test_scp_and_sftp_20mb_each_way(env, tmp_path):
    """The host engine's agent runs the host's sftp-server (Debian's
    openssh-sftp-server), as a debian-12 guest would run its own."""
    tok = env.token(env.vm)
    user = "%s#%s" % (env.vm, tok)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(20 << 20))
    remote = tmp_path / "remote"
    remote.mkdir()
    base = ["-F", "/dev/null", "-P", str(env.hd.ssh_port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=%s" % env.known, "-o", "BatchMode=yes",
            # scp refuses a '#' in user@host of a source: the user as an option.
            "-o", "User=" + user]
    r = subprocess.run(["scp"] + base + [str(src), "127.0.0.1:%s/up.bin" % remote],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r
    assert _sha(remote / "up.bin") == _sha(src)
    back = tmp_path / "back.bin"
    r = subprocess.run(["scp"] + base + ["127.0.0.1:%s/up.bin" % remote, str(back)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r
    assert _sha(back) == _sha(src)

    batch = tmp_path / "batch"
    batch.write_text("put %s %s/sftp-up.bin\nget %s/sftp-up.bin %s/sftp-back.bin\nls %s\n" % (
        src, remote, remote, tmp_path, remote))
    r = subprocess.run(["sftp"] + base + ["-b", str(batch), "127.0.0.1"],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r
    assert _sha(remote / "sftp-up.bin") == _sha(src)
    assert _sha(tmp_path / "sftp-back.bin") == _sha(src)


def test_paramiko_exec(env):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", env.hd.ssh_port, username=env.vm, password=env.token(env.vm),
              look_for_keys=False, allow_agent=False, timeout=20)
    try:
        _, out, err = c.exec_command("printf abc; printf xyz >&2; exit 7", timeout=30)
        assert out.read() == b"abc" and err.read() == b"xyz"
        assert out.channel.recv_exit_status() == 7
    finally:
        c.close()


def test_userauth_success_from_the_client_gets_nothing(env):
    """The libssh CVE-2018-10933 shape: a client that sends
    SSH_MSG_USERAUTH_SUCCESS instead of authenticating must get no channel."""
    sock = socket.create_connection(("127.0.0.1", env.hd.ssh_port), timeout=20)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=20)
        m = paramiko.Message()
        m.add_byte(paramiko.common.cMSG_USERAUTH_SUCCESS)
        t._send_message(m)
        t.authenticated = True  # paramiko believes it; the server must not
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            ch = t.open_session(timeout=10)
            ch.exec_command("echo pwned")
            data = ch.recv(100)
            assert data == b"", data
            raise paramiko.SSHException("no data: refused")
    finally:
        t.close()


def test_host_key_persists_across_restarts(tmp_path):
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--engine", "host"]).start()
    try:
        def scan():
            wait_port(hd.ssh_port)
            r = subprocess.run(["ssh-keyscan", "-T", "10", "-t", "ed25519", "-p",
                                str(hd.ssh_port), "127.0.0.1"], capture_output=True,
                               timeout=30)
            line = [l for l in r.stdout.decode().splitlines() if "ssh-ed25519" in l]
            assert line, r
            return line[0].split()[-1]
        first = scan()
        keyfile = os.path.join(hd.state_dir, "ssh_host_ed25519_key")
        assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
        pub = open(keyfile + ".pub").read().split()[1]
        assert pub == first
        hd.stop()
        hd.start()
        assert scan() == first
    finally:
        hd.close()


def test_busy_port_and_off(tmp_path):
    """A taken SSH port costs SSH only (logged); "off" disables it."""
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--engine", "host", "--ssh-listen", "127.0.0.1:%d" % port]).start()
    try:
        st, _, _ = hd.call("GET", "/microvms")
        assert st == 200
        assert "ssh ingress disabled" in hd.read_log()
    finally:
        hd.close()
        blocker.close()
    hd = Hearthd(str(tmp_path / "state2"), busybox_images(str(tmp_path)),
                 extra=["--engine", "host", "--ssh-listen", "off"]).start()
    try:
        assert hd.call("GET", "/microvms")[0] == 200
        assert "ssh ingress" not in hd.read_log()
    finally:
        hd.close()


def test_unauthenticated_connections_are_bounded(env):
    """Past 16 connections that have not logged in, more are closed at once;
    the ones that log in are not held back by them."""
    idle = []
    try:
        for _ in range(16):
            idle.append(socket.create_connection(("127.0.0.1", env.hd.ssh_port), timeout=10))
        for s in idle:
            s.settimeout(10)
            assert s.recv(100).startswith(b"SSH-2.0-")
        extra = socket.create_connection(("127.0.0.1", env.hd.ssh_port), timeout=10)
        extra.settimeout(10)
        try:
            assert extra.recv(100) == b""
        except ConnectionResetError:
            pass
        extra.close()
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 20
    while True:
        r = env.ssh(env.vm, "echo back")
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.stdout == b"back\n", r


def test_busybox_vm_exec_and_no_sftp_server(tmp_path):
    """A real VM (busybox, TCG): exec with the exit code; sftp says clearly
    that the image has no sftp-server."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        wait_port(hd.ssh_port)
        e = Env(hd, str(tmp_path))
        vm = hd.run_running(BOOT)["microvmId"]
        r = e.ssh(vm, "uname -s; echo err >&2; exit 7", timeout=120)
        assert (r.returncode, r.stdout, r.stderr) == (7, b"Linux\n", b"err\n"), r
        user = "%s#%s" % (vm, e.token(vm))
        batch = tmp_path / "b"
        batch.write_text("ls /\n")
        r = subprocess.run(["sftp", "-F", "/dev/null", "-P", str(hd.ssh_port), "-o",
                            "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=%s" % e.known,
                            "-o", "BatchMode=yes", "-b", str(batch), "%s@127.0.0.1" % user],
                           capture_output=True, timeout=120)
        assert r.returncode != 0 and b"openssh-sftp-server" in r.stderr, r
    finally:
        hd.close()


def test_busybox_vm_forward_resume_and_refusals(tmp_path):
    """A real VM: -L reaches a server on the guest's loopback, while a port
    that only the host's loopback has stays unreachable; a SUSPENDED VM with
    autoResume resumes on connect; without autoResume the command fails with
    a message saying so."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    srv = _echo_server()  # on the host's loopback only
    try:
        wait_port(hd.ssh_port)
        e = Env(hd, str(tmp_path))
        vm = hd.run_running(BOOT)["microvmId"]
        r = e.ssh(vm, "mkdir -p /tmp/www && echo guest-page > /tmp/www/index.html && "
                      "busybox httpd -p 127.0.0.1:8080 -h /tmp/www && echo started", timeout=120)
        assert r.returncode == 0 and r.stdout == b"started\n", r
        lport, hport, lport2 = _free_port(), srv.getsockname()[1], _free_port()
        tok = e.token(vm)
        args = ssh_base(hd.ssh_port, e.known, "%s#%s" % (vm, tok)) + [
            "-o", "BatchMode=yes", "-N", "-L", "%d:localhost:8080" % lport,
            "-L", "%d:127.0.0.1:%d" % (lport2, hport), "127.0.0.1"]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(lport, 30)
            wait_port(lport2, 30)
            with socket.create_connection(("127.0.0.1", lport), timeout=30) as c:
                c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                got = b""
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    got += d
            assert got.startswith(b"HTTP/1.") and got.endswith(b"guest-page\n"), got
            with socket.create_connection(("127.0.0.1", lport2), timeout=30) as c:
                c.settimeout(30)
                c.sendall(b"ping")
                assert c.recv(100) == b""  # the host's echo server never answers
        finally:
            p.kill()
            p.wait(timeout=10)

        for auto in (True, False):
            sid, stok = hd.run_suspended(auto, e.token, BOOT)
            r = e.ssh(sid, "echo resumed", tok=stok, timeout=240)
            if auto:
                assert (r.returncode, r.stdout) == (0, b"resumed\n"), r
                assert hd.get(sid)[2]["state"] == "RUNNING"
            else:
                assert r.returncode != 0 and b"autoResume" in r.stderr, r
                assert hd.get(sid)[2]["state"] == "SUSPENDED"
    finally:
        srv.close()
        hd.close()


def test_cli_ssh_config_and_keyscan(env, tmp_path):
    """hearth ssh-config's entries and ssh-keyscan's known_hosts lines are all
    OpenSSH needs, with strict host key checking."""
    hearth = os.path.join(os.environ.get("HEARTH_BUILD", ""), "bin", "hearth")
    cenv = dict(os.environ, **env.hd.client_env())
    r = subprocess.run([hearth, "ssh-config", "--minutes", "5"], capture_output=True,
                       timeout=30, env=cenv)
    assert r.returncode == 0, r
    cfg = tmp_path / "config"
    cfg.write_bytes(r.stdout)
    assert b"Host %s\n" % env.vm.encode() in r.stdout
    assert b"Port %d\n" % env.hd.ssh_port in r.stdout
    r = subprocess.run([hearth, "ssh-keyscan"], capture_output=True, timeout=30, env=cenv)
    assert r.returncode == 0, r
    known = tmp_path / "known"
    known.write_bytes(r.stdout)
    alias = "hearth-127.0.0.1-%d" % env.hd.ssh_port
    assert r.stdout.startswith(alias.encode() + b" ssh-ed25519 ")
    pub = open(os.path.join(env.hd.state_dir, "ssh_host_ed25519_key.pub")).read().split()[:2]
    assert r.stdout.split(b"\n")[0].split()[1:] == [p.encode() for p in pub]
    r = subprocess.run(["ssh", "-F", str(cfg), "-o", "StrictHostKeyChecking=yes",
                        "-o", "UserKnownHostsFile=%s" % known, "-o", "BatchMode=yes",
                        env.vm, "echo via-config"], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, b"via-config\n"), r
    # A wrong key in known_hosts: OpenSSH refuses (the alias really is checked).
    known.write_text("%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPfOKJhzYBWs2kbw1IdfTqBMnVfGN7sYyNkNw6qI5Bd\n"
                     % alias)
    r = subprocess.run(["ssh", "-F", str(cfg), "-o", "StrictHostKeyChecking=yes",
                        "-o", "UserKnownHostsFile=%s" % known, "-o", "BatchMode=yes",
                        env.vm, "echo via-config"], capture_output=True, timeout=60)
    assert r.returncode == 255 and b"HOST IDENTIFICATION HAS CHANGED" in r.stderr, r
    r = subprocess.run([hearth, "ssh-config", env.vm, "--no-token"], capture_output=True,
                       timeout=30, env=cenv)
    assert r.returncode == 0 and b"    User %s\n" % env.vm.encode() in r.stdout, r
    assert b"hth1." not in r.stdout
    r = subprocess.run([hearth, "ssh-keyscan", "--fingerprint"], capture_output=True,
                       timeout=30, env=cenv)
    fp = subprocess.run(["ssh-keygen", "-lf", os.path.join(env.hd.state_dir,
                                                            "ssh_host_ed25519_key.pub")],
                        capture_output=True, timeout=30).stdout.split()[1]
    assert r.returncode == 0 and r.stdout.split()[0] == fp, (r, fp)


def test_debian_vm_scp_sftp_20mb_each_way(tmp_path):
    """The debian-12 image has sftp-server: scp (SFTP) and sftp into a real VM."""
    root = str(tmp_path)
    d = os.path.join(root, "images", "debian-12")
    os.makedirs(d)
    import shutil
    shutil.copy(guest_image("debian-12"), os.path.join(d, "image.json"))
    hd = Hearthd(os.path.join(root, "state"), os.path.join(root, "images")).start()
    try:
        wait_port(hd.ssh_port)
        e = Env(hd, root)
        vm = hd.run_running(BOOT, imageIdentifier="debian-12")["microvmId"]
        user = "%s#%s" % (vm, e.token(vm))
        src = tmp_path / "src.bin"
        src.write_bytes(os.urandom(20 << 20))
        base = ["-F", "/dev/null", "-P", str(hd.ssh_port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=%s" % e.known, "-o", "BatchMode=yes",
                "-o", "User=" + user]
        r = subprocess.run(["scp"] + base + [str(src), "127.0.0.1:/root/up.bin"],
                           capture_output=True, timeout=600)
        assert r.returncode == 0, r
        r = e.ssh(vm, "sha256sum /root/up.bin", timeout=120)
        assert r.stdout.split()[0].decode() == _sha(src), r
        batch = tmp_path / "batch"
        batch.write_text("get /root/up.bin %s/back.bin\n" % tmp_path)
        r = subprocess.run(["sftp"] + base + ["-b", str(batch), "127.0.0.1"],
                           capture_output=True, timeout=600)
        assert r.returncode == 0, r
        assert _sha(tmp_path / "back.bin") == _sha(src)
    finally:
        hd.close()


def test_rsync_and_dynamic_forward(env, tmp_path):
    """rsync -e ssh both ways; ssh -D (SOCKS) to the guest's localhost."""
    tok = env.token(env.vm)
    rsh = " ".join(ssh_base(env.hd.ssh_port, env.known) + ["-o", "BatchMode=yes",
                                                             "-o", "User=%s#%s" % (env.vm, tok)])
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.bin").write_bytes(os.urandom(3 << 20))
    (src / "b.txt").write_text("hello\n")
    dst = tmp_path / "dst"
    r = subprocess.run(["rsync", "-a", "-e", rsh, str(src) + "/", "127.0.0.1:%s/" % dst],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r
    assert _sha(dst / "sub" / "a.bin") == _sha(src / "sub" / "a.bin")
    back = tmp_path / "back"
    r = subprocess.run(["rsync", "-a", "-e", rsh, "127.0.0.1:%s/" % dst, str(back) + "/"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r
    assert (back / "b.txt").read_text() == "hello\n"

    srv = _echo_server()
    sport = _free_port()
    p = subprocess.Popen(ssh_base(env.hd.ssh_port, env.known, "%s#%s" % (env.vm, tok)) + [
        "-o", "BatchMode=yes", "-N", "-D", "127.0.0.1:%d" % sport, "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(sport, 20)
        with socket.create_connection(("127.0.0.1", sport), timeout=20) as c:
            c.sendall(b"\x05\x01\x00")
            assert c.recv(2) == b"\x05\x00"
            name = b"localhost"
            c.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name +
                      struct.pack(">H", srv.getsockname()[1]))
            rep = c.recv(10)
            assert rep[:2] == b"\x05\x00", rep
            c.sendall(b"socks")
            assert c.recv(100) == b"SOCKS"
    finally:
        p.kill()
        p.wait(timeout=10)
        srv.close()


def test_silent_client_is_cut_off_before_login(env):
    """A client that never finishes the key exchange is disconnected by the
    login deadline (30 s in the worker, 35 s in hearthd)."""
    s = socket.create_connection(("127.0.0.1", env.hd.ssh_port), timeout=60)
    t0 = time.monotonic()
    try:
        s.settimeout(60)
        banner = s.recv(100)
        assert banner.startswith(b"SSH-2.0-"), banner
        s.sendall(b"SSH-2.0-silent\r\n")  # then nothing: no KEXINIT
        while True:
            try:
                d = s.recv(4096)
            except ConnectionResetError:
                break
            if not d:
                break
        took = time.monotonic() - t0
        assert 25 < took < 45, took
    finally:
        s.close()


def test_env_signal_exit_and_channel_bound(env):
    """SendEnv passes LANG and LC_* only; a command killed by a signal gets
    exit-signal; a 17th channel on one connection is refused, the others work."""
    r = env.ssh(env.vm, "echo L=$LANG C=$LC_TIME F=${HEARTH_FOO:-unset}",
                opts=["-o", "SendEnv=LANG LC_TIME HEARTH_FOO"],
                env=dict(os.environ, LANG="C.UTF-8", LC_TIME="C", HEARTH_FOO="leak"))
    assert r.stdout == b"L=C.UTF-8 C=C F=unset\n", r
    r = env.ssh(env.vm, "echo before; kill -TERM $$", opts=["-o", "LogLevel=DEBUG1"])
    assert r.returncode == 255 and r.stdout == b"before\n", r
    assert b"rtype exit-signal" in r.stderr and b"rtype exit-status" not in r.stderr, r

    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", env.hd.ssh_port, username="%s#%s" % (env.vm, env.token(env.vm)),
              password="", look_for_keys=False, allow_agent=False, timeout=20)
    try:
        chans = []
        for _ in range(16):
            s = c.get_transport().open_session(timeout=20)
            s.exec_command("cat")
            chans.append(s)
        with pytest.raises(paramiko.ChannelException):
            c.get_transport().open_session(timeout=20)
        chans[0].sendall(b"still ")
        chans[0].shutdown_write()
        assert chans[0].recv(100) == b"still "
        assert chans[0].recv_exit_status() == 0
        for s in chans[1:]:
            s.close()
    finally:
        c.close()


def test_ssh_traffic_keeps_a_vm_awake(tmp_path):
    """SSH traffic counts as activity: a VM with a 3 s idle limit stays
    RUNNING through an 8 s command that prints every second, and is
    suspended once the traffic stops."""
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                 extra=["--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    try:
        wait_port(hd.ssh_port)
        e = Env(hd, str(tmp_path))
        vm = hd.run_running(BOOT, idlePolicy={"maxIdleDurationSeconds": 3,
                                              "suspendedDurationSeconds": 600,
                                              "autoResumeEnabled": True})["microvmId"]
        r = e.ssh(vm, "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 1; done", timeout=120)
        assert r.returncode == 0 and r.stdout.split() == [b"%d" % i for i in range(1, 9)], r
        assert hd.get(vm)[2]["state"] == "RUNNING"
        hd.wait_state(vm, "SUSPENDED", 30)
    finally:
        hd.close()


def _workers():
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if b"--ssh-worker" in f.read().split(b"\0"):
                    found.append(int(d))
        except OSError:
            pass
    return found


def test_worker_is_confined(env):
    """A logged-in connection's worker: its own uid when hearthd is root, no
    new privileges, a seccomp filter, an empty root (nothing of the host's
    filesystem), and no way to make a socket or signal another process."""
    before = set(_workers())
    p = subprocess.Popen(ssh_base(env.hd.ssh_port, env.known,
                                  "%s#%s" % (env.vm, env.token(env.vm))) +
                         ["-o", "BatchMode=yes", "127.0.0.1", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert p.stdout.readline() == b"up\n"
        new = [w for w in _workers() if w not in before]
        assert len(new) == 1, new
        w = new[0]
        st = dict(l.split(":", 1) for l in open("/proc/%d/status" % w).read().splitlines())
        assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2", st
        if os.geteuid() == 0:
            uids = st["Uid"].split()
            assert len(set(uids)) == 1 and int(uids[0]) == 0x6f000000 + w, uids
            assert st["Groups"].strip() == ""
        assert os.listdir("/proc/%d/root" % w) == []
        assert os.path.samefile("/proc/%d/cwd" % w, "/proc/%d/root" % w)
        fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % w))
        assert fds[:5] == [0, 1, 2, 3, 4] and len(fds) <= 6, fds
    finally:
        p.kill()
        p.wait(timeout=10)
