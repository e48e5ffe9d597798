"""Guest memory in snapshot format 2 (issue 18), with real VMs (busybox, TCG unless KVM):
RAM mapped copy-on-write from the snapshot's memory file, suspend writing the base's data
plus the pages written (a delta after a resume from a suspend snapshot), clones of one
image snapshot independent yet sharing its clean pages, and a keeper killed during a
suspend leaving the previous snapshot resumable through hearthd."""
import fcntl
import hashlib
import mmap
import os
import signal
import time

from test_vm import HearthVM, need_image, pid_alive, run_ok, tmp  # noqa: F401 (tmp: fixture)
from test_lifecycle_safety import (BOOT, STEP, engine_of, hd, keeper_of,  # noqa: F401 (hd: fixture)
                                   next_susp, sh)

# MB of pattern the big test writes into guest memory (a 1 GiB guest); the issue asks 500.
PATTERN_MB = int(os.environ.get("HEARTH_TEST_PATTERN_MB", "500"))
MIB = 1 << 20


def pattern_md5(tag, mb):
    """What `fill` writes: per MiB a header line then 1 MiB of "hearth-<tag>\\n" lines, so
    no two pages of the file are alike and a page landing elsewhere changes the digest."""
    line = f"hearth-{tag}\n".encode()
    p1 = (line * (MIB // len(line) + 1))[:MIB]
    h = hashlib.md5()
    for i in range(mb):
        h.update(f"blk{i}\n".encode())
        h.update(p1)
    return h.hexdigest()


def fill(agent, path, tag, mb, tmpfs_mb=None):
    if tmpfs_mb:
        run_ok(agent, f"mkdir -p /mnt/m && mount -t tmpfs -o size={tmpfs_mb}m tmpfs /mnt/m", 60)
    run_ok(agent, f"yes hearth-{tag} | head -c {MIB} > /tmp/p1.{tag} && i=0; "
                  f"while [ $i -lt {mb} ]; do echo blk$i; cat /tmp/p1.{tag}; i=$((i+1)); done"
                  f" > {path} && rm /tmp/p1.{tag}", 1800)


def md5_in_guest(agent, path):
    return run_ok(agent, f"md5sum {path}", 1800).split()[0]


def manifest(snap):
    import json
    with open(os.path.join(snap, "manifest.json")) as f:
        return json.load(f)


def allocated(path):
    return os.stat(path).st_blocks * 512


def test_pattern_survives_suspend_resume_and_a_delta_suspend(tmp):
    """PATTERN_MB of a known pattern in guest memory: suspend, resume (mapped: nothing
    read up front), check; dirty a little, suspend again (a delta of about that much,
    the memory file linked, not rewritten), resume, check both."""
    need_image("busybox")
    want = pattern_md5("A", PATTERN_MB)
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"), "--mem", "1024",
                       "--op-timeout", "600000")
    s1, s2 = os.path.join(tmp, "s1"), os.path.join(tmp, "s2")
    try:
        vm.ready()
        a = vm.agent()
        fill(a, "/mnt/m/p", "A", PATTERN_MB, PATTERN_MB + 64)
        assert md5_in_guest(a, "/mnt/m/p") == want
        a.close()
        r = vm.cmd(f"suspend {s1}", timeout=600)
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
    finally:
        vm.close()
    m = manifest(s1)
    assert m["version"] == 2 and m["kind"] == "suspend" and "delta" not in m["memory"], m
    mem = os.path.join(s1, "memory.bin")
    assert os.path.getsize(mem) == 1024 * MIB
    # Written: the pattern (it is not zero), not the whole 1 GiB of RAM.
    assert PATTERN_MB * MIB <= allocated(mem) < (PATTERN_MB + 200) * MIB, allocated(mem)

    vm = HearthVM.restore(s1, os.path.join(tmp, "run2"), "--op-timeout", "600000")
    try:
        vm.ready()
        # Mapped, not loaded: the QEMU holds far less than the pattern right after resume.
        with open(f"/proc/{vm.pid}/status") as f:
            rss = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) * 1024
        assert rss < PATTERN_MB * MIB // 2, rss
        a = vm.agent()
        assert md5_in_guest(a, "/mnt/m/p") == want
        fill(a, "/tmp/q", "B", 16)
        a.close()
        r = vm.cmd(f"suspend {s2}", timeout=600)
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
    finally:
        vm.close()
    m = manifest(s2)
    assert m["memory"].get("delta"), m
    # The memory file is the first snapshot's (a link), the delta about what was written:
    # the 16 MB file plus what reading the pattern and the shell touched, not the pattern.
    assert os.stat(os.path.join(s2, "memory.bin")).st_ino == os.stat(mem).st_ino
    delta = os.path.getsize(os.path.join(s2, "memory.delta"))
    assert 16 * MIB <= delta < min(200, PATTERN_MB // 2) * MIB, delta

    vm = HearthVM.restore(s2, os.path.join(tmp, "run3"), "--op-timeout", "600000")
    try:
        vm.ready()
        a = vm.agent()
        assert md5_in_guest(a, "/mnt/m/p") == want
        assert md5_in_guest(a, "/tmp/q") == pattern_md5("B", 16)
        a.close()
    finally:
        vm.close()


def image_snapshot(tmp):
    """An image snapshot (`snapshot`, restorable any number of times) of a 256 MiB
    busybox VM that wrote /tmp/from-image: its directory."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"), "--mem", "256")
    snap = os.path.join(tmp, "img")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo image > /tmp/from-image")
        a.close()
        assert vm.cmd(f"snapshot {snap}").startswith("ok snapshot")
    finally:
        vm.close()
    return snap


def test_clones_keep_their_own_patterns_and_share_clean_pages(tmp):
    """Two clones of one image snapshot write different patterns at the same place: each
    reads back only its own, the snapshot's memory file is never written, and the two
    QEMUs share the snapshot's clean pages (one page cache, private copies only of what
    each wrote)."""
    snap = image_snapshot(tmp)
    assert manifest(snap)["kind"] == "snapshot"
    mem = os.path.join(snap, "memory.bin")
    before = hashlib.sha256(open(mem, "rb").read()).hexdigest()
    clones = [HearthVM.restore(snap, os.path.join(tmp, f"c{i}"), "--id", f"c{i}")
              for i in range(2)]
    try:
        for c in clones:
            c.ready()
        agents = [c.agent() for c in clones]
        for x, tag in zip(agents, "XY"):
            fill(x, "/tmp/p", tag, 48)
        for x, tag in zip(agents, "XY"):
            assert md5_in_guest(x, "/tmp/p") == pattern_md5(tag, 48)
            assert run_ok(x, "cat /tmp/from-image").strip() == "image"
        shared = []
        for c in clones:
            assert pid_alive(c.pid)
            shared.append(mapped_shared_kb(c.pid, mem))
        for x in agents:
            x.close()
    finally:
        for c in clones:
            c.close()
    # Each QEMU maps pages of the snapshot's file that the other maps too.
    assert all(s > 1024 for s in shared), shared
    assert hashlib.sha256(open(mem, "rb").read()).hexdigest() == before


def mapped_shared_kb(pid, path):
    """Shared_Clean kB of pid's mappings of path (/proc/pid/smaps)."""
    ino = os.stat(path).st_ino
    total, inside = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for ln in f:
            p = ln.split()
            if "-" in p[0] and len(p) >= 5 and ":" in p[3]:
                inside = p[4] == str(ino)
            elif inside and p[0] == "Shared_Clean:":
                total += int(p[1])
    return total


def test_keeper_killed_during_suspend_leaves_the_last_snapshot(hd):  # noqa: F811
    """Through hearthd: suspend, resume, write, suspend (a delta), resume, write more and
    suspend once more, killing the keeper (and so QEMU) while that snapshot is being
    written. The VM falls back to its previous snapshot: SUSPENDED, and resumes with
    what it held then."""
    vid = hd.run_running(BOOT)["microvmId"]
    vmdir = os.path.join(hd.state_dir, "vms", vid)

    def cycle(word):
        sh(hd, vid, f"echo {word} >> /root/words")
        assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
        assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
        assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
        assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"

    cycle("one")
    cycle("two")  # resumed from a delta snapshot
    killed = False
    for attempt in range(5):
        # Enough written that the delta takes a while to write.
        sh(hd, vid, "echo lost >> /root/words; head -c 40000000 /dev/urandom > /tmp/noise", 600)
        keeper = keeper_of(hd, vid)
        n = next_susp(vmdir)
        tmpdir = os.path.join(vmdir, f"susp-{n}.tmp")
        assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
        deadline = time.monotonic() + STEP
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(tmpdir, "memory.delta")) or \
               os.path.exists(os.path.join(tmpdir, "state.bin")):
                os.kill(keeper, signal.SIGKILL)
                killed = not os.path.exists(os.path.join(tmpdir, "manifest.json"))
                break
            if not os.path.isdir(tmpdir) and os.path.isdir(os.path.join(vmdir, f"susp-{n}")):
                break  # finished before we saw it: try again
            time.sleep(0.0002)
        doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED", "RUNNING"), STEP)
        if killed:
            break
        assert doc["state"] == "SUSPENDED", doc
        assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
        assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    assert killed, "the suspend always finished before the keeper could be killed"
    assert doc["state"] == "SUSPENDED", (doc, hd.read_log())
    assert "previous snapshot" in doc.get("stateReason", ""), doc
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)
    assert doc["state"] == "RUNNING", (doc, hd.read_log())
    words = sh(hd, vid, "cat /root/words").split()
    assert words[:2] == ["one", "two"], words


def chain(path):
    """The qcow2 files of path's backing chain (path first), read without taking QEMU's lock."""
    import json
    import subprocess
    r = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", "--output=json", path],
                       capture_output=True, timeout=60, check=True)
    return [i["filename"] for i in json.loads(r.stdout) if i["format"] == "qcow2"]


def test_disk_chain_stays_short_over_many_suspends(tmp):
    """debian-12 (a disk): eight suspend/resume cycles, each writing a file. Each resume
    adds an overlay; past three, the engine streams the chain into the new overlay while
    the VM runs (block-stream), so no snapshot's disk chain grows past four files, and
    every file written is there at the end."""
    need_image("debian-12")
    vm = HearthVM.boot("debian-12", os.path.join(tmp, "run"))
    snap = os.path.join(tmp, "s0")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo 0 > /root/f0 && sync")
        a.close()
        time.sleep(0.5)  # the exec channel's close reaches the agent (see test_vm)
        assert vm.cmd(f"suspend {snap}").startswith("ok suspend")
    finally:
        vm.close()
    depths = []
    for i in range(1, 9):
        run = os.path.join(tmp, f"run{i}")
        vm = HearthVM.restore(snap, run)
        try:
            vm.ready()
            a = vm.agent()
            run_ok(a, f"echo {i} > /root/f{i} && sync")
            a.close()
            time.sleep(0.5)
            # Let a stream that started finish (it is cancelled, harmlessly, otherwise).
            deadline = time.monotonic() + 120
            while len(chain(os.path.join(run, "disk-0.qcow2"))) > 3 and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            snap = os.path.join(tmp, f"s{i}")
            assert vm.cmd(f"suspend {snap}").startswith("ok suspend")
        finally:
            vm.close()
        depths.append(len(chain(os.path.join(snap, "disk.qcow2"))))
        assert manifest(snap)["disk"]["depth"] == depths[-1], manifest(snap)
    # Without streaming the chain would be 2, 3, ..., 9 long.
    assert max(depths) <= 4 and depths[-1] < 9, depths
    assert depths.count(1) >= 2, depths
    vm = HearthVM.restore(snap, os.path.join(tmp, "last"))
    try:
        vm.ready()
        a = vm.agent()
        assert run_ok(a, "cat " + " ".join(f"/root/f{i}" for i in range(9))).split() == \
            [str(i) for i in range(9)]
        a.close()
    finally:
        vm.close()


SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def sealed_memfd(path, seal=True):
    """What hearthd hands every VM of an image (ramfile_seal): memory.bin's data extents
    copied into a memfd (holes stay holes), sealed against writes. Inheritable."""
    size = os.path.getsize(path)
    fd = os.memfd_create("test-image", os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    src = os.open(path, os.O_RDONLY)
    pos = 0
    try:
        while pos < size:
            try:
                d = os.lseek(src, pos, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(src, d, os.SEEK_HOLE)
            while d < h:
                buf = os.pread(src, min(h - d, 8 * MIB), d)
                os.pwrite(fd, buf, d)
                d += len(buf)
            pos = h
    finally:
        os.close(src)
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    os.set_inheritable(fd, True)
    return fd


def memfds_of(pid):
    """{fd: (inode, seals)} of pid's memfd descriptors, each checked by reopening it
    read-write through /proc (as QEMU 7.2 does with its mem-path) and trying to write."""
    out = {}
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        if not link.startswith("/memfd:"):
            continue
        fd = os.open(f"/proc/{pid}/fd/{n}", os.O_RDWR)
        try:
            seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
            try:
                os.pwrite(fd, b"escaped", 0)
                wrote = True
            except PermissionError:
                wrote = False
            try:
                mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close()
                shared_writable = True
            except PermissionError:
                shared_writable = False
            out[int(n)] = (os.fstat(fd).st_ino, seals, wrote, shared_writable)
        finally:
            os.close(fd)
    return out


def holds_file(pid, path):
    """Does pid hold path open (a descriptor) or mapped?"""
    st = os.stat(path)
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            s = os.stat(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
            return True
    with open(f"/proc/{pid}/maps") as f:
        return any(ln.split()[4:5] == [str(st.st_ino)] for ln in f if len(ln.split()) >= 5)


def memfd_digest(fd):
    h, pos, size = hashlib.sha256(), 0, os.fstat(fd).st_size
    while pos < size:
        b = os.pread(fd, 8 * MIB, pos)
        h.update(b)
        pos += len(b)
    return h.hexdigest()


def test_image_memory_from_a_sealed_memfd(tmp):
    """Clones given the image snapshot's memory as a sealed memfd (--mem-fd, as hearthd
    does): QEMU holds neither memory.bin open nor mapped, only the memfd, and even
    reopened read-write (as a guest escaped into QEMU could) it takes no write and no
    shared-writable mapping; the clones write different patterns and each keeps its own,
    the memfd is unchanged, a clone's first suspend (its base read from the memfd)
    restores with its pattern, and an unsealed memfd is refused."""
    snap = image_snapshot(tmp)
    mem = os.path.join(snap, "memory.bin")
    file_before = hashlib.sha256(open(mem, "rb").read()).hexdigest()

    loose = sealed_memfd(mem, seal=False)
    bad = HearthVM.restore(snap, os.path.join(tmp, "bad"), "--mem-fd", str(loose),
                           pass_fds=(loose,))
    try:
        r = bad.line(120)
        assert r.startswith("err") and "sealed" in r, r
    finally:
        bad.close()
        os.close(loose)

    mfd = sealed_memfd(mem)
    before = memfd_digest(mfd)
    clones = [HearthVM.restore(snap, os.path.join(tmp, f"c{i}"), "--id", f"c{i}",
                               "--mem-fd", str(mfd), pass_fds=(mfd,)) for i in range(2)]
    susp = os.path.join(tmp, "susp")
    try:
        for c in clones:
            c.ready()
        inodes = set()
        for c in clones:
            assert not holds_file(c.pid, mem), "QEMU holds the image's memory.bin"
            # The inherited descriptor and QEMU's own read-write reopening of it.
            fds = memfds_of(c.pid)
            assert fds, "QEMU holds no memfd"
            for ino, seals, wrote, shared_writable in fds.values():
                assert seals & SEALS == SEALS, seals
                assert not wrote and not shared_writable, fds
                inodes.add(ino)
        assert inodes == {os.fstat(mfd).st_ino}, inodes  # one copy, shared
        agents = [c.agent() for c in clones]
        for x, tag in zip(agents, "XY"):
            fill(x, "/tmp/p", tag, 32)
        for x, tag in zip(agents, "XY"):
            assert md5_in_guest(x, "/tmp/p") == pattern_md5(tag, 32)
            assert run_ok(x, "cat /tmp/from-image").strip() == "image"
        for x in agents:
            x.close()
        r = clones[0].cmd(f"suspend {susp}", timeout=300)
        assert r.startswith("ok suspend"), r
    finally:
        for c in clones:
            c.close()
    assert memfd_digest(mfd) == before
    os.close(mfd)
    assert hashlib.sha256(open(mem, "rb").read()).hexdigest() == file_before
    vm = HearthVM.restore(susp, os.path.join(tmp, "back"))
    try:
        vm.ready()
        a = vm.agent()
        assert md5_in_guest(a, "/tmp/p") == pattern_md5("X", 32)
        assert run_ok(a, "cat /tmp/from-image").strip() == "image"
        a.close()
    finally:
        vm.close()


def test_hearthd_vms_map_the_image_from_one_sealed_memfd(hd):  # noqa: F811
    """Through hearthd: every VM of an image gets the same sealed memfd, not the
    snapshot's memory.bin; neither a write nor a shared-writable mapping gets through
    it, and hearthd holds that one copy."""
    vids = [hd.run_running(BOOT)["microvmId"] for _ in range(2)]
    snaps = os.path.join(hd.state_dir, "snapshots")
    mems = [os.path.join(snaps, d, "memory.bin") for d in os.listdir(snaps)
            if not d.startswith(".")]
    assert len(mems) == 1, mems
    inodes = set()
    for vid in vids:
        q = engine_of(hd, vid)
        assert not holds_file(q, mems[0])
        fds = memfds_of(q)
        assert fds, "QEMU holds no memfd"
        for ino, seals, wrote, shared_writable in fds.values():
            assert seals & SEALS == SEALS and not wrote and not shared_writable, fds
            inodes.add(ino)
        # The keeper: one descriptor, the engine's (a suspend reads its base there).
        assert len(memfds_of(keeper_of(hd, vid))) == 1
    assert len(inodes) == 1, inodes
    # hearthd holds the same one.
    assert {v[0] for v in memfds_of(hd.proc.pid).values()} == inodes
    for vid in vids:
        sh(hd, vid, "echo ok")


def test_clone_suspends_as_a_small_delta_over_its_image(tmp):
    """A clone of an image snapshot (its memory a sealed memfd, as hearthd runs VMs) that
    wrote a little suspends as a delta over the image's memory: no memory.bin of its own,
    the manifest names the image snapshot, the delta about what was written (not the
    image's data). It resumes with the image's memfd or, run by hand, a sealed copy made
    from the image's file; a second suspend is again a delta over the image (everything
    written since the run), and a clone that wrote more than the bound writes a whole
    memory file. The image's memory is never written; a delta whose image is gone or
    rebuilt is refused with a clear error."""
    snap = image_snapshot(tmp)
    mem = os.path.join(snap, "memory.bin")
    file_before = hashlib.sha256(open(mem, "rb").read()).hexdigest()
    image_data = allocated(mem)
    mfd = sealed_memfd(mem)
    before = memfd_digest(mfd)
    s1, s2, s3 = (os.path.join(tmp, n) for n in ("s1", "s2", "s3"))

    def clone(snapdir, run, with_fd=True):
        extra = ("--mem-fd", str(mfd)) if with_fd else ()
        return HearthVM.restore(snapdir, os.path.join(tmp, run), "--id", run, *extra,
                                pass_fds=(mfd,) if with_fd else ())

    vm = clone(snap, "c1")
    try:
        vm.ready()
        a = vm.agent()
        fill(a, "/tmp/p", "D", 4)
        a.close()
        r = vm.cmd(f"suspend {s1}", timeout=300)
        assert r.startswith("ok suspend"), r
    finally:
        vm.close()
    m = manifest(s1)
    assert m["memory"].get("base") == os.path.realpath(snap), m
    assert m["memory"].get("delta"), m
    assert not os.path.exists(os.path.join(s1, "memory.bin"))
    d1 = os.path.getsize(os.path.join(s1, "memory.delta"))
    # The 4 MB written (and what the shell touched), far below the image's own data.
    assert 4 * MIB <= d1 < 16 * MIB and d1 < image_data, (d1, image_data)

    vm = clone(s1, "c2")
    try:
        vm.ready()
        a = vm.agent()
        assert md5_in_guest(a, "/tmp/p") == pattern_md5("D", 4)
        assert run_ok(a, "cat /tmp/from-image").strip() == "image"
        fill(a, "/tmp/q", "E", 2)
        a.close()
        r = vm.cmd(f"suspend {s2}", timeout=300)
        assert r.startswith("ok suspend"), r
    finally:
        vm.close()
    m = manifest(s2)
    assert m["memory"].get("base") == os.path.realpath(snap), m
    assert os.path.getsize(os.path.join(s2, "memory.delta")) >= d1 + 2 * MIB

    vm = clone(s2, "c3", with_fd=False)  # by hand: hearth-vm seals the image's file itself
    try:
        vm.ready()
        a = vm.agent()
        assert md5_in_guest(a, "/tmp/p") == pattern_md5("D", 4)
        assert md5_in_guest(a, "/tmp/q") == pattern_md5("E", 2)
        fill(a, "/tmp/r", "F", 24)  # past the bound: a whole memory file
        a.close()
        r = vm.cmd(f"suspend {s3}", timeout=300)
        assert r.startswith("ok suspend"), r
    finally:
        vm.close()
    m = manifest(s3)
    assert "base" not in m["memory"] and not m["memory"].get("delta"), m
    assert os.path.getsize(os.path.join(s3, "memory.bin")) == 256 * MIB
    vm = clone(s3, "c4", with_fd=False)
    try:
        vm.ready()
        a = vm.agent()
        assert md5_in_guest(a, "/tmp/r") == pattern_md5("F", 24)
        assert md5_in_guest(a, "/tmp/p") == pattern_md5("D", 4)
        a.close()
    finally:
        vm.close()

    assert memfd_digest(mfd) == before
    os.close(mfd)
    assert hashlib.sha256(open(mem, "rb").read()).hexdigest() == file_before
    # The image gone: the delta cannot be resumed, and says why.
    os.rename(snap, snap + ".gone")
    vm = clone(s2, "c5", with_fd=False)
    try:
        r = vm.line(120)
        assert r.startswith("err") and "memory.bin" in r, r
    finally:
        vm.close()
    assert sorted(os.listdir(s2)) == sorted(["manifest.json", "memory.delta", "state.bin"])
    # Another image snapshot at that path (rebuilt): refused, not resumed over the wrong
    # memory.
    os.makedirs(os.path.join(tmp, "o"))
    os.rename(image_snapshot(os.path.join(tmp, "o")), snap)
    vm = clone(s2, "c6", with_fd=False)
    try:
        r = vm.line(120)
        assert r.startswith("err") and "rebuilt" in r, r
    finally:
        vm.close()


def test_hearthd_suspends_an_idle_vm_as_a_delta_over_its_image(hd):  # noqa: F811
    """Through hearthd: a VM that wrote little suspends as a delta over its image's memory
    (a few hundred kB, no memory.bin), resumes mapping the image's one sealed memfd again,
    with what it wrote; a snapshot whose manifest names a base outside hearthd's image
    snapshots is refused on resume and the VM stays SUSPENDED."""
    import json
    vid = hd.run_running(BOOT)["microvmId"]
    vmdir = os.path.join(hd.state_dir, "vms", vid)
    snaps = os.path.realpath(os.path.join(hd.state_dir, "snapshots"))
    sh(hd, vid, "echo kept > /root/kept")
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
    susp = f"susp-{next_susp(vmdir) - 1}"  # the newest
    sdir = os.path.join(vmdir, susp)
    m = manifest(sdir)
    base = m["memory"].get("base", "")
    assert os.path.dirname(base) == snaps, m
    assert not os.path.exists(os.path.join(sdir, "memory.bin"))
    assert os.path.getsize(os.path.join(sdir, "memory.delta")) < 16 * MIB
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)["state"] == "RUNNING"
    assert sh(hd, vid, "cat /root/kept").strip() == "kept"
    fds = memfds_of(engine_of(hd, vid))
    assert {v[0] for v in fds.values()} == {v[0] for v in memfds_of(hd.proc.pid).values()}

    # A manifest pointing the base elsewhere (what a compromised keeper could write).
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)["state"] == "SUSPENDED"
    susp = f"susp-{next_susp(vmdir) - 1}"  # the newest
    mp = os.path.join(vmdir, susp, "manifest.json")
    m = manifest(os.path.join(vmdir, susp))
    assert m["memory"].get("base"), m
    m["memory"]["base"] = os.path.join(hd.state_dir, "vms")
    with open(mp, "w") as f:
        json.dump(m, f)
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    doc = hd.wait_state(vid, ("SUSPENDED", "RUNNING", "TERMINATED"), STEP)
    deadline = time.monotonic() + STEP
    while doc["state"] == "SUSPENDED" and "not an image snapshot" not in \
            doc.get("stateReason", "") and time.monotonic() < deadline:
        time.sleep(0.2)
        doc = hd.call("GET", "/microvms/%s" % vid)[2]
    assert doc["state"] == "SUSPENDED", doc
    assert "not an image snapshot" in doc.get("stateReason", ""), (doc, hd.read_log())
