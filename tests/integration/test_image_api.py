"""The built-image API (CreateMicrovmImage and the routes around it) against a
real hearthd: validation with the AWS error shapes, 404s, listing and paging,
clientToken idempotency, builds that fail fast on a missing artifact (these
go through the real builder: S3_NO_SUCH_BUCKET / S3_NO_SUCH_KEY), version
status, deletes, the build log extension, restart recovery of a build cut
short, and RunMicrovm of a built version (its image files put in place as
the builder leaves them; the kernel does not exist, so the run ends
TERMINATED in the engine, a real path through the lifecycle)."""
import json
import os
import sqlite3
import urllib.parse

import pytest

from conftest import wait_for
from hearthd_harness import Hearthd, busybox_images, fake_image_dir

BASE = "arn:hearth:lambda:local:aws:microvm-image:busybox"
ROLE = "arn:aws:iam::000000000000:role/build"
ARN_PREFIX = "arn:hearth:lambda:local:000000000000:microvm-image:"


@pytest.fixture
def hd(tmp_path):
    images = fake_image_dir(str(tmp_path / "images"))
    d = Hearthd(str(tmp_path / "state"), images).start()
    yield d
    d.close()


def req(name="app", uri="s3://nobucket/app.zip", **extra):
    body = {"name": name, "baseImageArn": BASE, "buildRoleArn": ROLE,
            "codeArtifact": {"uri": uri}}
    body.update(extra)
    return body


def assert_err(st, et, doc, status, etype):
    assert (st, et) == (status, etype), (st, et, doc)
    assert isinstance(doc.get("message"), str) and doc["message"]


def wait_version(hd, name, version, states=("SUCCESSFUL", "FAILED"), timeout=60):
    last = {}

    def done():
        nonlocal last
        st, _, last = hd.call("GET", "/microvm-images/%s/versions/%s" % (name, version))
        assert st == 200, last
        return last if last["state"] in states else None
    wait_for(done, timeout, "version %s of %s in %s (last %s)" % (version, name, states, last))
    return last


@pytest.mark.parametrize("body,what", [
    ({}, "name"),
    ({"baseImageArn": BASE, "buildRoleArn": ROLE, "codeArtifact": {"uri": "/x.zip"}}, "name"),
    (req(baseImageArn=None), "baseImageArn"),
    ({"name": "a", "baseImageArn": BASE, "codeArtifact": {"uri": "/x.zip"}}, "buildRoleArn"),
    ({"name": "a", "baseImageArn": BASE, "buildRoleArn": ROLE}, "codeArtifact"),
    (req(codeArtifact={}), "codeArtifact"),
    (req(uri="http://example.com/x.zip"), "codeArtifact.uri"),
    (req(uri="ftp://x/y"), "codeArtifact.uri"),
    (req(uri="relative/x.zip"), "codeArtifact.uri"),
    (req(uri="s3://bucketonly"), "codeArtifact.uri"),
    (req(uri="s3:///key"), "codeArtifact.uri"),
    (req(uri="/a/../../etc/passwd"), "codeArtifact.uri"),
    (req(uri=""), "codeArtifact.uri"),
    (req(name="bad name"), "name"),
    (req(name="-x"), "name"),
    (req(name="x" * 129), "name"),
    (req(name=7), "name"),
    (req(baseImageArn="arn:aws:lambda:us-east-1:000000000000:microvm-image:mine"),
     "baseImageArn"),
    (req(hooks={"port": 9000, "microvmHooks": {"run": "ENABLED"}}), "ready"),
    (req(hooks={"port": 0}), "port"),
    (req(hooks={"microvmImageHooks": {"ready": "MAYBE"}, "port": 9000}), "ready"),
    (req(environmentVariables={"1BAD": "x"}), "environment"),
    (req(environmentVariables={"OK": 1}), "environmentVariables"),
    (req(environmentVariables=[]), "environmentVariables"),
    (req(resources=[{"minimumMemoryInMiB": 1}]), "minimumMemoryInMiB"),
    (req(resources=[{}]), "minimumMemoryInMiB"),
    (req(cpuConfigurations=[{"architecture": "SPARC"}]), "architecture"),
    (req(cpuConfigurations=[{"architecture": "X86_64", "vcpus": 0}]), "vcpus"),
    (req(additionalOsCapabilities=["SOME"]), "additionalOsCapabilities"),
    (req(egressNetworkConnectors=["arn:x:lambda:r:a:network-connector:nope"]), "connector"),
    (req(clientToken="t" * 65), "clientToken"),
    (req(description="d" * 257), "description"),
    (req(tags={"k": 1}), "tags"),
])
def test_create_validation(hd, body, what):
    body = {k: v for k, v in body.items() if v is not None}
    st, et, doc = hd.call("POST", "/microvm-images", body)
    assert_err(st, et, doc, 400, "ValidationException")
    assert what.split(".")[0].lower() in doc["message"].lower(), doc["message"]
    st, _, lst = hd.call("GET", "/microvm-images")
    assert st == 200 and lst["items"] == []


def test_managed_names_are_taken(hd):
    for name in ("busybox", "debian-12"):
        st, et, doc = hd.call("POST", "/microvm-images", req(name=name))
        assert_err(st, et, doc, 409, "ConflictException")
        assert "managed" in doc["message"]
    st, _, lst = hd.call("GET", "/microvm-images")
    assert lst["items"] == []


def test_not_found(hd):
    for path in ["/microvm-images/nope", "/microvm-images/nope/versions",
                 "/microvm-images/nope/versions/1.0",
                 "/microvm-images/nope/versions/1.0/builds",
                 "/microvm-images/nope/versions/1.0/builds/abc",
                 "/microvm-images/nope/versions/1.0/builds/abc/logs",
                 "/microvm-images/" + urllib.parse.quote(ARN_PREFIX + "nope", safe="")]:
        st, et, doc = hd.call("GET", path)
        assert_err(st, et, doc, 404, "ResourceNotFoundException")
    # Managed images are not built images.
    st, et, doc = hd.call("GET", "/microvm-images/busybox")
    assert_err(st, et, doc, 404, "ResourceNotFoundException")
    for method, path, body in [("DELETE", "/microvm-images/nope", None),
                               ("PUT", "/microvm-images/nope", req()),
                               ("DELETE", "/microvm-images/nope/versions/1.0", None),
                               ("PATCH", "/microvm-images/nope/versions/1.0",
                                {"status": "ACTIVE"})]:
        st, et, doc = hd.call(method, path, body)
        assert_err(st, et, doc, 404, "ResourceNotFoundException")
    st, et, doc = hd.call("POST", "/microvm-images", req(name="there"))
    assert st == 201, doc
    for path in ["/microvm-images/there/versions/9.0",
                 "/microvm-images/there/versions/1.0/builds/0000",
                 "/microvm-images/there/versions/9.0/builds"]:
        st, et, doc = hd.call("GET", path)
        assert_err(st, et, doc, 404, "ResourceNotFoundException")
    st, et, doc = hd.call("GET", "/microvm-images/there/versions/1.0;rm")
    assert_err(st, et, doc, 400, "ValidationException")


def test_create_shape_and_missing_bucket(hd):
    body = req(name="web", description="a web app",
               hooks={"port": 9000, "microvmImageHooks": {"ready": "ENABLED"}},
               environmentVariables={"MODE": "prod"},
               resources=[{"minimumMemoryInMiB": 256}],
               cpuConfigurations=[{"architecture": "X86_64"}],
               tags={"team": "a"})
    st, et, doc = hd.call("POST", "/microvm-images", body)
    assert st == 201, doc
    assert doc["imageArn"] == ARN_PREFIX + "web"
    assert doc["name"] == "web" and doc["imageVersion"] == "1.0"
    assert doc["state"] in ("CREATING", "CREATE_FAILED")
    assert doc["codeArtifact"] == {"uri": "s3://nobucket/app.zip"}
    assert doc["baseImageArn"] == BASE and doc["buildRoleArn"] == ROLE
    assert doc["environmentVariables"] == {"MODE": "prod"}
    assert doc["resources"] == [{"minimumMemoryInMiB": 256}]
    assert doc["hooks"]["port"] == 9000
    assert doc["tags"] == {"team": "a"}
    assert isinstance(doc["createdAt"], int)

    v = wait_version(hd, "web", "1.0")
    assert v["state"] == "FAILED" and v["stateReason"] == "S3_NO_SUCH_BUCKET", v
    assert v["status"] == "ACTIVE"
    assert v["codeArtifact"] == {"uri": "s3://nobucket/app.zip"}
    st, _, im = hd.call("GET", "/microvm-images/web")
    assert st == 200 and im["state"] == "CREATE_FAILED", im
    assert im["latestFailedImageVersion"] == "1.0"
    assert "latestActiveImageVersion" not in im
    # The same through the image's ARN.
    st, _, im2 = hd.call("GET", "/microvm-images/" + urllib.parse.quote(im["imageArn"], safe=""))
    assert st == 200 and im2["name"] == "web"

    st, _, builds = hd.call("GET", "/microvm-images/web/versions/1.0/builds")
    assert st == 200 and len(builds["items"]) == 1
    b = builds["items"][0]
    assert b["buildState"] == "FAILED" and b["stateReason"] == "S3_NO_SUCH_BUCKET"
    assert b["architecture"] == "X86_64" and b["imageVersion"] == "1.0"
    st, _, b1 = hd.call("GET", "/microvm-images/web/versions/1.0/builds/" + b["buildId"])
    assert st == 200 and b1["buildId"] == b["buildId"] and b1["buildState"] == "FAILED"
    assert "snapshotBuild" not in b1
    st, _, none = hd.call("GET", "/microvm-images/web/versions/1.0/builds?architecture=ARM_64")
    assert st == 200 and none["items"] == []

    # The log extension: a build that ended is complete.
    logs = "/microvm-images/web/versions/1.0/builds/%s/logs" % b["buildId"]
    st, _, lg = hd.call("GET", logs)
    assert st == 200 and lg["complete"] is True and isinstance(lg["text"], str)
    assert lg["nextOffset"] == len(lg["text"].encode())
    st, _, lg2 = hd.call("GET", logs + "?offset=%d" % lg["nextOffset"])
    assert st == 200 and lg2["text"] == "" and lg2["nextOffset"] == lg["nextOffset"]
    for bad in ("?offset=-1", "?maxBytes=0", "?maxBytes=x", "?maxBytes=99999999"):
        st, et, doc = hd.call("GET", logs + bad)
        assert_err(st, et, doc, 400, "ValidationException")

    # A second image of that name is a conflict.
    st, et, doc = hd.call("POST", "/microvm-images", req(name="web"))
    assert_err(st, et, doc, 409, "ConflictException")


def test_missing_key(hd):
    os.makedirs(os.path.join(hd.state_dir, "artifacts", "bkt"), exist_ok=True)
    st, _, doc = hd.call("POST", "/microvm-images", req(name="k", uri="s3://bkt/none.zip"))
    assert st == 201, doc
    v = wait_version(hd, "k", "1.0")
    assert v["state"] == "FAILED" and v["stateReason"] == "S3_NO_SUCH_KEY", v


def test_update_makes_the_next_major(hd):
    st, _, doc = hd.call("POST", "/microvm-images", req(name="u"))
    assert st == 201
    wait_version(hd, "u", "1.0")
    st, et, doc = hd.call("PUT", "/microvm-images/u", {"name": "ignored"})
    assert_err(st, et, doc, 400, "ValidationException")
    body = {k: v for k, v in req().items() if k != "name"}
    st, _, up = hd.call("PUT", "/microvm-images/u", body)
    assert st == 200, up
    assert up["imageVersion"] == "2.0" and up["state"] in ("UPDATING", "UPDATE_FAILED")
    v = wait_version(hd, "u", "2.0")
    assert v["state"] == "FAILED" and v["stateReason"] == "S3_NO_SUCH_BUCKET"
    st, _, im = hd.call("GET", "/microvm-images/u")
    assert im["state"] == "UPDATE_FAILED" and im["latestFailedImageVersion"] == "2.0"
    st, _, vers = hd.call("GET", "/microvm-images/u/versions")
    assert [x["imageVersion"] for x in vers["items"]] == ["1.0", "2.0"]
    # Deleting 2.0 does not make the next one 2.0 again.
    st, _, d = hd.call("DELETE", "/microvm-images/u/versions/2.0")
    assert st == 200 and d["imageVersion"] == "2.0", d
    st, _, up = hd.call("PUT", "/microvm-images/u", body)
    assert st == 200 and up["imageVersion"] == "3.0", up
    wait_version(hd, "u", "3.0")
    st, _, vers = hd.call("GET", "/microvm-images/u/versions?maxResults=1")
    assert [x["imageVersion"] for x in vers["items"]] == ["1.0"] and vers["nextToken"]
    st, _, vers2 = hd.call("GET", "/microvm-images/u/versions?maxResults=1&nextToken=" +
                           urllib.parse.quote(vers["nextToken"]))
    assert [x["imageVersion"] for x in vers2["items"]] == ["3.0"] and "nextToken" not in vers2


def test_list_paging_and_filter(hd):
    names = ["alpha", "beta", "alpine", "gamma"]
    for n in names:
        st, _, doc = hd.call("POST", "/microvm-images", req(name=n))
        assert st == 201, doc
    seen, token = [], None
    while True:
        q = "?maxResults=3" + ("&nextToken=" + urllib.parse.quote(token) if token else "")
        st, _, page = hd.call("GET", "/microvm-images" + q)
        assert st == 200 and len(page["items"]) <= 3
        seen += [i["name"] for i in page["items"]]
        for i in page["items"]:
            assert i["imageArn"] == ARN_PREFIX + i["name"] and i["state"]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    st, _, f = hd.call("GET", "/microvm-images?nameFilter=al")
    assert sorted(i["name"] for i in f["items"]) == ["alpha", "alpine"]
    # A token belongs to its filter.
    st, _, p1 = hd.call("GET", "/microvm-images?maxResults=1")
    st, et, doc = hd.call("GET", "/microvm-images?nameFilter=al&nextToken=" +
                          urllib.parse.quote(p1["nextToken"]))
    assert_err(st, et, doc, 400, "ValidationException")
    st, et, doc = hd.call("GET", "/microvm-images?maxResults=0")
    assert_err(st, et, doc, 400, "ValidationException")


def test_client_token(hd):
    body = req(name="tok", clientToken="tok-1")
    st, _, a = hd.call("POST", "/microvm-images", body)
    assert st == 201, a
    st, _, b = hd.call("POST", "/microvm-images", body)
    assert st == 201 and b["imageArn"] == a["imageArn"] and b["imageVersion"] == "1.0"
    st, et, doc = hd.call("POST", "/microvm-images", dict(body, description="other"))
    assert_err(st, et, doc, 409, "ConflictException")
    st, et, doc = hd.call("POST", "/microvm-images", dict(body, name="tok2"))
    assert_err(st, et, doc, 409, "ConflictException")
    st, _, lst = hd.call("GET", "/microvm-images")
    assert [i["name"] for i in lst["items"]] == ["tok"]
    wait_version(hd, "tok", "1.0")
    upd = {k: v for k, v in req(clientToken="tok-up").items() if k != "name"}
    st, _, u1 = hd.call("PUT", "/microvm-images/tok", upd)
    assert st == 200 and u1["imageVersion"] == "2.0", u1
    wait_version(hd, "tok", "2.0")
    st, _, u2 = hd.call("PUT", "/microvm-images/tok", upd)
    assert st == 200 and u2["imageVersion"] == "2.0", u2
    st, _, vers = hd.call("GET", "/microvm-images/tok/versions")
    assert len(vers["items"]) == 2


def test_version_status_and_deletes(hd):
    st, _, doc = hd.call("POST", "/microvm-images", req(name="s"))
    assert st == 201
    wait_version(hd, "s", "1.0")
    path = "/microvm-images/s/versions/1.0"
    for bad in ({}, {"status": "ON"}, {"status": 1}):
        st, et, doc = hd.call("PATCH", path, bad)
        assert_err(st, et, doc, 400, "ValidationException")
    st, _, v = hd.call("PATCH", path, {"status": "INACTIVE"})
    assert st == 200 and v["status"] == "INACTIVE"
    st, _, v = hd.call("GET", path)
    assert v["status"] == "INACTIVE"
    st, _, v = hd.call("PATCH", path, {"status": "ACTIVE"})
    assert st == 200 and v["status"] == "ACTIVE"
    # Tags on the built image's ARN.
    arn = urllib.parse.quote(ARN_PREFIX + "s", safe="")
    st, _, data = hd.raw("POST", "/2017-03-31/tags/" + arn, {"Tags": {"k": "v"}})
    assert st == 204, data
    st, _, data = hd.raw("GET", "/2017-03-31/tags/" + arn)
    assert json.loads(data) == {"Tags": {"k": "v"}}

    st, _, d = hd.call("DELETE", path)
    assert st == 200 and d["state"] == "DELETED"
    st, et, doc = hd.call("GET", path)
    assert_err(st, et, doc, 404, "ResourceNotFoundException")
    st, _, d = hd.call("DELETE", "/microvm-images/s")
    assert st == 200 and d["state"] == "DELETING" and d["imageIdentifier"] == ARN_PREFIX + "s"
    st, et, doc = hd.call("GET", "/microvm-images/s")
    assert_err(st, et, doc, 404, "ResourceNotFoundException")
    st, et, doc = hd.raw("GET", "/2017-03-31/tags/" + arn)
    assert st == 404
    # The name is free again, with no tags.
    st, _, doc = hd.call("POST", "/microvm-images", req(name="s"))
    assert st == 201 and doc["imageVersion"] == "1.0" and doc["tags"] == {}


def db(hd):
    return sqlite3.connect(os.path.join(hd.state_dir, "hearth.db"))


def test_restart_ends_a_build_cut_short(tmp_path):
    images = fake_image_dir(str(tmp_path / "images"))
    state = str(tmp_path / "state")
    hd = Hearthd(state, images).start()
    try:
        st, _, doc = hd.call("POST", "/microvm-images", req(name="cut"))
        assert st == 201
        wait_version(hd, "cut", "1.0")
        st, _, builds = hd.call("GET", "/microvm-images/cut/versions/1.0/builds")
        bid = builds["items"][0]["buildId"]
        st, _, doc = hd.call("POST", "/microvm-images", req(name="gone"))
        wait_version(hd, "gone", "1.0")
        st, _, gb = hd.call("GET", "/microvm-images/gone/versions/1.0/builds")
        gone_log = os.path.join(state, "builds", gb["items"][0]["buildId"] + ".log")
        open(gone_log, "a").close()
        os.makedirs(os.path.join(state, "images", "gone", "1.0"))
        hd.kill9()
        # As a kill -9 mid-build leaves it: rows PENDING, a work dir, a
        # half-written version directory.
        with db(hd) as c:
            c.execute("UPDATE image_builds SET state='PENDING', reason='', ended_at=0 "
                      "WHERE image='cut'")
            c.execute("UPDATE image_versions SET state='PENDING', reason='' WHERE image='cut'")
            c.execute("UPDATE images SET state='CREATING' WHERE name='cut'")
            # A delete that waited for its build when hearthd died.
            c.execute("UPDATE images SET state='DELETING' WHERE name='gone'")
        work = os.path.join(state, "builds", bid)
        tmpver = os.path.join(state, "images", "cut", "1.0.tmp-123")
        for d in (work, tmpver):
            os.makedirs(d)
            open(os.path.join(d, "junk"), "w").close()
        hd.start()
        st, _, v = hd.call("GET", "/microvm-images/cut/versions/1.0")
        assert v["state"] == "FAILED" and v["stateReason"] == "INTERNAL_PLATFORM_ERROR", v
        assert "restarted" in v["hearth"]["stateReasonMessage"]
        st, _, im = hd.call("GET", "/microvm-images/cut")
        assert im["state"] == "CREATE_FAILED"
        st, _, b = hd.call("GET", "/microvm-images/cut/versions/1.0/builds/" + bid)
        assert b["buildState"] == "FAILED" and b["stateReason"] == "INTERNAL_PLATFORM_ERROR"
        assert not os.path.exists(work) and not os.path.exists(tmpver)
        st, _, doc = hd.call("GET", "/microvm-images/gone")
        assert st == 404, doc
        assert not os.path.exists(os.path.join(state, "images", "gone"))
        assert not os.path.exists(gone_log)
    finally:
        hd.close()


def test_run_a_built_version(tmp_path):
    """A built version runs like a managed image (the host engine: the agent as
    a host process, so the VM really is RUNNING); what a VM runs cannot be
    deleted; deleting the version frees its files and snapshots."""
    images = busybox_images(str(tmp_path))
    state = str(tmp_path / "state")
    hd = Hearthd(state, images, extra=["--engine", "host"]).start()
    try:
        st, _, doc = hd.call("POST", "/microvm-images", req(name="mine"))
        assert st == 201
        wait_version(hd, "mine", "1.0")
        # Nothing built successfully: nothing to run.
        st, et, doc = hd.run(imageIdentifier="mine")
        assert_err(st, et, doc, 400, "ValidationException")
        st, et, doc = hd.run(imageIdentifier="mine", imageVersion="1.0")
        assert_err(st, et, doc, 400, "ValidationException")
        st, et, doc = hd.run(imageIdentifier="mine", imageVersion="7.0")
        assert_err(st, et, doc, 404, "ResourceNotFoundException")
        hd.stop()
        # Version 1.0 as a successful build leaves it (image.json in its directory).
        vdir = os.path.join(state, "images", "mine", "1.0")
        os.makedirs(vdir)
        src = json.load(open(os.path.join(images, "busybox", "image.json")))
        src.update(name="mine", version="1.0")
        json.dump(src, open(os.path.join(vdir, "image.json"), "w"))
        with db(hd) as c:
            c.execute("UPDATE image_versions SET state='SUCCESSFUL', reason=''")
            c.execute("UPDATE image_builds SET state='SUCCESSFUL', reason='', mem_bytes=10, "
                      "disk_bytes=20, code_bytes=30")
            c.execute("UPDATE images SET state='CREATED'")
        hd.start()
        st, _, im = hd.call("GET", "/microvm-images/mine")
        assert im["latestActiveImageVersion"] == "1.0" and "latestFailedImageVersion" not in im
        st, _, builds = hd.call("GET", "/microvm-images/mine/versions/1.0/builds")
        st, _, b = hd.call("GET", "/microvm-images/mine/versions/1.0/builds/" +
                           builds["items"][0]["buildId"])
        assert b["snapshotBuild"] == {"memorySnapshotSizeInBytes": 10,
                                      "diskSnapshotSizeInBytes": 20,
                                      "codeInstallSizeInBytes": 30}
        # INACTIVE: not the default; named, it still runs.
        hd.call("PATCH", "/microvm-images/mine/versions/1.0", {"status": "INACTIVE"})
        st, et, doc = hd.run(imageIdentifier="mine")
        assert_err(st, et, doc, 400, "ValidationException")
        hd.call("PATCH", "/microvm-images/mine/versions/1.0", {"status": "ACTIVE"})

        st, _, vm = hd.run(imageIdentifier=ARN_PREFIX + "mine")
        assert st == 200, vm
        assert vm["imageArn"] == ARN_PREFIX + "mine" and vm["imageVersion"] == "1.0"
        doc = hd.wait_state(vm["microvmId"], ("RUNNING", "TERMINATED"), 60)
        assert doc["state"] == "RUNNING", (doc.get("stateReason"), hd.read_log())
        st, _, lst = hd.call("GET", "/microvms?imageIdentifier=mine")
        assert [i["microvmId"] for i in lst["items"]] == [vm["microvmId"]]
        snaps = [n for n in os.listdir(os.path.join(state, "snapshots"))
                 if n.startswith("mine@1.0")]
        assert snaps, os.listdir(os.path.join(state, "snapshots"))

        for path in ("/microvm-images/mine", "/microvm-images/mine/versions/1.0"):
            st, et, doc = hd.call("DELETE", path)
            assert_err(st, et, doc, 409, "ConflictException")
        st, _, im = hd.call("GET", "/microvm-images/mine")
        assert st == 200 and im["state"] == "CREATED"

        hd.call("DELETE", "/microvms/" + vm["microvmId"])
        hd.wait_state(vm["microvmId"], "TERMINATED", 60)
        st, _, d = hd.call("DELETE", "/microvm-images/mine/versions/1.0")
        assert st == 200, d
        assert not os.path.exists(vdir)
        assert not [n for n in os.listdir(os.path.join(state, "snapshots"))
                    if n.startswith("mine@")]
        st, _, d = hd.call("DELETE", "/microvm-images/mine")
        assert st == 200
        assert not os.path.exists(os.path.join(state, "images", "mine"))
    finally:
        hd.close()


def test_a_running_build(tmp_path):
    """While the builder runs a build (a RUN that sleeps in the builder VM): the
    version and build answer IN_PROGRESS, the log is not complete, an update and
    a delete of the version are refused, and `hearth image logs` without -f
    returns; DeleteMicrovmImage cancels it and leaves nothing behind."""
    from test_image_build import SLOW, assert_nothing_left, put_artifact, wait_log
    from test_client_cli import hearth
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    try:
        st, _, doc = hd.call("POST", "/microvm-images",
                             req(name="slow", uri=put_artifact(hd, "slow.zip", SLOW)))
        assert st == 201, doc
        wait_log(hd, "slow", "1.0", r"^sleeping$", timeout=300)
        st, _, v = hd.call("GET", "/microvm-images/slow/versions/1.0")
        assert v["state"] == "IN_PROGRESS", v
        st, _, b = hd.call("GET", "/microvm-images/slow/versions/1.0/builds/" +
                           v["hearth"]["buildId"])
        assert b["buildState"] == "IN_PROGRESS", b
        st, _, im = hd.call("GET", "/microvm-images/slow")
        assert im["state"] == "CREATING"
        st, _, lg = hd.call("GET", "/microvm-images/slow/versions/1.0/builds/%s/logs"
                            % b["buildId"])
        assert lg["complete"] is False and "sleeping" in lg["text"]
        body = {k: v for k, v in req().items() if k != "name"}
        st, et, doc = hd.call("PUT", "/microvm-images/slow", body)
        assert_err(st, et, doc, 409, "ConflictException")
        st, et, doc = hd.call("DELETE", "/microvm-images/slow/versions/1.0")
        assert_err(st, et, doc, 409, "ConflictException")
        p = hearth(hd, "image", "logs", "slow", timeout=30)
        assert p.returncode == 0 and "sleeping" in p.stdout, (p.stdout, p.stderr)
        st, _, doc = hd.call("DELETE", "/microvm-images/slow")
        assert st == 200 and doc["state"] == "DELETING"
        wait_for(lambda: hd.call("GET", "/microvm-images/slow")[0] == 404, 60, "deleted")
        assert_nothing_left(hd, "slow", "1.0")
        assert not os.path.exists(os.path.join(hd.state_dir, "images", "slow"))
    finally:
        hd.close()
