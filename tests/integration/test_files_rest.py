"""The REST files extension's streamed upload (hearthd.8, FILES; PROTOCOL.md
"Streamed request bodies"): PUT .../files signed with x-amz-content-sha256:
UNSIGNED-PAYLOAD takes its tar body as it comes, at the pace of the agent's
window, bounded in size and idle time. All against one real busybox VM; every
wait has a deadline."""
import hashlib
import io
import os
import socket
import subprocess
import tarfile
import time
from urllib.parse import quote

import pytest

from hearthd_harness import REGION, SERVICE, Hearthd, busybox_images
from test_ingress import sanitizer_reports

BOOT = 300  # the first busybox run builds the image snapshot
IDLE_S = 30  # session/httpd.c HTTPD_IDLE_S: a stalled body is cut after this


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("files-rest"))
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root, memoryMiB=512)).start()
    try:
        doc = hd.run_running(BOOT, idlePolicy={"maxIdleDurationSeconds": 600,
                                               "suspendedDurationSeconds": 600,
                                               "autoResumeEnabled": True})
        yield hd, doc["microvmId"]
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path


def files_path(vm_id, path, recursive=False):
    return "/2025-09-09/microvms/%s/files?path=%s%s" % (
        vm_id, quote(path, safe=""), "&recursive=true" if recursive else "")


def curl(hd, method, path, *args, timeout=600):
    """curl signing with --aws-sigv4 (a PUT's payload unsigned); (status, body)."""
    c = hd.signing_creds()
    unsigned = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"] if method == "PUT" else []
    r = subprocess.run(
        ["curl", "-sS", "-X", method, "--aws-sigv4", "aws:amz:%s:%s" % (REGION, SERVICE),
         "--user", "%s:%s" % (c.access_key, c.secret_key)] + unsigned + [
         "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (hd.port, path)] + list(args),
        capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def unsigned_head(hd, method, path, extra):
    """A request head signed UNSIGNED-PAYLOAD (botocore), for a raw socket."""
    h = hd.signed_headers(method, path, b"", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % hd.port]
    lines += ["%s: %s" % kv for kv in h.items() if kv[0].lower() != "host"]
    lines += extra
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(s, timeout):
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def make_big_tree(base):
    """About 100 MB of random files with their modes: {name: (mode, sha256)}."""
    t = base / "big"
    (t / "sub").mkdir(parents=True)
    sizes = {"a.bin": 40 << 20, "b.bin": 30 << 20, "sub/c.bin": 25 << 20,
             "sub/d.bin": 5 << 20, "empty": 0, "sub/small.txt": 1234}
    modes = {"a.bin": 0o644, "b.bin": 0o600, "sub/c.bin": 0o755, "sub/d.bin": 0o640,
             "empty": 0o400, "sub/small.txt": 0o664}
    want = {}
    for name, size in sizes.items():
        h = hashlib.sha256()
        with open(t / name, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                h.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        os.chmod(t / name, modes[name])
        want["big/" + name] = (modes[name], h.hexdigest())
    return t, want


def tar_of(src, arcname, out):
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(str(src), arcname=arcname)
    return out


def tar_digest(data):
    """{name: (mode, sha256)} of the regular files in a tar."""
    got = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            if m.isfile():
                got[m.name] = (m.mode & 0o7777,
                               hashlib.sha256(tf.extractfile(m).read()).hexdigest())
    return got


def test_put_100mb_tree_and_back(vm, tmp_path):
    hd, vid = vm
    src, want = make_big_tree(tmp_path)
    tarball = tar_of(src, "big", tmp_path / "big.tar")
    assert os.path.getsize(tarball) > 100 << 20
    st, body = curl(hd, "PUT", files_path(vid, "/tmp"), "-T", str(tarball),
                    "-H", "Content-Type: application/x-tar")
    assert st == 200, body
    st, body = curl(hd, "GET", files_path(vid, "/tmp/big", recursive=True))
    assert st == 200, body[:300]
    assert tar_digest(body) == want
    # chunked (curl reads stdin): part of the tree again, elsewhere
    part = tar_of(src / "sub", "chunked", tmp_path / "chunked.tar")
    with open(part, "rb") as f:
        c = hd.signing_creds()
        r = subprocess.run(
            ["curl", "-sS", "-X", "PUT", "--aws-sigv4", "aws:amz:%s:%s" % (REGION, SERVICE),
             "--user", "%s:%s" % (c.access_key, c.secret_key),
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-H", "Transfer-Encoding: chunked",
             "-T", "-", "-w", "\n%{http_code}",
             "http://127.0.0.1:%d%s" % (hd.port, files_path(vid, "/tmp"))],
            stdin=f, capture_output=True, timeout=600)
    assert r.returncode == 0 and r.stdout.endswith(b"\n200"), (r.stdout[-300:], r.stderr)
    st, body = curl(hd, "GET", files_path(vid, "/tmp/chunked/c.bin"))
    assert st == 200
    assert tar_digest(body) == {"c.bin": want["big/sub/c.bin"]}


def small_tar(size=300000):
    """A tar of one file, over the 64 KiB collected-body limit and the
    256 KiB stdin queue (so the body waits for the agent's window)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("note")
        data = os.urandom(size)
        ti.size, ti.mode = len(data), 0o640
        t.addfile(ti, io.BytesIO(data))
    return b.getvalue(), hashlib.sha256(data).hexdigest()


def test_put_resumes_suspended_vm(vm, tmp_path):
    hd, vid = vm
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    assert hd.wait_state(vid, ("SUSPENDED",), 120)["state"] == "SUSPENDED"
    data, digest = small_tar(5 << 20)  # the VM resumes while the body waits
    (tmp_path / "n.tar").write_bytes(data)
    st, body = curl(hd, "PUT", files_path(vid, "/tmp/resumed"), "-T", str(tmp_path / "n.tar"),
                    timeout=300)
    assert st == 200, body
    assert hd.get(vid)[2]["state"] == "RUNNING"
    st, body = curl(hd, "GET", files_path(vid, "/tmp/resumed"))
    assert st == 200 and tar_digest(body) == {"resumed": (0o640, digest)}


def test_put_unwritable_path(vm, tmp_path):
    hd, vid = vm
    src, _ = make_big_tree(tmp_path)
    tarball = tar_of(src / "sub", "sub", tmp_path / "sub.tar")  # 30 MB
    st, body = curl(hd, "PUT", files_path(vid, "/nonexistent-hearth-dir/x"), "-T", str(tarball))
    assert st == 400 and b"cannot create /nonexistent-hearth-dir/x" in body, body
    st, body = curl(hd, "GET", files_path(vid, "/nonexistent-hearth-dir", recursive=True))
    assert st == 404, body
    # a file where the tree's directory must go: refused mid-stream, after part of it
    data, _ = small_tar()
    (tmp_path / "n.tar").write_bytes(data)
    assert curl(hd, "PUT", files_path(vid, "/tmp/plain"), "-T", str(tmp_path / "n.tar"))[0] == 200
    st, body = curl(hd, "PUT", files_path(vid, "/tmp/plain/sub"), "-T", str(tarball))
    assert st == 400 and b"/tmp/plain" in body, body
    # a read-only file: the agent's message, never a success
    st, body = curl(hd, "PUT", files_path(vid, "/proc/version"), "-T", str(tmp_path / "n.tar"))
    assert st == 400 and b"/proc/version" in body, body
    st, _, doc = hd.get(vid)
    assert st == 200 and doc["state"] == "RUNNING"


def test_signed_payload_and_cap(vm):
    hd, vid = vm
    path = files_path(vid, "/tmp/signed")
    data, digest = small_tar()  # over 64 KiB, signed with its hash: refused, told why
    st, _, body = hd.raw("PUT", path, body=data)
    assert st == 413 and b"UNSIGNED-PAYLOAD" in body, body
    # under 64 KiB and signed with its hash: collected, checked, unpacked
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        ti = tarfile.TarInfo("signed")
        ti.size = 5
        t.addfile(ti, io.BytesIO(b"hello"))
    st, _, body = hd.raw("PUT", path, body=b.getvalue())
    assert st == 200, body
    # a streamed upload is checked at its head: unsigned or wrongly signed, refused
    st, _, body = hd.raw("PUT", files_path(vid, "/tmp/nosig"), body=data, sign=False,
                         headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert st == 403, body
    c = hd.signing_creds()
    r = subprocess.run(
        ["curl", "-sS", "-X", "PUT", "--aws-sigv4", "aws:amz:%s:%s" % (REGION, SERVICE),
         "--user", "%s:%s" % (c.access_key, "x" + c.secret_key[1:]),
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--data-binary", "@-",
         "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (hd.port, files_path(vid, "/tmp/badsig"))],
        input=data, capture_output=True, timeout=60)
    assert r.stdout.endswith(b"\n403"), r.stdout
    st, body = curl(hd, "GET", files_path(vid, "/tmp/badsig"))
    assert st == 404, body
    # UNSIGNED-PAYLOAD is for streamed bodies only
    st, _, body = hd.raw("POST", "/2025-09-09/microvms", body=b'{"imageIdentifier":"busybox"}',
                         headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert st == 403, body
    # a Content-Length over the cap (8 GiB) is refused before any body byte
    with socket.create_connection(("127.0.0.1", hd.port), timeout=30) as s:
        s.sendall(unsigned_head(hd, "PUT", path, ["Content-Length: %d" % (9 << 30)]))
        ans = read_answer(s, 30)
    assert ans.startswith(b"HTTP/1.1 413 "), ans[:300]
    assert b"streamed upload limit" in ans


def test_stalled_body_cut_api_responsive(vm):
    hd, vid = vm
    path = files_path(vid, "/tmp/stalled")
    data, _ = small_tar()
    s = socket.create_connection(("127.0.0.1", hd.port), timeout=30)
    try:
        s.sendall(unsigned_head(hd, "PUT", path, ["Content-Length: %d" % len(data)]))
        s.sendall(data[:100000])
        t0 = time.monotonic()
        # meanwhile the API answers others
        for _ in range(3):
            st, _, doc = hd.get(vid)
            assert st == 200 and doc["state"] == "RUNNING"
        assert time.monotonic() - t0 < 10
        ans = read_answer(s, IDLE_S + 30)
        waited = time.monotonic() - t0
    finally:
        s.close()
    # cut after the idle bound, with no success answer
    assert b"200 OK" not in ans, ans[:300]
    assert IDLE_S - 5 <= waited <= IDLE_S + 25, waited
    assert hd.get(vid)[0] == 200
