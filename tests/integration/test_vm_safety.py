"""The engine's safety properties with real microVMs through hearth-vm (see
test_vm.py for the driver): paths with commas and spaces, QEMU under its own
uid with seccomp, suspend as a transaction on a full disk, a capped console.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BY_DESIGN

from test_vm import HearthVM, image_json, need_image, pid_alive, run_ok

UID_BASE = 0x70000000       # vmm/qemu.c QEMU_UID_BASE
CONSOLE_MAX = 1024 * 1024   # vmm/engine.h VM_CONSOLE_LOG_MAX


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(ln.rstrip("\n").split(":\t", 1) for ln in f if ":\t" in ln)


def image_copy(dst, name):
    """The built image with its files copied under dst (a path we choose)."""
    img = json.load(open(image_json(name)))
    os.makedirs(dst)
    for k in ("kernel", "initrd", "disk"):
        if img.get(k):
            p = os.path.join(dst, "x, " + k + os.path.basename(img[k]))
            subprocess.run(["cp", "--sparse=always", img[k], p], check=True, timeout=120)
            img[k] = p
    path = os.path.join(dst, "image.json")
    with open(path, "w") as f:
        json.dump(img, f)
    return path


def test_paths_with_comma_and_space(tmp):
    """Run, snapshot, suspend and restore with every path holding ', ':
    the image files, the run dirs and the snapshot dirs (QEMU options double
    the comma; nothing turns into an extra option)."""
    need_image("debian-12")
    base = os.path.join(tmp, "st, ate dir")
    img = image_copy(os.path.join(base, "img, 1"), "debian-12")
    # The agent's relay socket outside: hearth-vm's "ready" line is split on spaces.
    sock = ["--agent-sock", os.path.join(tmp, "agent.sock")]
    vm = HearthVM(["boot", "--image", img] + sock, os.path.join(base, "run, 1"))
    snap = os.path.join(base, "snap, 1")
    susp = os.path.join(base, "susp, 1")
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "echo on-disk > /root/f && echo in-mem > /tmp/m && sync")
        a.close()
        assert vm.cmd(f"snapshot {snap}").startswith("ok snapshot")
        assert vm.cmd("resume").startswith("ok")
        a = vm.agent()
        run_ok(a, "echo second > /root/g && sync")
        a.close()
        assert vm.cmd(f"suspend {susp}").startswith("ok suspend")
        assert vm.wait_exit() == 0
    finally:
        vm.close()
    for d, want in ((snap, "on-disk in-mem"), (susp, "on-disk in-mem second")):
        r = HearthVM.restore(d, os.path.join(base, "run, 2"), *sock)
        try:
            r.ready()
            a = r.agent()
            files = "/root/f /tmp/m" + (" /root/g" if "second" in want else "")
            assert run_ok(a, f"cat {files}").split() == want.split()
            a.close()
        finally:
            r.close()


def test_initrd_path_with_comma_and_space(tmp):
    need_image("busybox")
    img = image_copy(os.path.join(tmp, "img, 2"), "busybox")
    vm = HearthVM(["boot", "--image", img], os.path.join(tmp, "run"))
    try:
        vm.ready()
        a = vm.agent()
        assert run_ok(a, "echo up").strip() == "up"
        a.close()
    finally:
        vm.close()


def test_newline_in_a_path_is_refused(tmp):
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run\nx"))
    try:
        ln = vm.line(60)
        assert ln.startswith("err") and "control character" in ln, ln
    finally:
        vm.close()


def test_qemu_runs_under_its_own_uid_with_seccomp(tmp):
    """Root: each QEMU under a uid:gid of its own (no groups, no capabilities),
    seccomp filter mode; another user: QEMU as that user. The run dir stays
    0700 and not QEMU's, so no QEMU opens another VM's (or its own) files."""
    need_image("busybox")
    vms = [HearthVM.boot("busybox", os.path.join(tmp, f"run{i}")) for i in range(2)]
    try:
        uids = []
        for vm in vms:
            vm.ready()
            st = status(vm.pid)
            assert st["Seccomp"].strip() == "2", st["Seccomp"]
            ids = st["Uid"].split()
            assert len(set(ids)) == 1 and ids == st["Gid"].split(), (st["Uid"], st["Gid"])
            uid = int(ids[0])
            if os.geteuid() == 0:
                assert uid >= UID_BASE, uid
                assert st["Groups"].split() in ([], [str(uid)]), st["Groups"]
                assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st["CapEff"]
            else:
                assert uid == os.geteuid()
            rd = os.stat(vm.run_dir)
            assert rd.st_mode & 0o777 == 0o700 and rd.st_uid != uid
            uids.append(uid)
            # The VM still works (agent, snapshot) under that uid.
            a = vm.agent()
            assert run_ok(a, "echo ok").strip() == "ok"
            a.close()
        if os.geteuid() == 0:
            assert uids[0] != uids[1], uids
        snap = os.path.join(tmp, "snap")
        assert vms[0].cmd(f"snapshot {snap}").startswith("ok snapshot")
    finally:
        for vm in vms:
            vm.close()


def test_qemu_dies_with_the_process_that_started_it(tmp):
    """QEMU's -runas clears its parent-death signal: the engine's guard must
    still end it when hearth-vm is killed outright."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    try:
        vm.ready()
        qemu = vm.pid
        vm.p.send_signal(signal.SIGKILL)
        vm.p.wait(timeout=10)
        deadline = time.monotonic() + 10
        while pid_alive(qemu):
            assert time.monotonic() < deadline, "QEMU outlived the process that started it"
            time.sleep(0.05)
    finally:
        vm.close()


@pytest.fixture
def small_tmpfs(tmp):
    """A 512 MiB tmpfs (root only) for snapshots; unmounted in teardown."""
    if os.geteuid() != 0:
        pytest.skip(BY_DESIGN + "mounting a tmpfs needs root")
    d = os.path.join(tmp, "small")
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", d], check=True,
                   timeout=30)
    yield d
    subprocess.run(["umount", "-l", d], timeout=30)


def fill(d, leave):
    """Fill the filesystem of d up to `leave` free bytes."""
    p = os.path.join(d, "filler")
    if os.path.exists(p):
        os.unlink(p)
    st = os.statvfs(d)
    free = st.f_bavail * st.f_frsize
    with open(p, "wb") as f:
        f.truncate(0)
        n = max(free - leave, 0)
        chunk = b"\xa5" * (1 << 20)
        while n > 0:
            k = min(n, len(chunk))
            try:
                f.write(chunk[:k])
                f.flush()
            except OSError:
                break
            n -= k


def counter(a):
    return int(run_ok(a, "cat /tmp/count"))


def test_suspend_on_a_full_disk_keeps_the_vm_running(tmp, small_tmpfs):
    """A suspend that cannot complete (no room for the memory image, at
    several fill levels, or a manifest that cannot be written) answers err and
    the VM runs on where it was, every time; nothing is left in the target.
    With room again, suspend and restore keep the guest's memory."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    done = False
    try:
        vm.ready()
        a = vm.agent()
        run_ok(a, "head -c 3000000 /dev/urandom > /tmp/blob; md5sum /tmp/blob > /tmp/blob.md5")
        run_ok(a, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/count;"
                  " sleep 0.1; done) </dev/null >/dev/null 2>&1 &")
        a.close()
        for i, leave in enumerate((0, 256 << 10, 2 << 20, 6 << 20, 12 << 20)):
            fill(small_tmpfs, leave)
            target = os.path.join(small_tmpfs, f"susp-{i}")
            r = vm.cmd(f"suspend {target}")
            assert r.startswith("err "), r
            assert pid_alive(vm.pid), "QEMU ended after a failed suspend"
            a = vm.agent()
            c = counter(a)
            deadline = time.monotonic() + 30
            while counter(a) <= c:
                assert time.monotonic() < deadline, f"try {i}: the guest does not run on"
                time.sleep(0.2)
            a.close()
            left = os.listdir(target) if os.path.isdir(target) else []
            assert left == [], f"try {i}: {left} left in the failed snapshot"
        # A manifest that cannot be written (its temp name is taken by a
        # directory): memory written and synced, still no suspend.
        os.unlink(os.path.join(small_tmpfs, "filler"))
        target = os.path.join(small_tmpfs, "susp-m")
        os.makedirs(os.path.join(target, ".manifest.json.tmp"))
        r = vm.cmd(f"suspend {target}")
        assert r.startswith("err ") and "manifest" in r, r
        assert sorted(os.listdir(target)) == [".manifest.json.tmp"]
        a = vm.agent()
        assert counter(a) > 0
        a.close()
        # Room again: the suspend completes, the restore has the memory.
        target = os.path.join(small_tmpfs, "susp-ok")
        r = vm.cmd(f"suspend {target}")
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
        done = True
    finally:
        vm.close()
    assert done
    r = HearthVM.restore(target, os.path.join(tmp, "run2"))
    try:
        r.ready()
        a = r.agent()
        assert "OK" in run_ok(a, "md5sum -c /tmp/blob.md5")
        a.close()
    finally:
        r.close()


def test_console_flood_stays_within_budget(tmp):
    """A guest writing its serial console as fast as it can: console.log
    rotates into console.log.1, each at most VM_CONSOLE_LOG_MAX bytes, and the
    VM keeps answering."""
    need_image("busybox")
    vm = HearthVM.boot("busybox", os.path.join(tmp, "run"))
    log = os.path.join(tmp, "run", "console.log")
    try:
        vm.ready()
        a = vm.agent()
        line = "x" * 200
        run_ok(a, f"(while :; do echo {line}; done > /dev/console) </dev/null >/dev/null 2>&1 &"
                  " echo $! > /tmp/flood.pid")
        # Wait for two rotations (console.log.1 replaced once): more than the
        # whole budget has been written by then.
        deadline = time.monotonic() + 120
        first = None
        while True:
            assert time.monotonic() < deadline, "the console flood never filled the budget"
            try:
                ino = os.stat(log + ".1").st_ino
            except FileNotFoundError:
                ino = None
            if ino and first is None:
                first = ino
            if ino and first is not None and ino != first:
                break
            for p in (log, log + ".1"):
                if os.path.exists(p):
                    assert os.path.getsize(p) <= CONSOLE_MAX, (p, os.path.getsize(p))
            time.sleep(0.2)
        assert os.path.getsize(log) <= CONSOLE_MAX
        assert os.path.getsize(log + ".1") == CONSOLE_MAX
        with open(log + ".1", "rb") as f:
            assert line.encode() in f.read()
        assert run_ok(a, "echo still-here").strip() == "still-here"
        run_ok(a, "kill $(cat /tmp/flood.pid)")
        a.close()
        assert os.path.getsize(log) + os.path.getsize(log + ".1") <= 2 * CONSOLE_MAX
    finally:
        vm.close()
    assert not os.path.exists(log) and not os.path.exists(log + ".1")


def test_suspend_with_no_room_for_the_disk_keeps_the_vm_running(tmp, small_tmpfs):
    """A VM with a disk, suspended onto another file system: the memory image
    fits, the copy of its disk overlay does not. err, the VM runs on; with
    room again suspend and restore keep disk and memory."""
    need_image("debian-12")
    vm = HearthVM.boot("debian-12", os.path.join(tmp, "run"))
    done = False
    try:
        vm.ready()
        big = "head -c 8000000 /dev/urandom > /root/big && sync && md5sum /root/big > /tmp/big.md5"
        a = vm.agent()
        run_ok(a, big)
        a.close()
        # How large the memory image is (the file in the page cache included):
        # a snapshot beside it; then the file is written anew, into the
        # overlay the snapshot started.
        assert vm.cmd(f"snapshot {os.path.join(tmp, 'measure')}").startswith("ok snapshot")
        assert vm.cmd("resume").startswith("ok")
        mem = os.path.getsize(os.path.join(tmp, "measure", "memory.bin"))
        a = vm.agent()
        run_ok(a, big)
        a.close()
        fill(small_tmpfs, mem + (3 << 20))
        target = os.path.join(small_tmpfs, "susp-1")
        r = vm.cmd(f"suspend {target}")
        assert r.startswith("err ") and "copying" in r, r
        assert os.listdir(target) == []
        a = vm.agent()
        assert "OK" in run_ok(a, "md5sum -c /tmp/big.md5 && echo more > /root/more && sync")
        a.close()
        os.unlink(os.path.join(small_tmpfs, "filler"))
        target = os.path.join(small_tmpfs, "susp-2")
        r = vm.cmd(f"suspend {target}")
        assert r.startswith("ok suspend"), r
        assert vm.wait_exit() == 0
        done = True
    finally:
        vm.close()
    assert done
    r = HearthVM.restore(target, os.path.join(tmp, "run2"))
    try:
        r.ready()
        a = r.agent()
        assert "OK" in run_ok(a, "md5sum -c /tmp/big.md5")
        assert run_ok(a, "cat /root/more").strip() == "more"
        a.close()
    finally:
        r.close()
