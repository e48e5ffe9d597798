"""Image builds end to end (issue 14) with the real hearthd, real builder VMs
and the real API: a Dockerfile zip built FROM busybox (COPY, RUN, ENV,
WORKDIR, USER, EXPOSE, CMD) becomes a version whose VM serves the copied
files through the endpoint with the image's user, workdir and env; a
failing RUN fails the build with its output in the log; an unchanged
rebuild comes from the step cache, and a change in the last COPY re-runs
only what follows it; DeleteMicrovmImage cancels a build and kill -9 of
hearthd ends one FAILED on restart, each leaving no VM, work directory or
namespace behind. One hearthd serves the module (its builds and step cache
are shared, which keeps the suite short)."""
import io
import os
import re
import signal
import subprocess
import time
import zipfile

import pytest

from conftest import wait_for
from hearthd_harness import Hearthd, busybox_images
from test_egress_apt import host_uplink  # noqa: F401 (a fixture)
from test_image_app import fetch

ROLE = "arn:aws:iam::000000000000:role/build"
BUSYBOX = "arn:hearth:lambda:local:aws:microvm-image:busybox"
BUILD = 900   # a cold build under TCG: boots, steps, snapshots
BOOT = 300

APP_DOCKERFILE = """\
# a small web app on busybox's httpd
FROM busybox
ENV GREETING="hello world" MODE=build
WORKDIR /srv/app
COPY www/ /www/
RUN echo "run-output: $GREETING from $(pwd)" && echo made-by-run > /www/run.txt \\
    && echo "web:x:1000:1000::/srv/app:/bin/sh" >> /etc/passwd \\
    && echo "web:x:1000:" >> /etc/group
COPY --chown=web start.sh /srv/app/
USER web
EXPOSE 8080
CMD ["/bin/sh", "/srv/app/start.sh"]
"""

START_SH = """\
{ echo "user=$(id -un) uid=$(id -u)"; echo "pwd=$(pwd)"; env | sort; } > /tmp/env.txt
exec httpd -f -p 8080 -h /www
"""


def make_zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def put_artifact(hd, key, files):
    d = os.path.join(hd.state_dir, "artifacts", "bkt")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, key), "wb") as f:
        f.write(make_zip(files))
    return "s3://bkt/" + key


def app_files(index=b"<h1>copied page</h1>\n", start=START_SH):
    return {"Dockerfile": APP_DOCKERFILE, "www/index.html": index, "start.sh": start,
            ".dockerignore": "secret.txt\n", "secret.txt": "never copied"}


def create(hd, name, uri, **extra):
    body = {"name": name, "baseImageArn": BUSYBOX, "buildRoleArn": ROLE,
            "codeArtifact": {"uri": uri}}
    body.update(extra)
    st, _, doc = hd.call("POST", "/microvm-images", body)
    assert st == 201, doc
    return doc


def update(hd, name, uri):
    st, _, doc = hd.call("PUT", "/microvm-images/" + name,
                         {"baseImageArn": BUSYBOX, "buildRoleArn": ROLE,
                          "codeArtifact": {"uri": uri}})
    assert st == 200, doc
    return doc


def build_of(hd, name, version):
    st, _, b = hd.call("GET", "/microvm-images/%s/versions/%s/builds" % (name, version))
    assert st == 200 and len(b["items"]) == 1, b
    return b["items"][0]


def wait_version(hd, name, version, timeout=BUILD):
    last = {}

    def done():
        nonlocal last
        st, _, last = hd.call("GET", "/microvm-images/%s/versions/%s" % (name, version))
        assert st == 200, last
        return last if last["state"] in ("SUCCESSFUL", "FAILED") else None
    wait_for(done, timeout, "build of %s %s (last %s)" % (name, version, last))
    return last


def build_log(hd, name, version):
    b = build_of(hd, name, version)
    st, _, lg = hd.call("GET", "/microvm-images/%s/versions/%s/builds/%s/logs?maxBytes=1048576"
                        % (name, version, b["buildId"]))
    assert st == 200, lg
    return lg["text"]


def timed_build(hd, name, version):
    t = time.monotonic()
    v = wait_version(hd, name, version)
    return v, time.monotonic() - t


def _procs():
    """{pid: (ppid, argv0)} of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % p, "rb") as f:
                a0 = f.read().split(b"\0")[0].decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        out[int(p)] = (ppid, a0)
    return out


def builder_qemus(hd):
    """QEMU processes of this hearthd's builder VMs: hearthd starts them itself
    (VMs the API runs are under their keepers)."""
    if hd.proc is None or hd.proc.poll() is not None:
        return []
    procs, keepers, found = _procs(), set(hd.keepers()), []
    for pid, (_, a0) in procs.items():
        if "qemu-system" not in a0:
            continue
        p = procs[pid][0]
        while p in procs and p != hd.proc.pid and p not in keepers and p > 1:
            p = procs[p][0]
        if p == hd.proc.pid:
            found.append(pid)
    return found


def alive(pids):
    return [p for p in pids if os.path.exists("/proc/%d" % p)]


def build_namespaces(hd):
    """Network namespaces of this hearthd's builder VMs."""
    from test_egress import netns_list, ns_prefix
    return [n for n in netns_list() if n.startswith(ns_prefix(hd) + "bld-")]


def assert_nothing_left(hd, name, version):
    builds = os.path.join(hd.state_dir, "builds")
    left = [n for n in os.listdir(builds) if not n.endswith(".log")] if os.path.isdir(builds) else []
    assert left == [], left
    assert not builder_qemus(hd)
    assert not build_namespaces(hd)
    vdir = os.path.join(hd.state_dir, "images", name, version)
    assert not os.path.exists(vdir) and not os.path.exists(vdir + ".tmp")


@pytest.fixture(scope="module")
def hd(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("build"))
    d = Hearthd(os.path.join(root, "state"), busybox_images(root)).start()
    d.wait_ingress()
    yield d
    d.close()


@pytest.fixture(scope="module")
def web(hd):
    """The busybox app, built once for the module: (version doc, seconds)."""
    create(hd, "web", put_artifact(hd, "web-1.zip", app_files()))
    return timed_build(hd, "web", "1.0")


def test_busybox_app_builds_and_serves(hd, web):
    v, _ = web
    assert v["state"] == "SUCCESSFUL", (v, build_log(hd, "web", "1.0"))
    b = build_of(hd, "web", "1.0")
    st, _, b = hd.call("GET", "/microvm-images/web/versions/1.0/builds/" + b["buildId"])
    sb = b["snapshotBuild"]
    assert sb["memorySnapshotSizeInBytes"] > 0 and sb["diskSnapshotSizeInBytes"] > 0, sb
    assert sb["codeInstallSizeInBytes"] > 0, sb
    log = build_log(hd, "web", "1.0")
    assert re.search(r"^\[2/4\] COPY www/ /www/$", log, re.M), log
    assert re.search(r"^\[3/4\] RUN echo", log, re.M), log
    assert "run-output: hello world from /srv/app" in log, log
    assert re.search(r"^\[3/4\] done \(\d+\.\d s\)$", log, re.M), log
    assert "build SUCCESSFUL" in log
    vdir = os.path.join(hd.state_dir, "images", "web", "1.0")
    assert sorted(os.listdir(vdir)) == ["image.json", "initrd.cpio.gz"]

    st, _, vm = hd.run(imageIdentifier="web")
    assert st == 200, vm
    vid = vm["microvmId"]
    doc = hd.wait_state(vid, ("RUNNING", "TERMINATED"), BOOT)
    assert doc["state"] == "RUNNING", (doc, hd.read_log())
    code, body = fetch(hd, vid, "/index.html")
    assert (code, body) == (200, "<h1>copied page</h1>\n")
    code, body = fetch(hd, vid, "/run.txt")
    assert (code, body) == (200, "made-by-run\n")
    code, _ = fetch(hd, vid, "/secret.txt")
    assert code == 404
    # USER, WORKDIR and ENV as the app saw them (start.sh copied them into /www? no:
    # /tmp is not served; ask through the agent).
    from test_lifecycle import sh
    env = sh(hd, vid, "cat /tmp/env.txt").splitlines()
    assert "user=web uid=1000" in env and "pwd=/srv/app" in env, env
    assert "GREETING=hello world" in env and "MODE=build" in env, env
    # COPY --chown=web: the name looked up in the image being built.
    assert sh(hd, vid, "stat -c %u:%g /srv/app/start.sh").strip() == "1000:1000"
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", 60)


def test_failing_run(hd):
    files = {"Dockerfile": "FROM busybox\nRUN echo about-to-fail; echo on-stderr >&2; exit 3\n"}
    create(hd, "bad", put_artifact(hd, "bad.zip", files))
    v = wait_version(hd, "bad", "1.0")
    assert v["state"] == "FAILED" and v["stateReason"] == "CONTAINER_BUILD_FAILED", v
    log = build_log(hd, "bad", "1.0")
    assert "about-to-fail" in log and "on-stderr" in log, log
    assert re.search(r"step 1/1 \(line 2\): RUN .* exited with code 3", log), log
    assert_nothing_left(hd, "bad", "1.0")


def test_not_a_managed_base(hd):
    create(hd, "py", put_artifact(hd, "py.zip", {"Dockerfile": "FROM python:3.12\nRUN true\n"}))
    v = wait_version(hd, "py", "1.0", timeout=60)
    assert v["state"] == "FAILED" and v["stateReason"] == "CONTAINER_BUILD_FAILED", v
    log = build_log(hd, "py", "1.0")
    assert "FROM python:3.12: not a managed base; available: busybox, debian-12" in log, log


def test_cache_unchanged_and_last_copy(hd, web):
    v1, cold = web
    assert v1["state"] == "SUCCESSFUL"
    # Unchanged: every step from the cache.
    update(hd, "web", put_artifact(hd, "web-2.zip", app_files()))
    v2, warm = timed_build(hd, "web", "2.0")
    assert v2["state"] == "SUCCESSFUL", (v2, build_log(hd, "web", "2.0"))
    log = build_log(hd, "web", "2.0")
    cached = re.findall(r"^\[(\d)/4\] CACHED ", log, re.M)
    assert cached == ["1", "2", "3", "4"], log
    # No builder VM at all: the image file comes from the cache too; what is
    # left is the image's own snapshot (its app started and snapshotted).
    assert "builder VM" not in log and "CACHED initrd.cpio.gz" in log, log
    assert warm < cold * 0.75, (warm, cold)
    # A change in the last COPY: the steps before it come from the cache.
    update(hd, "web", put_artifact(hd, "web-3.zip", app_files(start=START_SH + "# v3\n")))
    v3, _ = timed_build(hd, "web", "3.0")
    assert v3["state"] == "SUCCESSFUL", (v3, build_log(hd, "web", "3.0"))
    log = build_log(hd, "web", "3.0")
    assert re.findall(r"^\[(\d)/4\] CACHED ", log, re.M) == ["1", "2", "3"], log
    assert re.search(r"^\[4/4\] COPY --chown=web start.sh /srv/app/$", log, re.M), log
    assert "run-output: hello" not in log


def wait_log(hd, name, version, pattern, timeout=BUILD):
    def seen():
        try:
            return re.search(pattern, build_log(hd, name, version), re.M)
        except AssertionError:
            return None
    wait_for(seen, timeout, "%r in the build log" % pattern)


SLOW = {"Dockerfile": "FROM busybox\nRUN echo sleeping; sleep 600\n"}


def test_cancel_by_delete(hd):
    create(hd, "slow", put_artifact(hd, "slow.zip", SLOW))
    wait_log(hd, "slow", "1.0", r"^sleeping$")
    qemus = builder_qemus(hd)
    assert qemus
    st, _, doc = hd.call("DELETE", "/microvm-images/slow")
    assert st == 200, doc

    def gone():
        st, _, _ = hd.call("GET", "/microvm-images/slow")
        return st == 404
    wait_for(gone, 60, "the image deleted")
    wait_for(lambda: not alive(qemus), 30, "the builder VM stopped")
    assert_nothing_left(hd, "slow", "1.0")


def test_kill9_mid_build(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        create(d, "k", put_artifact(d, "slow.zip", SLOW))
        wait_log(d, "k", "1.0", r"^sleeping$")
        qemus = builder_qemus(d)
        assert qemus
        d.kill9()
        wait_for(lambda: not alive(qemus), 30, "the builder VM died with hearthd")
        d.start()
        v = wait_version(d, "k", "1.0", timeout=60)
        assert v["state"] == "FAILED" and v["stateReason"] == "INTERNAL_PLATFORM_ERROR", v
        assert_nothing_left(d, "k", "1.0")
    finally:
        d.close()


# ---- the Getting Started walkthrough: Flask on debian:bookworm (slow) ----

DEBIAN = "arn:hearth:lambda:local:aws:microvm-image:debian-12"

FLASK_DOCKERFILE = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3-flask
WORKDIR /app
COPY app.py /app/
EXPOSE 8080
CMD ["python3", "app.py"]
"""

FLASK_APP = """\
import os
import threading

from flask import Flask

app = Flask("web")
hooks = Flask("hooks")


@app.route("/")
def index():
    return "Hello from Flask, %s\\n" % os.environ.get("WHO", "nobody")


@hooks.route("/aws/lambda-microvms/runtime/v1/<name>", methods=["POST"])
def hook(name):
    return "", 200


threading.Thread(target=lambda: hooks.run(host="127.0.0.1", port=9000), daemon=True).start()
app.run(host="0.0.0.0", port=8080)
"""


@pytest.mark.slow
def test_getting_started_flask_on_debian(tmp_path, host_uplink):
    """The service's walkthrough: apt-get in RUN reaches this machine's Debian
    mirror (the only outside destination, as in test_egress_apt) through the
    builder VM's egress and the DNS it serves itself; /ready on 9000 gates
    the snapshot; the app answers through the endpoint."""
    from conftest import guest_image
    from test_egress import close_hearthd, netns_list
    root = str(tmp_path)
    deb = os.path.join(root, "images", "debian-12")
    os.makedirs(deb)
    import shutil
    shutil.copy(guest_image("debian-12"), os.path.join(deb, "image.json"))
    d = Hearthd(os.path.join(root, "state"), os.path.join(root, "images"),
                extra=["--egress-uplink", "host"])
    d.netns_before = set(netns_list())
    d.start()
    try:
        d.wait_ingress()
        uri = put_artifact(d, "flask.zip", {"Dockerfile": FLASK_DOCKERFILE, "app.py": FLASK_APP})
        create(d, "flask", uri, baseImageArn=DEBIAN, environmentVariables={"WHO": "hearth"},
               hooks={"port": 9000, "microvmImageHooks": {"ready": "ENABLED"}})
        # The builder VM has its own namespace while it runs (and none after).
        wait_log(d, "flask", "1.0", r"^\[1/3\] RUN apt-get")
        assert build_namespaces(d)
        v = wait_version(d, "flask", "1.0", timeout=2400)
        log = build_log(d, "flask", "1.0")
        assert v["state"] == "SUCCESSFUL", (v, log)
        assert re.search(r"^\[1/3\] RUN apt-get update && apt-get install", log, re.M), log
        assert "Setting up python3-flask" in log, log
        vdir = os.path.join(d.state_dir, "images", "flask", "1.0")
        assert sorted(os.listdir(vdir)) == ["disk.img", "image.json"]
        st, _, vm = d.run(imageIdentifier="flask")
        assert st == 200, vm
        vid = vm["microvmId"]
        doc = d.wait_state(vid, ("RUNNING", "TERMINATED"), BOOT)
        assert doc["state"] == "RUNNING", (doc, d.read_log())
        code, body = fetch(d, vid, "/")
        assert (code, body) == (200, "Hello from Flask, hearth\n")
        d.call("DELETE", "/microvms/" + vid)
        d.wait_state(vid, "TERMINATED", 120)
        # Unchanged: no builder VM, no apt; the disk comes from the cache.
        st, _, up = d.call("PUT", "/microvm-images/flask",
                           {"baseImageArn": DEBIAN, "buildRoleArn": ROLE,
                            "environmentVariables": {"WHO": "hearth"},
                            "hooks": {"port": 9000, "microvmImageHooks": {"ready": "ENABLED"}},
                            "codeArtifact": {"uri": uri}})
        assert st == 200, up
        v2 = wait_version(d, "flask", "2.0", timeout=600)
        log2 = build_log(d, "flask", "2.0")
        assert v2["state"] == "SUCCESSFUL", (v2, log2)
        assert re.findall(r"^\[(\d)/3\] CACHED ", log2, re.M) == ["1", "2", "3"], log2
        assert "builder VM" not in log2 and "CACHED disk.img" in log2, log2
        assert not build_namespaces(d)
    finally:
        close_hearthd(d)


def test_dns_of_a_no_egress_build(hd):
    """The builder VM's DNS is served by its build, held to the image's
    connector: NO_EGRESS answers REFUSED (before any upstream is asked)."""
    from test_egress import NO_EGRESS
    files = {"Dockerfile": "FROM " + BUSYBOX + "\n"
                           "RUN nslookup deb.example.invalid 2>&1; echo rc=$?\n"}
    create(hd, "nodns", put_artifact(hd, "nodns.zip", files), egressNetworkConnectors=[NO_EGRESS])
    v = wait_version(hd, "nodns", "1.0")
    log = build_log(hd, "nodns", "1.0")
    assert v["state"] == "SUCCESSFUL", (v, log)
    assert "REFUSED" in log and re.search(r"^rc=1$", log, re.M), log


def tar_gz(files):
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_add_tar_chmod_heredoc(hd):
    """ADD of a local tar unpacks it; COPY --chmod; a heredoc COPY and RUN;
    USER then WORKDIR and RUN."""
    df = ("FROM busybox\n"
          "ADD files.tar.gz /opt/\n"
          "COPY --chmod=0700 <<EOF /opt/script.sh\n"
          "echo script-ran\n"
          "EOF\n"
          "RUN <<EOF\n"
          "set -e\n"
          "cat /opt/a.txt /opt/d/b.txt\n"
          "stat -c 'mode=%a' /opt/script.sh\n"
          "/opt/script.sh\n"
          "EOF\n"
          "USER nobody\n"
          "WORKDIR /home/nob\n"
          "RUN echo uid=$(id -u) && stat -c 'owner=%U' . && pwd\n")
    files = {"Dockerfile": df, "files.tar.gz": tar_gz({"a.txt": b"from-a\n",
                                                       "d/b.txt": b"from-b\n"})}
    create(hd, "addtar", put_artifact(hd, "addtar.zip", files))
    v = wait_version(hd, "addtar", "1.0")
    log = build_log(hd, "addtar", "1.0")
    assert v["state"] == "SUCCESSFUL", (v, log)
    # RUN after USER runs as that user; WORKDIR after USER makes it the owner.
    for line in ("from-a", "from-b", "mode=700", "script-ran", "uid=65534", "owner=nobody",
                 "/home/nob"):
        assert re.search("^%s$" % line, log, re.M), (line, log)


MULTI_DOCKERFILE = """\
FROM busybox AS gen
RUN mkdir -p /out/sub && echo generated > /out/sub/g.txt && echo one > /out/one.txt
FROM busybox AS unused
RUN exit 1
FROM busybox
COPY --from=gen /out/ /www/
COPY --from=gen /out/one.txt /www/renamed.txt
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""


def test_multi_stage(hd):
    """COPY --from an earlier stage (a directory's contents, a file renamed);
    a stage nothing needs is never built."""
    create(hd, "multi", put_artifact(hd, "multi.zip", {"Dockerfile": MULTI_DOCKERFILE}))
    v = wait_version(hd, "multi", "1.0")
    log = build_log(hd, "multi", "1.0")
    assert v["state"] == "SUCCESSFUL", (v, log)
    assert "exit 1" not in log, log
    assert re.search(r"^\[2/3\] COPY --from=gen /out/ /www/$", log, re.M), log
    st, _, vm = hd.run(imageIdentifier="multi")
    assert st == 200, vm
    vid = vm["microvmId"]
    assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), BOOT)["state"] == "RUNNING"
    assert fetch(hd, vid, "/sub/g.txt") == (200, "generated\n")
    assert fetch(hd, vid, "/renamed.txt") == (200, "one\n")
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", 60)
    assert_nothing_left_but_the_version(hd)


def assert_nothing_left_but_the_version(hd):
    builds = os.path.join(hd.state_dir, "builds")
    assert [n for n in os.listdir(builds) if not n.endswith(".log")] == []
    assert not builder_qemus(hd)


def test_full_disk(tmp_path):
    """A state directory that fills while the builder VM is snapshotted (its
    memory holds 40 MiB written by RUN) ends the build DISK_STORAGE_FULL,
    leaving nothing of it behind but the log."""
    state = str(tmp_path / "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0700", "tmpfs", state],
                   check=True, timeout=30)
    d = Hearthd(state, busybox_images(str(tmp_path)))
    try:
        d.start()
        files = {"Dockerfile": "FROM busybox\nRUN head -c 41943040 /dev/urandom > /fill\n"
                               "RUN echo never\n"}
        create(d, "full", put_artifact(d, "full.zip", files))
        v = wait_version(d, "full", "1.0", timeout=300)
        log = build_log(d, "full", "1.0")
        assert v["state"] == "FAILED" and v["stateReason"] == "DISK_STORAGE_FULL", (v, log)
        assert "No space left on device" in log and "[2/2]" not in log, log
        assert_nothing_left(d, "full", "1.0")
    finally:
        d.close()
        subprocess.run(["umount", "-l", state], timeout=30)


def test_validate_hook_decides(hd):
    """/validate on the test VM restored from the new snapshot: 503 then 200
    makes the version; 500 fails the build (CONTAINER_BUILD_FAILED) and
    removes the version's files."""
    from test_image_app import HANDLER
    df = ("FROM busybox\n"
          "COPY --chmod=0755 handler.sh /app/handler.sh\n"
          "EXPOSE 9000\n"
          'CMD ["nc", "-ll", "-p", "9000", "-e", "/app/handler.sh"]\n')
    uri = put_artifact(hd, "hook.zip", {"Dockerfile": df, "handler.sh": HANDLER})
    for name, mode, state in (("val-ok", "503-then-200", "SUCCESSFUL"),
                              ("val-bad", "500", "FAILED")):
        create(hd, name, uri, environmentVariables={"VALIDATE_MODE": mode},
               hooks={"port": 9000, "microvmImageHooks": {"validate": "ENABLED",
                                                          "validateTimeoutInSeconds": 60}})
        v = wait_version(hd, name, "1.0")
        log = build_log(hd, name, "1.0")
        assert v["state"] == state, (v, log)
        if state == "FAILED":
            assert v["stateReason"] == "CONTAINER_BUILD_FAILED", v
            assert "validate" in log and "500" in log, log
            assert_nothing_left(hd, name, "1.0")
        else:
            assert re.search(r"^validated \(\d+\.\d s\)$", log, re.M), log


def test_run_program_missing(hd):
    """An exec-form RUN whose program does not exist fails the build saying so."""
    files = {"Dockerfile": 'FROM busybox\nRUN ["/no/such/program", "x"]\n'}
    create(hd, "noprog", put_artifact(hd, "noprog.zip", files))
    v = wait_version(hd, "noprog", "1.0")
    log = build_log(hd, "noprog", "1.0")
    assert v["state"] == "FAILED" and v["stateReason"] == "CONTAINER_BUILD_FAILED", (v, log)
    assert re.search(r"^error: step 1/1 \(line 2\): RUN: could not start: .*/no/such/program", log,
                     re.M), log
    assert_nothing_left(hd, "noprog", "1.0")


def test_queue_at_most_n(tmp_path):
    """--max-builds 1: a second build waits PENDING while the first runs, and
    runs once the first ends (here: cancelled by deleting its image)."""
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--max-builds", "1"]).start()
    try:
        create(d, "first", put_artifact(d, "slow.zip", SLOW))
        wait_log(d, "first", "1.0", r"^sleeping$")
        create(d, "second", put_artifact(d, "quick.zip",
                                         {"Dockerfile": "FROM busybox\nRUN echo quick\n"}))
        time.sleep(2)
        st, _, v2 = d.call("GET", "/microvm-images/second/versions/1.0")
        assert v2["state"] == "PENDING", v2
        assert build_of(d, "second", "1.0")["buildState"] == "PENDING"
        st, _, v1 = d.call("GET", "/microvm-images/first/versions/1.0")
        assert v1["state"] == "IN_PROGRESS", v1
        assert d.call("DELETE", "/microvm-images/first")[0] == 200
        v2 = wait_version(d, "second", "1.0", timeout=300)
        assert v2["state"] == "SUCCESSFUL", (v2, build_log(d, "second", "1.0"))
    finally:
        d.close()
