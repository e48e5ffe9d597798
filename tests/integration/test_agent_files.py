"""The agent's FILES builtin (protocol/PROTOCOL.md 1.3.1) spoken directly with
the independent Python client (agentproto.py) to a host hearth-agent: GET of a
tree read back with Python's tarfile, PUT of archives made by Python's tarfile
(pax, long names), and the refusals that keep a hostile archive inside its
destination: absolute names, "..", a second root, writing through a symlink, a
truncated stream, an unknown op. Every wait has a deadline."""
import io
import os
import stat
import tarfile
import threading

import pytest

from agentproto import (FEATURE_FILES, FILES_GET, FILES_PUT, KIND_EXEC, OpenFailed, TAG_FILES,
                        TAG_STDIN, tlv)


def put(agent, dest, data, timeout=30):
    """PUT data (a tar stream) at dest: (exit code, stderr)."""
    c = agent.open_files(FILES_PUT, dest)

    def feed():
        try:
            c.send(data, timeout=timeout)
            c.eof()
        except Exception:
            pass  # the agent may stop reading after a refusal: its exit says why
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    out, err = c.collect(timeout=timeout)
    how, value = c.wait_exit(timeout=timeout)
    c.wait_closed(timeout=timeout)
    return value if how == "code" else 128 + value, err.decode()


def get(agent, path, recursive=False, timeout=30):
    c = agent.open_files(FILES_GET, path, recursive)
    out, err = c.collect(timeout=timeout)
    how, value = c.wait_exit(timeout=timeout)
    c.wait_closed(timeout=timeout)
    return value if how == "code" else 128 + value, out, err.decode()


def tar_of(entries):
    """entries: (TarInfo fields dict, bytes or None)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for fields, data in entries:
            ti = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()


def test_hello_announces_files(agent):
    assert agent.hello_info["features"] & FEATURE_FILES


def test_get_tree_reads_back_with_tarfile(agent, tmp_path):
    root = tmp_path / "src"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"x" * 100000)
    os.chmod(root / "d" / "f", 0o751)
    os.utime(root / "d" / "f", (1500000000, 1500000000))
    long_name = "L" * 180
    (root / long_name).write_bytes(b"long")
    os.symlink("d/f", root / "ln")
    code, out, err = get(agent, str(root), recursive=True)
    assert code == 0, err
    with tarfile.open(fileobj=io.BytesIO(out)) as t:
        members = {m.name: m for m in t.getmembers()}
        assert set(members) == {"src", "src/d", "src/d/f", "src/" + long_name, "src/ln"}
        f = members["src/d/f"]
        assert f.isfile() and f.mode == 0o751 and f.mtime == 1500000000 and f.size == 100000
        assert t.extractfile(f).read() == b"x" * 100000
        assert members["src/ln"].issym() and members["src/ln"].linkname == "d/f"
        assert t.extractfile(members["src/" + long_name]).read() == b"long"
    # a directory without RECURSIVE, and a missing path: exit 1 with the reason
    code, out, err = get(agent, str(root))
    assert code == 1 and out == b"" and "is a directory (use -r)" in err
    code, out, err = get(agent, str(tmp_path / "missing"))
    assert code == 1 and "missing" in err and "No such file" in err


def test_put_pax_archive_from_tarfile(agent, tmp_path):
    name = "root/" + "n" * 200
    data = tar_of([({"name": "root", "type": tarfile.DIRTYPE, "mode": 0o705, "mtime": 1234567},
                    None),
                   ({"name": name, "mode": 0o640, "mtime": 7654321}, b"payload"),
                   ({"name": "root/empty", "mode": 0o600}, b"")])
    code, err = put(agent, str(tmp_path / "out"), data)
    assert code == 0, err
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o705 and int(out.stat().st_mtime) == 1234567
    f = out / ("n" * 200)
    assert f.read_bytes() == b"payload" and stat.S_IMODE(f.stat().st_mode) == 0o640
    assert int(f.stat().st_mtime) == 7654321
    assert (out / "empty").read_bytes() == b""


@pytest.mark.parametrize("entries,message", [
    ([({"name": "/etc/evil"}, b"x")], "unsafe name /etc/evil"),
    ([({"name": "r", "type": tarfile.DIRTYPE}, None), ({"name": "r/../../evil"}, b"x")],
     "unsafe name r/../../evil"),
    ([({"name": "a"}, b"x"), ({"name": "b"}, b"y")], "more than one top-level entry"),
    ([({"name": "r", "type": tarfile.DIRTYPE}, None),
      ({"name": "r/l", "type": tarfile.SYMTYPE, "linkname": "/"}, None),
      ({"name": "r/l/evil"}, b"x")], "through a symlink"),
])
def test_put_refuses_hostile_archives(agent, tmp_path, entries, message):
    dest = tmp_path / "dest"
    dest.mkdir()
    code, err = put(agent, str(dest), tar_of(entries))
    assert code == 1 and message in err, (code, err)
    assert not os.path.exists("/evil") and not os.path.exists("/etc/evil")


def test_put_truncated_and_garbage(agent, tmp_path):
    data = tar_of([({"name": "f"}, b"z" * 5000)])
    code, err = put(agent, str(tmp_path / "f"), data[:1024])
    assert code == 1 and "ended early" in err
    code, err = put(agent, str(tmp_path / "g"), b"not a tar stream at all" * 40)
    assert code == 1 and "not a tar stream" in err
    assert not (tmp_path / "g").exists()


def test_put_where_it_cannot_write(agent, tmp_path):
    data = tar_of([({"name": "f"}, b"z")])
    code, err = put(agent, str(tmp_path / "no" / "such" / "dir" / "f"), data)
    assert code == 1
    assert "cannot write %s: No such file or directory" % (tmp_path / "no/such/dir/f") in err


def test_files_field_refusals(agent):
    # PUT without STDIN, an unknown op, FILES next to ARGV: refused at OPEN
    for fields in (tlv(TAG_FILES, bytes([FILES_PUT, 0]) + b"/tmp/x"),
                   tlv(TAG_FILES, bytes([7, 0]) + b"/tmp/x") + tlv(TAG_STDIN),
                   tlv(TAG_FILES, bytes([FILES_GET, 0]) + b"/") + tlv(7, "ls")):
        with pytest.raises(Exception) as ei:
            agent.open(KIND_EXEC, fields)
        assert isinstance(ei.value, OpenFailed) or "ERROR" in str(ei.value) or \
            "PROTO" in str(ei.value) or "-1" in str(ei.value), ei.value
