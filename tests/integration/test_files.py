"""`hearth cp` (shell/client/cmd_cp.c): files and trees in and out of a microVM
through the agent's FILES builtin (protocol/PROTOCOL.md 1.3.1) carried by a
hearth.v1 exec (2.3). Most cases use hearthd's host engine, whose "VM" is the
agent as a host process, so a 100 MB copy takes seconds and what landed can be
checked on disk; one busybox VM checks the real guest path and the auto-resume
of a suspended VM. Every wait has a deadline."""
import hashlib
import os
import stat
import subprocess

import pytest

from conftest import hearth_bin
from hearthd_harness import Hearthd, busybox_images
from test_ingress import sanitizer_reports

HEARTH = hearth_bin("hearth")
BOOT = 300  # the first busybox run builds the image snapshot (TCG)


class Env:
    def __init__(self, hd, vm_id):
        self.hd, self.vm_id = hd, vm_id
        self.environ = dict(os.environ, HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"),
                            **hd.client_env())

    def cp(self, *args, timeout=300):
        return subprocess.run([HEARTH, "cp"] + list(args), env=self.environ,
                              capture_output=True, timeout=timeout)

    def execq(self, cmd, timeout=120):
        return subprocess.run([HEARTH, "exec", self.vm_id, "-c", cmd], env=self.environ,
                              capture_output=True, timeout=timeout)


def start(root, extra=()):
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root), extra=list(extra)).start()
    hd.wait_ingress()
    return hd


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("files-host"))
    hd = start(root, ["--engine", "host"])
    try:
        doc = hd.run_running(60)
        yield Env(hd, doc["microvmId"])
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


def make_tree(base):
    """A tree with modes, an empty file, a nested dir, a symlink, set mtimes."""
    t = base / "tree"
    (t / "sub" / "deeper").mkdir(parents=True)
    (t / "a.txt").write_bytes(b"alpha\n")
    (t / "empty").write_bytes(b"")
    (t / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (t / "sub" / "deeper" / "z.bin").write_bytes(os.urandom(70000))
    (t / ("long-" + "n" * 150)).write_bytes(b"long name\n")  # past ustar's 100: pax
    os.symlink("a.txt", t / "link")
    os.chmod(t / "a.txt", 0o640)
    os.chmod(t / "run.sh", 0o755)
    os.chmod(t / "empty", 0o600)
    os.chmod(t / "sub", 0o750)
    for i, p in enumerate(["a.txt", "empty", "run.sh", "sub/deeper/z.bin", "sub/deeper", "sub"]):
        os.utime(t / p, (1600000000 + i, 1600000000 + i))
    return t


def snapshot(root):
    """{relpath: (kind, mode, mtime, content or link)} of a tree."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", None, None, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode), int(st.st_mtime), None)
            else:
                out[rel] = ("f", stat.S_IMODE(st.st_mode), int(st.st_mtime),
                            open(p, "rb").read())
    return out


def test_tree_with_modes_roundtrip(host, tmp_path):
    src = make_tree(tmp_path)
    remote = tmp_path / "in-vm"
    remote.mkdir()
    r = host.cp("-r", str(src), "%s:%s" % (host.vm_id, remote))
    assert r.returncode == 0, r.stderr
    # the destination existed as a directory: the tree lands inside it (cp(1))
    assert snapshot(remote / "tree") == snapshot(src)
    assert (remote / "tree" / "empty").stat().st_size == 0
    back = tmp_path / "back"
    r = host.cp("-r", "%s:%s" % (host.vm_id, remote / "tree"), str(back))
    assert r.returncode == 0, r.stderr
    # back did not exist: the tree becomes it
    assert snapshot(back) == snapshot(src)
    assert stat.S_IMODE(os.stat(back).st_mode) == stat.S_IMODE(os.stat(src).st_mode)


def test_single_file_and_rename(host, tmp_path):
    f = tmp_path / "one"
    f.write_bytes(b"one file\n")
    os.chmod(f, 0o604)
    dest = tmp_path / "renamed"
    r = host.cp(str(f), "%s:%s" % (host.vm_id, dest))
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == b"one file\n" and stat.S_IMODE(dest.stat().st_mode) == 0o604


def test_100mb_file_by_hash(host, tmp_path):
    big = tmp_path / "big"
    h = hashlib.sha256()
    with open(big, "wb") as f:
        for _ in range(100):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    remote = tmp_path / "big-in"
    r = host.cp(str(big), "%s:%s" % (host.vm_id, remote), timeout=600)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "big-out"
    r = host.cp("%s:%s" % (host.vm_id, remote), str(out), timeout=600)
    assert r.returncode == 0, r.stderr
    h2 = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h2.update(chunk)
    assert out.stat().st_size == 100 << 20
    assert h2.hexdigest() == h.hexdigest()
    # the same through the REST extension: a chunked tar at the client's pace
    import tarfile
    from urllib.parse import quote
    st, _, body = host.hd.raw("GET", "/2025-09-09/microvms/%s/files?path=%s"
                              % (host.vm_id, quote(str(remote), safe="")), timeout=600)
    assert st == 200
    import io
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        m = t.getmember("big-in")
        assert m.size == 100 << 20
        assert hashlib.sha256(t.extractfile(m).read()).hexdigest() == h.hexdigest()


def test_path_that_cannot_be_written(host, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    # a directory that does not exist: the agent says which path and why
    r = host.cp(str(f), "%s:/nonexistent-hearth-dir/sub/x" % host.vm_id)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert b"cannot write /nonexistent-hearth-dir/sub/x: No such file or directory" in r.stderr
    # a file where a directory is: refused by name
    d = tmp_path / "isdir"
    (d / "x").mkdir(parents=True)
    r = host.cp(str(f), "%s:%s" % (host.vm_id, d))
    assert r.returncode == 1 and b"it is a directory" in r.stderr, r.stderr
    # a directory without -r is refused before anything is sent
    r = host.cp(str(d), "%s:%s" % (host.vm_id, tmp_path / "never"))
    assert r.returncode == 1 and b"is a directory (use -r)" in r.stderr, r.stderr
    assert not (tmp_path / "never").exists()
    # reading what does not exist
    r = host.cp("%s:/nonexistent-hearth-file" % host.vm_id, str(tmp_path / "never"))
    assert r.returncode == 1 and b"/nonexistent-hearth-file" in r.stderr, r.stderr
    assert not (tmp_path / "never").exists()
    # usage: both or neither remote
    r = host.cp(str(f), str(tmp_path / "y"))
    assert r.returncode == 2 and b"exactly one" in r.stderr


def test_busybox_vm_and_suspended_resumes(tmp_path_factory, tmp_path):
    root = str(tmp_path_factory.mktemp("files-vm"))
    hd = start(root)
    try:
        doc = hd.run_running(BOOT, idlePolicy={"maxIdleDurationSeconds": 600,
                                               "suspendedDurationSeconds": 600,
                                               "autoResumeEnabled": True})
        env = Env(hd, doc["microvmId"])
        src = make_tree(tmp_path)
        r = env.cp("-r", str(src), "%s:/tmp/t" % env.vm_id)
        assert r.returncode == 0, r.stderr
        r = env.execq("stat -c '%a %Y %s' /tmp/t/a.txt /tmp/t/run.sh /tmp/t/empty; "
                      "cat /tmp/t/a.txt; readlink /tmp/t/link")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().split("\n") == [
            "640 1600000000 6", "755 1600000002 18", "600 1600000001 0", "alpha", "a.txt", ""]
        # a path the guest cannot write (a read-only proc file)
        r = env.cp(str(src / "a.txt"), "%s:/proc/version" % env.vm_id)
        assert r.returncode == 1 and b"/proc/version" in r.stderr, r.stderr
        # suspended: the copy resumes it (autoResumeEnabled), then reads the tree back
        assert hd.call("POST", "/microvms/%s/suspend" % env.vm_id)[0] == 200
        assert hd.wait_state(env.vm_id, ("SUSPENDED",), 120)["state"] == "SUSPENDED"
        # the REST extension resumes it too (GET of one file)
        st, _, body = hd.raw("GET", "/2025-09-09/microvms/%s/files?path=%%2Ftmp%%2Ft%%2Fa.txt"
                             % env.vm_id, timeout=300)
        assert st == 200, body[:300]
        assert hd.get(env.vm_id)[2]["state"] == "RUNNING"
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            assert t.extractfile("a.txt").read() == b"alpha\n"
        assert hd.call("POST", "/microvms/%s/suspend" % env.vm_id)[0] == 200
        assert hd.wait_state(env.vm_id, ("SUSPENDED",), 120)["state"] == "SUSPENDED"
        back = tmp_path / "back"
        r = env.cp("-r", "%s:/tmp/t" % env.vm_id, str(back), timeout=400)
        assert r.returncode == 0, r.stderr
        assert snapshot(back) == snapshot(src)
        assert hd.get(env.vm_id)[2]["state"] == "RUNNING"
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


def test_rest_files_get_and_put(host, tmp_path):
    """The REST extension (hearthd.8, FILES): GET streams a tar, PUT unpacks one."""
    import io
    import tarfile
    from urllib.parse import quote
    src = make_tree(tmp_path)
    base = "/2025-09-09/microvms/%s/files" % host.vm_id
    q = lambda p: quote(str(p), safe="")
    st, hdrs, body = host.hd.raw("GET", base + "?path=%s&recursive=true" % q(src))
    assert st == 200, body[:300]
    assert hdrs.get("content-type") == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        names = set(t.getnames())
        assert {"tree", "tree/a.txt", "tree/empty", "tree/sub/deeper/z.bin"} <= names
        assert t.extractfile("tree/a.txt").read() == b"alpha\n"
        assert t.getmember("tree/run.sh").mode == 0o755
    # a directory without recursive, a missing path, no path, no such VM
    st, _, body = host.hd.raw("GET", base + "?path=%s" % q(src))
    assert st == 400 and b"is a directory (use -r)" in body, body
    st, hdrs, body = host.hd.raw("GET", base + "?path=" + q("/nonexistent-hearth-file"))
    assert st == 404 and hdrs.get("x-amzn-errortype") == "ResourceNotFoundException", body
    assert host.hd.raw("GET", base)[0] == 400
    assert host.hd.raw("GET", "/2025-09-09/microvms/mvm-0000000000000000/files?path=%2F")[0] == 404
    # unsigned: refused like every API call
    assert host.hd.raw("GET", base + "?path=%2Fetc%2Fhostname", sign=False)[0] == 403
    # PUT a small tar; then a path that cannot be written
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("note")
        ti.size, ti.mode, ti.mtime = 5, 0o640, 1600000000
        t.addfile(ti, io.BytesIO(b"hello"))
    dest = tmp_path / "put-note"
    st, _, body = host.hd.raw("PUT", base + "?path=%s" % q(dest), body=b.getvalue(),
                              headers={"Content-Type": "application/x-tar"})
    assert st == 200, body
    assert dest.read_bytes() == b"hello" and stat.S_IMODE(dest.stat().st_mode) == 0o640
    st, _, body = host.hd.raw("PUT", base + "?path=" + q("/nonexistent-hearth-dir/x"), body=b.getvalue(),
                              headers={"Content-Type": "application/x-tar"})
    assert st == 400 and b"cannot write /nonexistent-hearth-dir/x" in body, body
    # the connection still serves API calls after a streamed answer
    assert host.hd.call("GET", "/microvms/%s" % host.vm_id)[0] == 200
