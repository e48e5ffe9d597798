"""Real microVMs through hearth-vm (QEMU microvm, TCG here): boot, run a command
through the agent, snapshot, clone, suspend/resume, stop, and failure reports.

hearth-vm prints "started pid=N", then "ready pid=N agent=SOCK ms=T" and takes
one command per stdin line ("ok ..."/"err ..."). Every wait has a deadline.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from agentproto import Agent
from conftest import guest_image

# The tree these tests belong to (tests/run.sh sets HEARTH_BUILD).
BUILD = os.environ.get("HEARTH_BUILD",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
HEARTH_VM = os.path.join(BUILD, "bin", "hearth-vm")
GUEST = os.environ.get("HEARTH_GUEST", os.path.join(BUILD, "guest"))
BOOT_S = 240        # TCG boots of the Debian image are slow on a busy 2-core box
OP_S = 60


def image_json(name):
    return os.path.join(GUEST, name, "image.json")


def need_image(name):
    return guest_image(name, GUEST)


class HearthVM:
    """One hearth-vm process driven over stdin/stdout with deadlines."""

    def __init__(self, args, run_dir, env=None, pass_fds=()):
        self.run_dir = run_dir
        self.buf = b""
        self.pid = None          # QEMU's pid
        self.agent_path = None
        self.ready_ms = None
        self.t0 = time.monotonic()
        self.errlog = tempfile.TemporaryFile()
        self.p = subprocess.Popen([HEARTH_VM] + args + ["--dir", run_dir],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.errlog, env=env, pass_fds=pass_fds)

    @classmethod
    def boot(cls, image, run_dir, *extra):
        return cls(["boot", "--image", image_json(image), *extra], run_dir)

    @classmethod
    def restore(cls, snap, run_dir, *extra, pass_fds=()):
        return cls(["restore", "--snapshot", snap, *extra], run_dir, pass_fds=pass_fds)

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"hearth-vm said nothing for {timeout}s (have {self.buf!r})")
            import select
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    if self.buf:
                        break
                    raise EOFError("hearth-vm exited: " + self.stderr())
                self.buf += chunk
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln.decode()

    def stderr(self):
        self.errlog.seek(0)
        return self.errlog.read().decode(errors="replace")[-2000:]

    def started(self, timeout=BOOT_S):
        ln = self.line(timeout)
        if not ln.startswith("started "):
            raise RuntimeError(ln)
        self.pid = int(ln.split("pid=")[1].split()[0])
        return self.pid

    def ready(self, timeout=BOOT_S):
        ln = self.line(timeout)
        if ln.startswith("started "):
            self.pid = int(ln.split("pid=")[1].split()[0])
            ln = self.line(timeout)
        if not ln.startswith("ready "):
            raise RuntimeError(ln)
        kv = dict(x.split("=", 1) for x in ln.split()[1:])
        self.pid = int(kv["pid"])
        self.agent_path = kv["agent"]
        self.ready_ms = int(kv["ms"])
        return self

    def cmd(self, text, timeout=OP_S):
        self.p.stdin.write((text + "\n").encode())
        self.p.stdin.flush()
        return self.line(timeout)

    def agent(self):
        a = Agent.connect_unix(self.agent_path)
        a.hello()
        return a

    def wait_exit(self, timeout=30):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
            raise

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()  # EOF = stop
            except OSError:
                pass
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)
        if self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        self.errlog.close()


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def run_ok(agent, cmdline, timeout=60):
    how, value, out, err = agent.run(cmdline, timeout)
    assert (how, value) == ("code", 0), f"{cmdline!r}: exit {how}/{value} stderr={err!r}"
    return out.decode()


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


@pytest.fixture(scope="module")
def busybox_snap(tmp_path_factory):
    """One busybox VM with a marker file, snapshotted once for the module."""
    need_image("busybox")
    base = str(tmp_path_factory.mktemp("snap"))
    vm = HearthVM.boot("busybox", os.path.join(base, "run"))
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo snapshot-marker > /tmp/marker")
        a.close()
        snap = os.path.join(base, "snap")
        r = vm.cmd(f"snapshot {snap}")
        assert r.startswith("ok snapshot"), r
    finally:
        vm.close()
    return snap


@pytest.mark.parametrize("image", ["busybox", "debian-12"])
def test_boot_and_run(image, tmp):
    need_image(image)
    vm = HearthVM.boot(image, os.path.join(tmp, "run"))
    try:
        vm.ready()
        a = vm.agent()
        out = run_ok(a, "echo hello-from-$(uname -s); cat /proc/cmdline")
        assert "hello-from-Linux" in out
        how, value, _, _ = a.run("exit 7", 60)
        assert (how, value) == ("code", 7)
        a.close()
        assert vm.cmd("stop").startswith("ok stop")
        assert vm.wait_exit() == 0
    finally:
        vm.close()


def test_clones_are_independent_and_unique(busybox_snap, tmp):
    clones = [HearthVM.restore(busybox_snap, os.path.join(tmp, f"c{i}"), "--id", f"clone{i}")
              for i in range(2)]
    try:
        for c in clones:
            c.ready()
        a, b = (c.agent() for c in clones)
        # Both start from the snapshot's state.
        assert run_ok(a, "cat /tmp/marker").strip() == "snapshot-marker"
        assert run_ok(b, "cat /tmp/marker").strip() == "snapshot-marker"
        # Different randomness right after restore.
        ra = run_ok(a, "head -c 32 /dev/urandom | od -An -tx1")
        rb = run_ok(b, "head -c 32 /dev/urandom | od -An -tx1")
        assert ra.strip() and ra != rb
        assert run_ok(a, "hostname").strip() == "clone0"
        assert run_ok(b, "hostname").strip() == "clone1"
        # A file written in one clone is absent in the other.
        run_ok(a, "echo only-a > /tmp/only-a")
        how, value, _, _ = b.run("test -e /tmp/only-a", 60)
        assert (how, value) == ("code", 1)
        assert run_ok(a, "cat /tmp/only-a").strip() == "only-a"
        a.close()
        b.close()
    finally:
        for c in clones:
            c.close()


def test_disk_clones_are_independent(tmp):
    """debian-12 runs from a disk: clones get their own overlay over the snapshot's disk."""
    need_image("debian-12")
    vm = HearthVM.boot("debian-12", os.path.join(tmp, "run"))
    snap = os.path.join(tmp, "snap")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo on-disk > /root/before && sync")
        a.close()
        assert vm.cmd(f"snapshot {snap}").startswith("ok snapshot")
        # Snapshotting again before resuming works too (QEMU took the disks back).
        assert vm.cmd(f"snapshot {snap}b").startswith("ok snapshot")
        # The original goes on after the snapshot on its own overlay.
        assert vm.cmd("resume") == "ok resume"
        a = vm.agent()
        run_ok(a, "echo after > /root/after && sync")
        a.close()
        # A second snapshot chains onto the first one's disk.
        assert vm.cmd(f"snapshot {snap}2").startswith("ok snapshot")
    finally:
        vm.close()
    for name, files in ((snap + "2", ["on-disk", "after"]), (snap + "b", ["on-disk"])):
        later = HearthVM.restore(name, os.path.join(tmp, "later"))
        try:
            later.ready()
            x = later.agent()
            assert run_ok(x, "cat /root/before; cat /root/after 2>/dev/null; true").split() == files
            x.close()
        finally:
            later.close()
    clones = [HearthVM.restore(snap, os.path.join(tmp, f"c{i}")) for i in range(2)]
    try:
        for c in clones:
            c.ready()
        a, b = (c.agent() for c in clones)
        for x in (a, b):
            assert run_ok(x, "cat /root/before").strip() == "on-disk"
            how, value, _, _ = x.run("test -e /root/after", 60)
            assert (how, value) == ("code", 1), "a write made after the snapshot leaked into a clone"
        run_ok(a, "echo mine > /root/clone-a && sync")
        how, value, _, _ = b.run("test -e /root/clone-a", 60)
        assert (how, value) == ("code", 1)
        a.close()
        b.close()
    finally:
        for c in clones:
            c.close()


def test_first_open_after_restore_never_takes_a_live_channel_id(tmp):
    """A snapshot taken while channel 1 is live in the agent (its client left without
    closing it, as a client whose exec CLOSE has not reached the agent yet): a restored
    VM's relay learns the agent's live channels before it reads any client, so a new
    client's first OPEN on id 1, sent right after ready, gets a fresh agent id instead
    of "channel id in use" (what made test_disk_clones_are_independent flaky)."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    snap = os.path.join(tmp, "snap")
    try:
        vm.ready()
        a = vm.agent()
        c = a.open_exec(cmdline="sleep 600")
        assert c.id == 1
        a.close()
        assert vm.cmd(f"snapshot {snap}").startswith("ok snapshot")
    finally:
        vm.close()
    for i in range(6):
        later = HearthVM.restore(snap, os.path.join(tmp, f"r{i}"))
        try:
            later.ready()
            x = later.agent()
            assert run_ok(x, "echo fine").strip() == "fine"
            assert any(ch["id"] == 1 for ch in x.list_channels()), "the live channel is gone"
            x.close()
        finally:
            later.close()


@pytest.mark.parametrize("image", ["busybox", "debian-12"])
def test_suspend_resume_keeps_state(image, tmp):
    need_image(image)
    vm = HearthVM.boot(image, os.path.join(tmp, "run"))
    susp = os.path.join(tmp, "suspended")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo kept > /tmp/kept")
        if image == "debian-12":
            run_ok(a, "echo kept > /root/kept-disk")
        run_ok(a, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done)"
                  " </dev/null >/dev/null 2>&1 &")
        sh = a.open_shell()
        sh.send(b"export HEARTH_VAR=bar42; echo set-$HEARTH_VAR\n")
        sh.read_until(b"set-bar42", 60)
        shell_id, shell_window = sh.id, sh.tx_initial
        time.sleep(0.5)
        before = int(run_ok(a, "cat /tmp/count"))
        a.close()
        qemu_pid = vm.pid
        r = vm.cmd(f"suspend {susp}")
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
        # Suspended: no QEMU holds the guest's memory.
        assert not pid_alive(qemu_pid)
        assert os.path.exists(os.path.join(susp, "memory.bin"))
    finally:
        vm.close()

    vm = HearthVM.restore(susp, os.path.join(tmp, "run2"))
    try:
        vm.ready()
        a = vm.agent()
        assert run_ok(a, "cat /tmp/kept").strip() == "kept"
        if image == "debian-12":
            # The disk came along too: a file written before suspend, on disk.
            assert run_ok(a, "cat /root/kept-disk").strip() == "kept"
        ids = [c["id"] for c in a.list_channels()]
        assert shell_id in ids, f"shell channel {shell_id} not in {ids}"
        sh = a.attach(shell_id, kind=1)
        # A new session resets windows to their initial values (PROTOCOL.md 1.4).
        sh.tx_window = sh.tx_initial = shell_window
        sh.send(b"echo got-$HEARTH_VAR\n")
        sh.read_until(b"got-bar42", 60)
        c1 = int(run_ok(a, "cat /tmp/count"))
        assert c1 >= before
        deadline = time.monotonic() + 60
        while int(run_ok(a, "cat /tmp/count")) <= c1:
            assert time.monotonic() < deadline, "the counter stopped after resume"
            time.sleep(0.3)
        run_ok(a, "echo again > /tmp/again")
        a.close()
        # Suspend the resumed VM again (its disk now chains onto the first suspend's).
        r = vm.cmd(f"suspend {susp}2")
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
    finally:
        vm.close()

    vm = HearthVM.restore(susp + "2", os.path.join(tmp, "run3"))
    try:
        vm.ready()
        a = vm.agent()
        assert run_ok(a, "cat /tmp/kept /tmp/again").split() == ["kept", "again"]
        if image == "debian-12":
            assert run_ok(a, "cat /root/kept-disk").strip() == "kept"
        a.close()
    finally:
        vm.close()


def test_stop_leaves_nothing_behind(tmp):
    need_image("busybox")
    run = os.path.join(tmp, "run")
    vm = HearthVM.boot("busybox", run)
    try:
        vm.ready()
        qemu_pid = vm.pid
        assert os.path.exists(vm.agent_path)
        assert vm.cmd("stop").startswith("ok stop")
        assert vm.wait_exit() == 0
        assert not pid_alive(qemu_pid)
        assert not os.path.exists(run), f"left behind: {os.listdir(run)}"
    finally:
        vm.close()


def copy_snap(src, dst):
    shutil.copytree(src, dst)
    return dst


def restore_fails(snap, run, timeout=60):
    t = time.monotonic()
    vm = HearthVM.restore(snap, run, "--timeout", "30000")
    try:
        ln = vm.line(timeout)
        assert ln.startswith("err "), ln
        assert vm.wait_exit() == 1
        assert not os.path.exists(run) or not os.listdir(run)
        return ln, time.monotonic() - t
    finally:
        vm.close()


def test_truncated_snapshot_refused(busybox_snap, tmp):
    snap = copy_snap(busybox_snap, os.path.join(tmp, "s"))
    mem = os.path.join(snap, "memory.bin")
    os.truncate(mem, os.path.getsize(mem) // 2)
    ln, _ = restore_fails(snap, os.path.join(tmp, "run"))
    assert "truncated" in ln


def test_corrupt_snapshot_refused(busybox_snap, tmp):
    """The device state is hashed (format 2 maps memory.bin unread: size only)."""
    snap = copy_snap(busybox_snap, os.path.join(tmp, "s"))
    mem = os.path.join(snap, "state.bin")
    with open(mem, "r+b") as f:
        f.seek(os.path.getsize(mem) // 3)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x55]))
    ln, _ = restore_fails(snap, os.path.join(tmp, "run"))
    assert "corrupt" in ln


def test_bad_manifest_refused(busybox_snap, tmp):
    snap = copy_snap(busybox_snap, os.path.join(tmp, "s"))
    man = os.path.join(snap, "manifest.json")
    with open(man) as f:
        text = f.read()
    with open(man, "w") as f:
        f.write(text[: len(text) // 2])
    ln, _ = restore_fails(snap, os.path.join(tmp, "run"))
    assert "manifest" in ln
    os.unlink(man)
    ln, _ = restore_fails(snap, os.path.join(tmp, "run"))
    assert "not a snapshot" in ln


def test_incoming_failure_reported(busybox_snap, tmp):
    """A device state QEMU cannot load (checksum made to match) fails fast with QEMU's words."""
    import json
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    snap = copy_snap(busybox_snap, os.path.join(tmp, "s"))
    mem = os.path.join(snap, "state.bin")
    with open(mem, "r+b") as f:
        f.write(b"NOTQEMU!")   # the stream magic
    man = os.path.join(snap, "manifest.json")
    with open(man) as f:
        m = json.load(f)
    assert m["version"] == 2
    m["state"]["xxh64"] = xxh64_file(mem)
    with open(man, "w") as f:
        json.dump(m, f)
    ln, _ = restore_fails(snap, os.path.join(tmp, "run"))
    assert "QEMU exited" in ln, ln


def xxh64_file(path):
    """XXH64 (seed 0) in Python, to forge a manifest that passes hearth's check."""
    P1, P2, P3, P4, P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                          9650029242287828579, 2870177450012600261)
    M = (1 << 64) - 1

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M

    def rnd(acc, v):
        return (rotl((acc + v * P2) & M, 31) * P1) & M

    data = open(path, "rb").read()
    n = len(data)
    import struct
    i = 0
    if n >= 32:
        v = [(P1 + P2) & M, P2, 0, (-P1) & M]
        words = struct.unpack_from("<%dQ" % ((n // 32) * 4), data)
        for j in range(0, len(words), 4):
            v[0] = rnd(v[0], words[j])
            v[1] = rnd(v[1], words[j + 1])
            v[2] = rnd(v[2], words[j + 2])
            v[3] = rnd(v[3], words[j + 3])
        i = (n // 32) * 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for x in v:
            h = ((h ^ rnd(0, x)) * P1 + P4) & M
    else:
        h = P5
    h = (h + n) & M
    while i + 8 <= n:
        h ^= rnd(0, struct.unpack_from("<Q", data, i)[0])
        h = (rotl(h, 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & M
        h = (rotl(h, 23) * P2 + P3) & M
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M
        h = (rotl(h, 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    h ^= h >> 32
    return "%016x" % h


def test_qemu_killed_during_boot_reported(tmp):
    need_image("busybox")
    run = os.path.join(tmp, "run")
    vm = HearthVM.boot("busybox", run)
    try:
        pid = vm.started()
        os.kill(pid, signal.SIGKILL)
        ln = vm.line(60)
        assert ln.startswith("err "), ln
        assert "killed by signal 9" in ln, ln
        assert vm.wait_exit() == 1
        assert not os.path.exists(run)
    finally:
        vm.close()


def test_qemu_killed_during_snapshot_reported(tmp):
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    try:
        vm.ready()
        # Freeze QEMU so the snapshot is surely in flight, then kill it.
        os.kill(vm.pid, signal.SIGSTOP)
        vm.p.stdin.write(f"snapshot {tmp}/snap\n".encode())
        vm.p.stdin.flush()
        time.sleep(0.5)
        os.kill(vm.pid, signal.SIGKILL)
        ln = vm.line(60)
        assert ln.startswith("err "), ln
        assert "killed by signal 9" in ln, ln
        assert not os.path.exists(os.path.join(tmp, "snap", "manifest.json"))
    finally:
        vm.close()


def test_stuck_qemu_hits_the_deadline(tmp):
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"), "--op-timeout", "2000")
    try:
        vm.ready()
        os.kill(vm.pid, signal.SIGSTOP)
        t = time.monotonic()
        ln = vm.cmd(f"snapshot {tmp}/snap", timeout=30)
        assert ln.startswith("err ") and "timed out" in ln, ln
        assert time.monotonic() - t < 20
        os.kill(vm.pid, signal.SIGCONT)
    finally:
        vm.close()


def test_agent_relay_keeps_frames_whole(tmp):
    """A client that leaves mid-frame does not break the stream for the next one,
    and a second client works beside the first (the relay serves many)."""
    import socket
    import struct
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    try:
        vm.ready()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(vm.agent_path)
        # Half of a HELLO frame, then gone.
        s.sendall(struct.pack(">BBHII", 1, 1, 0, 0, 40) + b"\x00\x01")
        s.close()
        first = vm.agent()
        assert run_ok(first, "echo one").strip() == "one"
        second = vm.agent()
        assert run_ok(second, "echo two").strip() == "two"
        assert run_ok(first, "echo one-again").strip() == "one-again"  # both stay connected
        assert not first.lost
        first.close()
        second.close()
        assert vm.cmd("stop").startswith("ok stop")
    finally:
        vm.close()


def test_bulk_output_intact_under_backpressure(tmp):
    """Guest-to-host bulk data with a host that stops reading for a while:
    the agent port throttles instead of dropping bytes (a virtio console would
    drop them), so every byte arrives and the checksum matches."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "head -c 8388608 /dev/urandom > /tmp/blob")
        want = run_ok(a, "sha256sum /tmp/blob").split()[0]
        c = a.open_exec(cmdline="cat /tmp/blob", window=4 * 1024 * 1024)
        time.sleep(2)  # let the guest fill every buffer between it and us
        out, err = c.collect(timeout=120)
        how, value = c.wait_exit(timeout=60)
        assert (how, value) == ("code", 0), err
        assert len(out) == 8388608
        assert hashlib.sha256(out).hexdigest() == want
        # The stream is still in step afterwards.
        assert run_ok(a, "echo after").strip() == "after"
        a.close()
    finally:
        vm.close()


def test_format1_snapshot_still_restores(tmp):
    """A snapshot in the old eager format (HEARTH_SNAP_EAGER=1 writes it) restores, and
    its VM suspends again in that format; an unknown version is refused by name."""
    import json
    need_image("busybox")
    env = dict(os.environ, HEARTH_SNAP_EAGER="1")
    vm = HearthVM(["boot", "--image", image_json("busybox")], os.path.join(tmp, "run"), env=env)
    snap = os.path.join(tmp, "v1")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo v1 > /tmp/v1")
        a.close()
        r = vm.cmd(f"suspend {snap}")
        assert r.startswith("ok suspend"), r
    finally:
        vm.close()
    with open(os.path.join(snap, "manifest.json")) as f:
        m = json.load(f)
    assert m["version"] == 1 and "xxh64" in m["memory"]
    assert not os.path.exists(os.path.join(snap, "state.bin"))
    vm = HearthVM.restore(snap, os.path.join(tmp, "run2"))
    try:
        vm.ready()
        a = vm.agent()
        assert run_ok(a, "cat /tmp/v1").strip() == "v1"
        a.close()
        r = vm.cmd(f"suspend {snap}b")
        assert r.startswith("ok suspend"), r
    finally:
        vm.close()
    with open(os.path.join(snap + "b", "manifest.json")) as f:
        assert json.load(f)["version"] == 1
    m["version"] = 3
    with open(os.path.join(snap, "manifest.json"), "w") as f:
        json.dump(m, f)
    ln, _ = restore_fails(snap, os.path.join(tmp, "run3"))
    assert "version 3 not supported" in ln, ln
