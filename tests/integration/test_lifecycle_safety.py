"""hearthd's safety around VMs, with real VMs (busybox image): one daemon per
state directory, a keeper identified by PID and start time (a stale PID is
never signalled), memoryBytes from the engine process, the capacity budget,
unexpected deaths logged with their cause, and suspend as a transaction when
the snapshot's file system fills up. Every wait has a deadline."""
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from agentproto import Agent
from conftest import needs_root
from hearthd_harness import HEARTHD, Hearthd, busybox_images

BOOT = 300
STEP = 120


def sh(hd, vm_id, cmd, timeout=60):
    sock = os.path.join(hd.state_dir, "vms", vm_id, "agent.sock")
    with Agent.connect_unix(sock, timeout=30) as a:
        a.hello(timeout=30)
        how, value, out, err = a.run(cmd, timeout=timeout)
    assert (how, value) == (0, 0), (cmd, how, value, out, err)
    return out.decode()


def keeper_of(hd, vm_id):
    mine = [p for p in hd.keepers()
            if vm_id.encode() in open("/proc/%d/cmdline" % p, "rb").read()]
    assert len(mine) == 1, (vm_id, mine)
    return mine[0]


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(p))
    return out


def engine_of(hd, vm_id):
    """The VM's engine process: the keeper's QEMU child (not its guard)."""
    kids = [k for k in children(keeper_of(hd, vm_id))
            if b"qemu" in open("/proc/%d/cmdline" % k, "rb").read().split(b"\0")[0]]
    assert len(kids) == 1, kids
    return kids[0]


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def hd(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--test-tick-ms", "200"]).start()
    yield d
    d.close()


def test_second_hearthd_on_the_same_state_is_refused(hd):
    vid = hd.run_running(BOOT)["microvmId"]
    keeper = keeper_of(hd, vid)
    with open(os.path.join(hd.state_dir, "hearthd.lock")) as f:
        assert f.read().strip() == str(hd.proc.pid)
    t0 = time.monotonic()
    r = subprocess.run([HEARTHD, "--api-listen", "127.0.0.1:0", "--ingress-listen",
                        "127.0.0.1:0", "--state-dir", hd.state_dir, "--image-dir",
                        hd.image_dir], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert time.monotonic() - t0 < 5
    err = r.stderr.decode()
    assert "pid %d" % hd.proc.pid in err, err
    # Nothing changed: the first daemon and its VM run on, same keeper.
    assert hd.alive()
    doc = hd.get(vid)[2]
    assert doc["state"] == "RUNNING", doc
    assert keeper_of(hd, vid) == keeper
    assert sh(hd, vid, "echo ok").strip() == "ok"
    # The lock goes with the holder, even on kill -9: the next daemon adopts.
    hd.kill9()
    hd.start()
    assert hd.get(vid)[2]["state"] == "RUNNING"
    assert keeper_of(hd, vid) == keeper
    with open(os.path.join(hd.state_dir, "hearthd.lock")) as f:
        assert f.read().strip() == str(hd.proc.pid)


def set_keeper_pid(state_dir, vm_id, pid):
    db = sqlite3.connect(os.path.join(state_dir, "hearth.db"))
    with db:
        n = db.execute("UPDATE microvms SET keeper_pid=? WHERE id=?", (pid, vm_id)).rowcount
    db.close()
    assert n == 1


def test_stale_keeper_pid_is_never_signalled(hd):
    dead = hd.run_running(BOOT)["microvmId"]
    live = hd.run_running(STEP)["microvmId"]
    sh(hd, live, "echo kept > /root/f")
    live_keeper = keeper_of(hd, live)
    hd.kill9()
    # dead's keeper ends while hearthd is down; its PID now "belongs" to a sleep.
    k = keeper_of(hd, dead)
    os.kill(k, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while alive(k) and time.monotonic() < deadline:
        time.sleep(0.05)
    stray = subprocess.Popen(["sleep", "600"], start_new_session=True)
    stray2 = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        set_keeper_pid(hd.state_dir, dead, stray.pid)
        # live's keeper is alive, but the store names a stranger.
        set_keeper_pid(hd.state_dir, live, stray2.pid)
        hd.start()
        doc = hd.wait_state(dead, "TERMINATED", STEP)
        assert "engine process" in doc["stateReason"], doc
        # live is re-adopted through its own socket, not the stored PID.
        doc = hd.get(live)[2]
        assert doc["state"] == "RUNNING", (doc, hd.read_log())
        assert sh(hd, live, "cat /root/f").strip() == "kept"
        assert keeper_of(hd, live) == live_keeper
        hd.call("DELETE", "/microvms/" + live)
        hd.wait_state(live, "TERMINATED", STEP)
        deadline = time.monotonic() + 30
        while alive(live_keeper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(live_keeper)
        time.sleep(0.5)
        assert stray.poll() is None and stray2.poll() is None, "a stranger was signalled"
    finally:
        for p in (stray, stray2):
            p.kill()
            p.wait()


def test_memory_bytes_is_the_engines_resident_memory(hd):
    vid = hd.run_running(BOOT)["microvmId"]
    engine = engine_of(hd, vid)
    keeper = keeper_of(hd, vid)
    for _ in range(3):
        before = rss(engine)
        mem = hd.get(vid)[2]["hearth"]["memoryBytes"]
        after = rss(engine)
        lo, hi = min(before, after), max(before, after)
        if lo - (4 << 20) <= mem <= hi + (4 << 20):
            break
        time.sleep(0.2)
    assert lo - (4 << 20) <= mem <= hi + (4 << 20), (mem, before, after)
    # Not the keeper's (a small process): QEMU holds the guest's memory.
    assert mem > 2 * rss(keeper), (mem, rss(keeper))
    hd.call("POST", "/microvms/%s/suspend" % vid)
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED" and "memoryBytes" not in doc["hearth"], doc


def test_capacity_budget_refuses_runs_and_resumes(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--max-vms", "1"]).start()
    try:
        first = d.run_running(BOOT)["microvmId"]
        keepers = d.keepers()
        st, err, doc = d.run()
        assert (st, err) == (402, "ServiceQuotaExceededException"), (st, err, doc)
        assert "--max-vms" in doc["message"], doc
        # Nothing was started or stored, the first VM is untouched.
        items = d.call("GET", "/microvms")[2]["items"]
        assert [i["microvmId"] for i in items] == [first]
        assert d.keepers() == keepers
        assert d.get(first)[2]["state"] == "RUNNING"
        assert sh(d, first, "echo ok").strip() == "ok"
        # A suspended VM holds no memory: a second one may run, and the
        # first may not resume beside it.
        d.call("POST", "/microvms/%s/suspend" % first)
        assert d.wait_state(first, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
        second = d.run_running(STEP)["microvmId"]
        st, err, doc = d.call("POST", "/microvms/%s/resume" % first)
        assert (st, err) == (402, "ServiceQuotaExceededException"), (st, err, doc)
        time.sleep(1)
        assert d.get(first)[2]["state"] == "SUSPENDED"
        d.call("DELETE", "/microvms/" + second)
        d.wait_state(second, "TERMINATED", STEP)
        assert d.call("POST", "/microvms/%s/resume" % first)[0] == 200
        assert d.wait_state(first, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    finally:
        d.close()
    # A memory budget below one VM refuses every run.
    d = Hearthd(str(tmp_path / "state2"), busybox_images(str(tmp_path)),
                extra=["--max-memory", "64M"]).start()
    try:
        st, err, doc = d.run()
        assert (st, err) == (402, "ServiceQuotaExceededException"), (st, err, doc)
        assert "--max-memory" in doc["message"], doc
        assert d.keepers() == []
    finally:
        d.close()


def test_unexpected_deaths_are_logged_with_their_cause(hd):
    a = hd.run_running(BOOT)["microvmId"]
    b = hd.run_running(STEP)["microvmId"]
    os.kill(engine_of(hd, a), signal.SIGKILL)
    doc = hd.wait_state(a, "TERMINATED", STEP)
    assert "engine process exited unexpectedly" in doc["stateReason"], doc
    assert "status 4" in doc["stateReason"], doc
    os.kill(keeper_of(hd, b), signal.SIGKILL)
    doc = hd.wait_state(b, "TERMINATED", STEP)
    assert "killed by signal 9" in doc["stateReason"], doc
    log = hd.read_log()
    assert "%s: VM died" % a in log and "%s: VM died" % b in log, log


def free_bytes(d):
    st = os.statvfs(d)
    return st.f_bavail * st.f_frsize


def fill_to(d, room):
    """A filler file in d that leaves about room bytes free; its path."""
    path = os.path.join(d, "filler")
    with open(path, "wb") as f:
        left = free_bytes(d) - room
        chunk = b"\xff" * (1 << 20)
        while left > 0:
            left -= f.write(chunk[:min(left, len(chunk))])
    return path


def fill_racing(d, stop, after=None):
    """Fill d up (ENOSPC) while the suspend writes; keep it full until stop.
    With after=(path, size): first wait until the file path holds size bytes
    (the memory image is written: the suspend is between that and its
    manifest, the window where an engine that ends QEMU early loses the VM)."""
    if after:
        deadline = time.monotonic() + STEP
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if os.path.getsize(after[0]) >= after[1]:
                    break
            except OSError:
                pass
            time.sleep(0.0005)
    with open(os.path.join(d, "filler-race"), "wb", buffering=0) as f:
        try:
            while not stop.is_set():
                f.write(b"\xff" * (256 << 10))
        except OSError:
            pass
        stop.wait(STEP)


@pytest.fixture
def small_vms(tmp_path):
    """hearthd whose STATE/vms/ (every VM's run dir and suspend snapshots) is
    a 512 MiB tmpfs, filled by the test; the image snapshots stay outside."""
    vms = tmp_path / "state" / "vms"
    vms.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0700", "tmpfs",
                        str(vms)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--test-tick-ms", "200"])
    try:
        d.start()
        yield d
    finally:
        d.close()
        subprocess.run(["umount", "-l", str(vms)], capture_output=True, timeout=30)


@needs_root
def test_disk_full_during_suspend_never_loses_the_vm(small_vms):
    """Suspends into a full file system, failing at different points (the
    memory image, the manifest, or a filler racing the suspend): each time the
    VM is RUNNING (the reason recorded) or SUSPENDED and resumable, its memory
    intact, and the store agrees once the API does."""
    hd = small_vms
    vid = hd.run_running(BOOT)["microvmId"]
    vms = os.path.join(hd.state_dir, "vms")
    vmdir = os.path.join(vms, vid)
    sh(hd, vid, "echo in-guest-memory > /root/f")
    # One good suspend measures a snapshot of this VM.
    hd.call("POST", "/microvms/%s/suspend" % vid)
    assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
    size = snapshot_bytes(os.path.join(vmdir, "susp-1"))
    # The memory: a whole file, or (a VM that wrote little) a delta over its image's.
    mem_name = next(n for n in ("memory.bin", "memory.delta")
                    if os.path.exists(os.path.join(vmdir, "susp-1", n)))
    mem_bytes = os.path.getsize(os.path.join(vmdir, "susp-1", mem_name))
    print("snapshot %d bytes, memory image %d bytes" % (size, mem_bytes))
    hd.call("POST", "/microvms/%s/resume" % vid)
    assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    page = 4096
    rooms = [0, 64 << 10, 1 << 20, size // 2, size * 9 // 10, size - 2 * page,
             size // page * page, size // page * page + page, size + 2 * page, size + (1 << 20)]
    outcomes = []
    for room in rooms + ["race", "race"] + ["after-memory"] * 3:
        stop = threading.Event()
        racer = None
        filler = None
        if room == "race":
            racer = threading.Thread(target=fill_racing, args=(vms, stop))
            racer.start()
        elif room == "after-memory":
            mem = os.path.join(vmdir, "susp-%d.tmp" % next_susp(vmdir), mem_name)
            filler = fill_to(vms, mem_bytes + (4 << 20))  # the memory image fits
            racer = threading.Thread(target=fill_racing,
                                     args=(vms, stop, (mem, mem_bytes * 9 // 10)))
        else:
            filler = fill_to(vms, room)
        try:
            if room == "after-memory":
                racer.start()
            assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
            doc = hd.wait_state(vid, ("RUNNING", "SUSPENDED", "TERMINATED"), STEP)
            assert doc["state"] in ("RUNNING", "SUSPENDED"), (room, doc, hd.read_log())
            if doc["state"] == "RUNNING":
                assert "suspend failed" in doc["stateReason"], doc
        finally:
            stop.set()
            if racer and racer.is_alive():
                racer.join(30)
            for n in os.listdir(vms):
                if n.startswith("filler"):
                    os.unlink(os.path.join(vms, n))
        outcomes.append((room, doc["state"]))
        # The store agrees (a failed state write is retried until it lands).
        deadline = time.monotonic() + 30
        while stored_state(hd, vid) != doc["state"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_state(hd, vid) == doc["state"], (room, doc)
        if doc["state"] == "SUSPENDED":
            assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
            doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)
            assert doc["state"] == "RUNNING", (room, doc)
        assert sh(hd, vid, "cat /root/f").strip() == "in-guest-memory", (room, outcomes)
    # Both outcomes happened: full enough to fail, roomy enough to succeed.
    assert {"RUNNING", "SUSPENDED"} <= {s for _, s in outcomes}, outcomes
    # No unfinished snapshot directory is left behind.
    assert not [n for n in os.listdir(vmdir) if n.endswith(".tmp")], os.listdir(vmdir)


def stored_state(hd, vid):
    db = sqlite3.connect(os.path.join(hd.state_dir, "hearth.db"))
    try:
        return db.execute("SELECT state FROM microvms WHERE id=?", (vid,)).fetchone()[0]
    finally:
        db.close()


def next_susp(vmdir):
    ns = [int(n[5:]) for n in os.listdir(vmdir) if n.startswith("susp-") and n[5:].isdigit()]
    return max(ns, default=0) + 1


def snapshot_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def test_failed_state_writes_are_retried_until_they_land(hd):
    """Another process holds the store's write lock: hearthd's state writes
    fail (SQLITE_BUSY). The API still shows the VM's real state (never
    SUSPENDING for good), resume works, and once the lock goes the retried
    write lands in the store."""
    vid = hd.run_running(BOOT)["microvmId"]
    sh(hd, vid, "echo kept > /root/f")
    blocker = sqlite3.connect(os.path.join(hd.state_dir, "hearth.db"), isolation_level=None,
                              timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        assert hd.call("POST", "/microvms/%s/suspend" % vid, timeout=60)[0] == 200
        doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
        assert doc["state"] == "SUSPENDED", doc
        assert stored_state(hd, vid) == "RUNNING"  # every write so far failed
        assert "retrying" in hd.read_log()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    deadline = time.monotonic() + 60
    while stored_state(hd, vid) != "SUSPENDED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored_state(hd, vid) == "SUSPENDED", hd.read_log()
    assert "after retrying" in hd.read_log()
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    assert sh(hd, vid, "cat /root/f").strip() == "kept"
    # Survives a restart: the landed row is what the next hearthd reads.
    hd.kill9()
    hd.start()
    assert hd.get(vid)[2]["state"] == "RUNNING"
