"""`hearth image ...` and `hearth images` against a real hearthd: a directory
is zipped into the user's cache (libarchive) and sent as file:///...zip; a
build that fails ends the wait with exit 1 and its reason; list, get,
versions, activate/deactivate, logs and delete; usage errors exit 2. The
build itself is the real builder's (a missing Dockerfile at the zip's root is
ARCHIVE_DOCKERFILE_NOT_FOUND)."""
import json
import os
import zipfile

from hearthd_harness import BUILD, Hearthd, fake_image_dir
from test_client_cli import hearth, ok, ok_json, table

import pytest

HEARTH = os.path.join(BUILD, "bin", "hearth")


@pytest.fixture
def hd(tmp_path):
    d = Hearthd(str(tmp_path / "state"), fake_image_dir(str(tmp_path / "images"))).start()
    yield d
    d.close()


def app_dir(root):
    d = root / "app"
    (d / "sub").mkdir(parents=True)
    (d / "Dockerfile").write_text("FROM busybox\nCOPY . /app\nCMD [\"/bin/true\"]\n")
    (d / "sub" / "x.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(d / "sub" / "x.sh", 0o755)
    os.symlink("sub/x.sh", d / "link")
    return d


def test_create_zips_a_directory(hd, tmp_path):
    cache = tmp_path / "cache"
    env_cache = {"HEARTH_CACHE": str(cache)}
    p = hearth_env(hd, env_cache, "image", "create", "app", str(app_dir(tmp_path)),
                   "--no-wait", "--env", "A=1", "--memory", "256", "--hooks-port", "9000",
                   "--ready", "--json")
    assert p.returncode == 0, (p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    assert doc["name"] == "app" and doc["imageVersion"] == "1.0"
    assert doc["environmentVariables"] == {"A": "1"}
    assert doc["resources"] == [{"minimumMemoryInMiB": 256}]
    assert doc["hooks"]["port"] == 9000
    assert doc["hooks"]["microvmImageHooks"]["ready"] == "ENABLED"
    uri = doc["codeArtifact"]["uri"]
    assert uri.startswith("file://" + str(cache / "artifacts") + "/app-"), uri
    with zipfile.ZipFile(uri[len("file://"):]) as z:
        names = sorted(z.namelist())
        assert names == ["Dockerfile", "link", "sub/", "sub/x.sh"], names
        assert z.read("sub/x.sh") == b"#!/bin/sh\necho hi\n"
        info = z.getinfo("sub/x.sh")
        assert (info.external_attr >> 16) & 0o111, oct(info.external_attr >> 16)
        link = z.getinfo("link")
        assert (link.external_attr >> 16) & 0o170000 == 0o120000  # kept as a symlink
        assert z.read("link") == b"sub/x.sh"


def hearth_env(hd, extra, *args, timeout=60):
    import subprocess
    env = dict(os.environ)
    env.pop("HEARTH_API", None)
    env.update(hd.client_env())
    env.update(extra)
    return subprocess.run([HEARTH] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_failed_build_exits_with_the_reason(hd, tmp_path):
    d = tmp_path / "nodf"
    d.mkdir()
    (d / "other.txt").write_text("x")
    # No Dockerfile: refused before anything is sent.
    p = hearth(hd, "image", "create", "x", str(d))
    assert p.returncode == 1 and "Dockerfile" in p.stderr, p.stderr
    # A zip without one is sent; the build fails and says why.
    z = tmp_path / "nodf.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("other.txt", "x")
    p = hearth_env(hd, {"HEARTH_CACHE": str(tmp_path / "c")}, "image", "create", "x", str(z),
                   timeout=120)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "ARCHIVE_DOCKERFILE_NOT_FOUND" in p.stderr, p.stderr
    rows = table(ok(hd, "image", "list"))
    assert rows[0][:2] == ["NAME", "STATE"]
    assert rows[1][0] == "x" and rows[1][1] == "CREATE_FAILED" and rows[1][3] == "1.0"
    v = ok_json(hd, "image", "versions", "x")["items"]
    assert [i["imageVersion"] for i in v] == ["1.0"] and v[0]["state"] == "FAILED"
    # logs: what the build wrote (complete: the command returns).
    p = hearth(hd, "image", "logs", "x", "-f", timeout=30)
    assert p.returncode == 0, p.stderr
    p = hearth(hd, "image", "logs", "x", "--version", "9.0")
    assert p.returncode == 1 and "ResourceNotFoundException" in p.stderr


def test_manage(hd, tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Dockerfile", "FROM busybox\n")
    p = hearth(hd, "image", "create", "m", str(z), "--no-wait")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["m", "1.0", "PENDING"]
    got = ok_json(hd, "image", "get", "m")
    assert got["name"] == "m" and got["imageArn"].endswith(":microvm-image:m")
    assert "imageArn" in ok(hd, "image", "get", "m")
    # hearth images: managed and built together.
    rows = table(ok(hd, "images"))
    assert {r[0] for r in rows[1:]} >= {"busybox", "debian-12", "m"}
    items = ok_json(hd, "images")["items"]
    mine = [i for i in items if i.get("name") == "m"]
    assert mine and mine[0]["managed"] is False and mine[0]["versions"][0]["imageVersion"] == "1.0"
    assert ok(hd, "image", "deactivate", "m", "1.0").split() == ["m", "1.0", "INACTIVE"]
    assert ok(hd, "image", "activate", "m", "1.0").split() == ["m", "1.0", "ACTIVE"]
    # Wait for the build's end before deleting the version.
    hearth(hd, "image", "logs", "m", "-f", timeout=120)
    ok(hd, "image", "delete", "m", "--version", "1.0")
    assert ok_json(hd, "image", "versions", "m")["items"] == []
    assert ok(hd, "image", "delete", "m").split() == ["m", "DELETING"]
    p = hearth(hd, "image", "get", "m")
    assert p.returncode == 1 and "ResourceNotFoundException" in p.stderr


def test_usage(hd):
    for args in (["image"], ["image", "nope"], ["image", "create", "x"],
                 ["image", "get"], ["image", "activate", "x"],
                 ["image", "create", "x", "/tmp", "--memory", "1"],
                 ["image", "create", "x", "/tmp", "--ready"]):
        p = hearth(hd, *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
