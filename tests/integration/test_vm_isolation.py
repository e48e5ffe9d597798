"""A real VM under hearthd with a state directory whose name has a comma and
a space (run = image snapshot build + restore, suspend, resume), and the
processes' privileges: QEMU under a uid of its own with seccomp, the keeper
without new privileges and with only the capabilities it uses."""
import os
import subprocess
import time

import pytest

from conftest import BY_DESIGN

from hearthd_harness import Hearthd, busybox_images, keeper_pids
from agentproto import Agent
from test_lifecycle import STEP, agent_sock, run_running
from test_vm_safety import UID_BASE, status

# The capabilities a root keeper keeps (session/keeper.c drop_privileges):
# DAC_OVERRIDE 1, DAC_READ_SEARCH 2, FOWNER 3, KILL 5, SETGID 6, SETUID 7, and
# SYS_PTRACE 19 (a format 2 suspend reads the pages its QEMU wrote, under
# another uid, with process_vm_readv).
KEEPER_CAPS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 19)


@pytest.fixture
def hd(tmp_path):
    # Deep enough that the sockets are longer than sun_path (bound via a dir fd).
    root = os.path.join(str(tmp_path), "a, b c", "deep-" * 8)
    d = Hearthd(os.path.join(root, "st, ate"), busybox_images(root)).start()
    yield d
    d.close()


def sh(hd, vm_id, cmd):
    """test_lifecycle.sh through a directory fd: the pytest state dir is
    deeper than a unix socket path may be (the keeper binds the same way)."""
    dfd = os.open(os.path.dirname(agent_sock(hd, vm_id)), os.O_PATH | os.O_DIRECTORY)
    try:
        with Agent.connect_unix("/proc/self/fd/%d/agent.sock" % dfd, timeout=30) as a:
            a.hello(timeout=30)
            how, value, out, err = a.run(cmd, timeout=60)
    finally:
        os.close(dfd)
    assert (how, value) == (0, 0), (cmd, how, value, out, err)
    return out.decode()


def children(pid):
    out = []
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def qemu_of(hd):
    ks = keeper_pids(hd.state_dir)
    assert len(ks) == 1, ks
    qs = sorted({c for c in children(ks[0]) if open(f"/proc/{c}/comm").read().startswith("qemu-system")})
    assert qs, [(c, open(f"/proc/{c}/comm").read()) for c in children(ks[0])]
    assert len(qs) == 1, [(q, open(f"/proc/{q}/status").read()[:300]) for q in qs]
    return ks[0], qs[0]


def test_comma_state_dir_run_suspend_resume(hd):
    vm = run_running(hd)
    vid = vm["microvmId"]
    assert len(agent_sock(hd, vid)) > 108  # longer than sun_path: bound via a dir fd

    sh(hd, vid, "echo kept > /tmp/kept")
    keeper, qemu = qemu_of(hd)
    st = status(qemu)
    assert st["Seccomp"].strip() == "2"
    uid = int(st["Uid"].split()[0])
    if os.geteuid() == 0:
        assert st["Uid"].split() == [str(uid)] * 4 and uid >= UID_BASE, st["Uid"]
        assert int(st["CapEff"], 16) == 0
        kst = status(keeper)
        assert kst["NoNewPrivs"].strip() == "1"
        assert int(kst["CapBnd"], 16) == KEEPER_CAPS, kst["CapBnd"]
        assert int(kst["CapEff"], 16) == KEEPER_CAPS, kst["CapEff"]
        # The VM's directories are root's and closed: QEMU's uid reads none.
        for d in (os.path.join(hd.state_dir, "vms", vid),
                  os.path.join(hd.state_dir, "vms", vid, "run")):
            s = os.stat(d)
            assert s.st_uid == 0 and s.st_mode & 0o077 == 0, (d, oct(s.st_mode))
    else:
        assert uid == os.geteuid()
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED", (doc, hd.read_log())
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)
    assert doc["state"] == "RUNNING", (doc, hd.read_log())
    assert sh(hd, vid, "cat /tmp/kept").strip() == "kept"
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200
    hd.wait_state(vid, "TERMINATED", STEP)


def test_failed_suspends_keep_the_vm_running(hd):
    """Five suspends into a snapshot directory with no room (a 1 MiB tmpfs):
    each time the keeper answers err, the VM is RUNNING again with its memory
    and a running process intact; with room again it suspends and resumes."""
    if os.geteuid() != 0:
        pytest.skip(BY_DESIGN + "mounting a tmpfs needs root")
    vm = run_running(hd)
    vid = vm["microvmId"]
    sh(hd, vid, "head -c 2000000 /dev/urandom > /tmp/blob; md5sum /tmp/blob > /tmp/blob.md5;"
                " (i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/count;"
                " sleep 0.1; done) </dev/null >/dev/null 2>&1 &")
    # hearthd has the keeper write susp-N.tmp/ and renames it once complete.
    target = os.path.join(hd.state_dir, "vms", vid, "susp-1.tmp")
    os.makedirs(target)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", target], check=True,
                   timeout=30)
    try:
        for i in range(5):
            # SUSPENDING (reason cleared) before the POST answers.
            assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
            doc = hd.wait_state(vid, ("RUNNING", "SUSPENDED", "TERMINATED"), STEP)
            assert doc["state"] == "RUNNING", (i, doc)
            assert "suspend failed" in doc["stateReason"], (i, doc)
            c = int(sh(hd, vid, "cat /tmp/count"))
            deadline = time.monotonic() + 30
            while int(sh(hd, vid, "cat /tmp/count")) <= c:
                assert time.monotonic() < deadline, "try %d: the guest does not run on" % i
                time.sleep(0.2)
            assert "OK" in sh(hd, vid, "md5sum -c /tmp/blob.md5")
    finally:
        subprocess.run(["umount", "-l", target], timeout=30)
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), STEP)
    assert doc["state"] == "SUSPENDED", (doc, hd.read_log())
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), STEP)
    assert doc["state"] == "RUNNING", (doc, hd.read_log())
    assert "OK" in sh(hd, vid, "md5sum -c /tmp/blob.md5")
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200
    hd.wait_state(vid, "TERMINATED", STEP)


def test_qemu_dies_with_its_keeper(hd):
    """A keeper killed outright takes its QEMU along (the guard; -runas
    clears QEMU's own parent-death signal)."""
    run_running(hd)
    keeper, qemu = qemu_of(hd)
    os.kill(keeper, 9)
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % qemu) and open("/proc/%d/stat" % qemu).read().split(
            ") ")[1][0] != "Z":
        assert time.monotonic() < deadline, "QEMU outlived its keeper"
        time.sleep(0.05)
