"""The guest: kernel cache, managed images (vmm/guest/), and real boots.

The kernel and images are built by `make` (vmm/guest/module.mk) into the cache;
these tests check the cache rules, the image.json contract, what the images
contain, and boot each image with plain QEMU (microvm, TCG unless the CPU has
vmx/svm) to run a command through hearth-agent with agentproto.
"""
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from agentproto import Agent, AgentError
from conftest import guest_image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GUEST_SRC = os.path.join(ROOT, "vmm", "guest")
BUILD = os.environ.get("HEARTH_BUILD", os.path.join(ROOT, "build"))
GUEST = os.path.join(BUILD, "guest")
AGENT = os.path.join(GUEST, "hearth-agent")
IMAGES = ["busybox", "debian-12"]
KERNEL_BUILD_S = 3600   # a cache miss builds the kernel (minutes on 2 cores)
BOOT_S = 180            # TCG boot + agent ready on a busy shared 2-core machine
RUN_S = 60


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_image(name):
    with open(guest_image(name, GUEST)) as f:
        return json.load(f)


def kernel_sh(env=None):
    r = subprocess.run(["bash", os.path.join(GUEST_SRC, "kernel.sh")], capture_output=True,
                       text=True, timeout=KERNEL_BUILD_S, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1], r.stderr


# ---- kernel cache ----

def test_kernel_cache_hit_does_not_rebuild():
    entry, _ = kernel_sh()
    vm = os.path.join(entry, "vmlinux")
    before = os.stat(vm)
    entry2, err2 = kernel_sh()
    after = os.stat(vm)
    assert entry2 == entry, "cache key changed between two runs"
    assert "cache hit" in err2, err2
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert not [d for d in os.listdir(os.path.dirname(entry)) if d.startswith(".tmp-")]
    # make's build/guest/vmlinux names the same cached kernel.
    link = os.path.join(GUEST, "vmlinux")
    if os.path.lexists(link):
        assert os.path.dirname(os.path.realpath(link)) == os.path.realpath(entry)


def test_kernel_config_kept_every_fragment_option():
    entry, _ = kernel_sh()
    with open(os.path.join(entry, "config")) as f:
        config = f.read().splitlines()
    have = set(config)
    set_opts = {ln.split("=", 1)[0] for ln in config if ln.startswith("CONFIG_")}
    checked = 0
    with open(os.path.join(GUEST_SRC, "kernel.config")) as f:
        for ln in f.read().splitlines():
            m = re.fullmatch(r"# (CONFIG_\w+) is not set", ln)
            if m:
                assert m.group(1) not in set_opts, ln
                checked += 1
            elif ln.startswith("CONFIG_"):
                assert ln in have, ln
                checked += 1
    assert checked > 50
    with open(os.path.join(entry, "release")) as f:
        assert f.read().strip().endswith("-hearth")


# ---- cache entries are all-or-nothing (vmm/guest/lib.sh) ----

def entry_cmd(kind, key, *recipe):
    lib = os.path.join(GUEST_SRC, "lib.sh")
    return ["bash", "-c", f'. "{lib}"; guest_entry "$@"', "entry", kind, key, "test", *recipe]


def test_cache_entry_failed_build_leaves_nothing(tmp_path):
    kind = str(tmp_path / "kind")
    r = subprocess.run(entry_cmd(kind, "k1", "false"), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "failed" in r.stderr
    assert not os.path.exists(os.path.join(kind, "k1"))
    assert not [d for d in os.listdir(kind) if d.startswith(".tmp-")]


def test_cache_entry_killed_build_is_cleaned_and_hit_runs_nothing(tmp_path):
    kind = str(tmp_path / "kind")
    started = tmp_path / "started"
    slow = tmp_path / "slow.sh"
    slow.write_text(f'#!/bin/sh\necho partial >"$1/out"\ntouch "{started}"\nexec sleep 60\n')
    counter = tmp_path / "runs"
    good = tmp_path / "good.sh"
    good.write_text(f'#!/bin/sh\necho run >>"{counter}"\necho whole >"$1/out"\n')
    os.chmod(slow, 0o755)
    os.chmod(good, 0o755)

    p = subprocess.Popen(entry_cmd(kind, "k2", str(slow)), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, "recipe never started"
            time.sleep(0.02)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
    assert not os.path.exists(os.path.join(kind, "k2")), "killed build left an entry"
    assert os.path.isdir(os.path.join(kind, ".tmp-k2"))

    r = subprocess.run(entry_cmd(kind, "k2", str(good)), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "stale" in r.stderr
    assert r.stdout.strip() == os.path.join(kind, "k2")
    assert (tmp_path / "kind" / "k2" / "out").read_text() == "whole\n"
    assert not [d for d in os.listdir(kind) if d.startswith(".tmp-")]

    r = subprocess.run(entry_cmd(kind, "k2", str(good)), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "cache hit" in r.stderr, r.stderr
    assert counter.read_text() == "run\n", "a cache hit ran the recipe"


# ---- image.json contract and image contents ----

@pytest.mark.parametrize("name", IMAGES)
def test_image_json_contract(name):
    img = load_image(name)
    assert set(img) == {"name", "version", "kernel", "initrd", "disk", "cmdline", "memoryMiB"}
    assert img["name"] == name
    assert re.fullmatch(r"[0-9a-f]{8,64}", img["version"]), img["version"]
    assert isinstance(img["memoryMiB"], int) and img["memoryMiB"] >= 64
    for k in ("kernel", "initrd", "disk"):
        if img[k] is not None:
            assert os.path.isabs(img[k]) and os.path.isfile(img[k]), (k, img[k])
    assert "console=ttyS0" in img["cmdline"]
    # QEMU appends virtio_mmio.device=...; after a "--" those would become init's argv.
    assert "--" not in img["cmdline"].split()
    if name == "busybox":
        assert img["initrd"] and img["disk"] is None
    else:
        assert img["disk"] and img["initrd"] is None
        assert "root=/dev/vda" in img["cmdline"].split()
        assert "init=/sbin/hearth-agent" in img["cmdline"].split()


def cpio_entries(path):
    """{name: (mode, uid, gid, rdevmajor, rdevminor, data)} of a gzip newc archive."""
    with gzip.open(path, "rb") as f:
        blob = f.read()
    out, pos = {}, 0
    while pos + 110 <= len(blob):
        hdr = blob[pos:pos + 110]
        assert hdr[:6] in (b"070701", b"070702"), f"bad cpio magic at {pos}"
        fld = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, uid, gid, fsize, rmaj, rmin, nsize = (fld[1], fld[2], fld[3], fld[6], fld[9],
                                                   fld[10], fld[11])
        npos = pos + 110
        name = blob[npos:npos + nsize - 1].decode()
        dpos = (npos + nsize + 3) & ~3
        data = blob[dpos:dpos + fsize]
        pos = (dpos + fsize + 3) & ~3
        if name == "TRAILER!!!":
            break
        out[name] = (mode, uid, gid, rmaj, rmin, data)
    return out


def test_busybox_initramfs_contents():
    img = load_image("busybox")
    ents = cpio_entries(img["initrd"])
    mode, uid, gid, _, _, data = ents["init"]
    assert stat.S_ISREG(mode) and mode & 0o111
    with open(AGENT, "rb") as f:
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(f.read()).hexdigest(), \
            "/init is not build/guest/hearth-agent"
    mode, _, _, rmaj, rmin, _ = ents["dev/console"]
    assert stat.S_ISCHR(mode) and (rmaj, rmin) == (5, 1)
    mode, _, _, _, _, target = ents["bin/sh"]
    assert stat.S_ISLNK(mode) and target.rstrip(b"\0") == b"/bin/busybox"
    assert stat.S_ISREG(ents["bin/busybox"][0])
    for applet in ("bin/ls", "bin/ps", "bin/stty", "bin/sleep", "sbin/ifconfig"):
        assert applet in ents, applet
    passwd = ents["etc/passwd"][5].decode()
    assert passwd.startswith("root:x:0:0:")
    assert ents["etc/hostname"][5].strip()
    assert "PS1=" in ents["etc/profile"][5].decode()
    assert all(u == 0 and g == 0 for (_, u, g, _, _, _) in ents.values()), "owner not 0:0"


def debugfs_cat(disk, path):
    r = subprocess.run(["debugfs", "-R", f"cat {path}", disk], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_debian_disk_contents():
    img = load_image("debian-12")
    disk = img["disk"]
    with open(AGENT, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    # /sbin is a symlink to usr/sbin on merged-/usr Debian; debugfs does not follow it.
    assert hashlib.sha256(debugfs_cat(disk, "/usr/sbin/hearth-agent")).hexdigest() == want
    r = subprocess.run(["debugfs", "-R", "stat /usr/sbin/hearth-agent", disk],
                       capture_output=True, text=True, timeout=60)
    assert re.search(r"Mode:\s+0755", r.stdout) and re.search(r"User:\s+0\s+Group:\s+0", r.stdout)
    passwd = debugfs_cat(disk, "/etc/passwd").decode()
    assert re.search(r"(?m)^root:x:0:0:[^:]*:/root:/bin/bash$", passwd)
    assert re.search(r"(?m)^daemon:", passwd)
    assert debugfs_cat(disk, "/etc/hostname").strip()
    r = subprocess.run(["e2fsck", "-fn", disk], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- real boots ----

def accel():
    forced = os.environ.get("HEARTH_ACCEL")
    if forced:
        return forced
    with open("/proc/cpuinfo") as f:
        hw = re.search(r"(?m)^flags\s*:.*\b(vmx|svm)\b", f.read())
    return "kvm" if hw and os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"


class Boot:
    """One plain QEMU microvm booted from an image.json, killed by stop()."""

    def __init__(self, img, tmp):
        self.img, self.tmp = img, tmp
        self.sock = os.path.join(tmp, "agent.sock")
        self.log = os.path.join(tmp, "serial.log")
        cmd = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", accel(),
               "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
               "-m", "256", "-kernel", img["kernel"]]
        if img["initrd"]:
            cmd += ["-initrd", img["initrd"]]
        if img["disk"]:
            self.overlay = os.path.join(tmp, "overlay.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", img["disk"],
                            "-F", "raw", self.overlay], check=True, timeout=60)
            cmd += ["-drive", f"id=d0,file={self.overlay},format=qcow2,if=none",
                    "-device", "virtio-blk-device,drive=d0"]
        cmd += ["-device", "virtio-serial-device",
                "-chardev", f"socket,id=a,path={self.sock},server=on,wait=off",
                "-device", "virtserialport,chardev=a,name=hearth.agent",
                "-serial", f"file:{self.log}", "-append", img["cmdline"]]
        self.t0 = time.monotonic()
        self.err = open(os.path.join(tmp, "qemu.err"), "wb")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                  stderr=subprocess.STDOUT)

    def diag(self):
        out = []
        for p in (self.log, os.path.join(self.tmp, "qemu.err")):
            try:
                with open(p, "rb") as f:
                    out.append(f.read()[-1500:].decode(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)

    def agent(self, timeout):
        """A connected Agent once HELLO is answered. A HELLO can get lost while the
        guest is still setting up its console, so it is repeated on a fresh connection."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.p.poll() is not None:
                pytest.fail(f"QEMU exited ({self.p.returncode}) before the agent answered:\n"
                            + self.diag())
            if left <= 0:
                pytest.fail(f"agent not ready after {timeout}s:\n" + self.diag())
            try:
                a = Agent.connect_unix(self.sock, timeout=left)
            except AgentError:
                continue
            try:
                a.hello(timeout=min(1.0, max(left, 0.1)))
                self.ready_s = time.monotonic() - self.t0
                return a
            except AgentError:
                a.close()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        self.err.close()


@pytest.mark.parametrize("name", IMAGES)
def test_guest_pty_shell_job_control(name):
    """What the kernel must give a shell: unix98 ptys with a size, job control (^C
    reaches the foreground job, not the shell), /proc for ps, timers for sleep."""
    img = load_image(name)
    tmp = tempfile.mkdtemp(prefix="hearth-guest-")
    vm = Boot(img, tmp)
    try:
        a = vm.agent(BOOT_S)
        try:
            sh = a.open_shell(rows=33, cols=101, timeout=RUN_S)
            sh.send(b"stty size; tty\n")
            sh.read_until(re.compile(rb"33 101\r?\n/dev/pts/\d+"), timeout=RUN_S)
            sh.resize(40, 120)
            sh.send(b"stty size\n")
            sh.read_until(b"40 120", timeout=RUN_S)
            sh.send(b"ps -e -o pid,comm | awk '$1 == 1 { print \"pid1-\" \"listed\" }'\n")
            sh.read_until(b"pid1-listed", timeout=RUN_S)
            sh.send(b"sleep 0.2; echo slept-$((1+1))\n")
            sh.read_until(b"slept-2", timeout=RUN_S)
            sh.send(b"sleep 1000\n")
            # ^C only once the sleep runs, or it would hit the shell still reading the line.
            deadline = time.monotonic() + RUN_S
            while a.run("ps -e -o comm | grep -qx sleep", timeout=RUN_S)[:2] != ("code", 0):
                assert time.monotonic() < deadline, "sleep 1000 never started"
                time.sleep(0.1)
            sh.send(b"\x03")
            sh.send(b"echo after-$((40+2)) $?\n")
            # 130 = 128 + SIGINT: the foreground sleep got ^C, the shell lived on.
            sh.read_until(b"after-42 130", timeout=RUN_S)
            sh.send(b"exit\n")
            assert sh.wait_exit(timeout=RUN_S) == ("code", 0)
        finally:
            a.close()
    finally:
        vm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("name", IMAGES)
def test_boot_image_and_run_through_agent(name):
    img = load_image(name)
    with open(os.path.join(os.path.dirname(os.path.realpath(img["kernel"])), "release")) as f:
        release = f.read().strip()
    base = img["disk"]
    base_before = os.stat(base) if base else None
    tmp = tempfile.mkdtemp(prefix="hearth-guest-")
    vm = Boot(img, tmp)
    try:
        a = vm.agent(BOOT_S)
        try:
            how, value, out, err = a.run("echo hello; uname -r", timeout=RUN_S)
            assert (how, value) == ("code", 0), (how, value, err)
            assert out == f"hello\n{release}\n".encode(), out
            if base:
                how, value, out, err = a.run("echo data > /root/written && sync && "
                                             "cat /root/written", timeout=RUN_S)
                assert (how, value, out) == ("code", 0, b"data\n"), err
        finally:
            a.close()
        print(f"\n{name}: agent ready {vm.ready_s:.2f}s after QEMU start ({accel()})")
    finally:
        vm.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if base:
        after = os.stat(base)
        assert (after.st_mtime_ns, after.st_size) == (base_before.st_mtime_ns,
                                                      base_before.st_size), \
            "the base disk was written; only the overlay may be"


def test_cache_entry_reports_progress(tmp_path):
    """A long recipe is never silent: a line per stage and a heartbeat, with the
    elapsed time and a percentage of the counted work (lib.sh guest_watch)."""
    kind = str(tmp_path / "kind")
    recipe = tmp_path / "recipe.sh"
    recipe.write_text('#!/bin/sh\necho "stage: fetch"\ntouch "$1/a"\nsleep 1.5\n'
                      'echo "stage: compile"\ntouch "$1/b"\nsleep 2.5\n')
    os.chmod(recipe, 0o755)
    lib = os.path.join(GUEST_SRC, "lib.sh")
    script = (f'. "{lib}"; count() {{ ls "$1" | wc -l; }}; '
              'GUEST_HEARTBEAT=1 GUEST_COUNT=count GUEST_TOTAL=4 GUEST_UNIT=files '
              'guest_entry "$@"')
    r = subprocess.run(["bash", "-c", script, "entry", kind, "k3", "test", str(recipe)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    fetch = [ln for ln in lines if "] fetch" in ln]
    compile_ = [ln for ln in lines if "] compile" in ln]
    assert fetch and compile_, r.stderr
    # the heartbeat repeats the stage while it lasts, each with its elapsed time
    assert len(compile_) >= 2, r.stderr
    assert re.search(r"\[0m0[0-9]s\] compile 50% \(2/~4 files\)", r.stderr), r.stderr
    assert re.search(r"built test in 0m0[3-9]s", r.stderr), r.stderr
