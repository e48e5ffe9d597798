"""`hearth mcp` (shell/client/cmd_mcp.c, mcp_tools.c) driven by the official MCP
TypeScript SDK (@modelcontextprotocol/sdk, tests/mcp/, installed by `make check`
with npm ci) against a real hearthd and a real busybox VM: initialize, list
tools, run a VM, exec with a non-zero exit, stdin, truncation, write then read a
file (text and binary), list a directory, a cancelled long command (it stops in
the VM), bad arguments as tool errors, an endpoint token, the audit log."""
import json
import os
import subprocess

from conftest import hearth_bin, npm_installed
from hearthd_harness import Hearthd, busybox_images
from test_ingress import sanitizer_reports

HEARTH = hearth_bin("hearth")
MCP_DIR = os.path.join(os.path.dirname(__file__), "..", "mcp")


def test_mcp_with_the_official_sdk(tmp_path):
    npm_installed(MCP_DIR, os.path.join(MCP_DIR, "node_modules", "@modelcontextprotocol",
                                        "sdk", "package.json"))
    hd = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path))).start()
    audit = tmp_path / "audit.log"
    try:
        hd.wait_ingress()
        env = dict(os.environ, HEARTH=HEARTH, AUDIT=str(audit), IMAGE="busybox",
                   HEARTH_CACERT=os.path.join(hd.state_dir, "tls", "ca.pem"), **hd.client_env())
        r = subprocess.run(["node", "mcp_client.mjs"], cwd=MCP_DIR, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
        out = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        hd.close()
    assert sanitizer_reports(hd) == [], hd.log_path
    # hearth mcp's own stderr (a SANITIZE build reports there)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr[-3000:]

    assert out["server"]["name"] == "hearth"
    assert out["capabilities"]["tools"] == {"listChanged": False}
    names = {t["name"] for t in out["tools"]}
    assert names == {"run_microvm", "list_microvms", "get_microvm", "suspend_microvm",
                     "resume_microvm", "terminate_microvm", "exec", "write_file", "read_file",
                     "list_dir", "endpoint_url"}
    for t in out["tools"]:
        assert t["schema"]["type"] == "object", t

    assert out["run"]["isError"] is False and out["vmId"], out["run"]
    ef = out["execFail"]
    assert ef["isError"] is False
    assert ef["structured"]["exitCode"] == 3
    assert ef["structured"]["stdout"] == "out\n" and ef["structured"]["stderr"] == "err\n"
    assert out["execStdin"]["stdout"] == "from stdin\n" and out["execStdin"]["exitCode"] == 0
    big = out["execBig"]
    assert big["truncated"] is True
    assert big["tail"].endswith("[... truncated: 200000 more bytes]"), big

    assert out["write"]["isError"] is False and "wrote 13 bytes" in out["write"]["text"]
    assert out["read"] == {"isError": False, "text": "héllo\nworld\n"}
    assert out["writtenMode"] == "600"
    blob = [c for c in out["readBin"] if c["type"] == "resource"]
    assert blob and blob[0]["resource"]["blob"] == "AAEC/w==", out["readBin"]
    assert out["listDir"]["isError"] is False and "mcp-note.txt" in out["listDir"]["text"]
    assert out["readMissing"]["isError"] is True and "/nonexistent-mcp" in out["readMissing"]["text"]
    assert out["writeBad"]["isError"] is True
    assert "cannot write /nonexistent-dir/x" in out["writeBad"]["text"], out["writeBad"]

    assert "rejected" in out["cancel"] and out["cancel"]["progress"] >= 2, out["cancel"]
    assert out["afterCancel"] == "stopped\ngone\n", out["afterCancel"]

    assert out["badArg"]["isError"] is True and "timeout" in out["badArg"]["text"]
    assert out["noId"]["isError"] is True and "'id'" in out["noId"]["text"]
    assert "unknown tool" in out["unknownTool"], out["unknownTool"]
    assert out["endpoint"] == {"isError": False, "hasToken": True}
    assert out["get"] == "RUNNING"
    assert out["terminate"]["isError"] is False

    lines = audit.read_text().splitlines()
    assert all(l.startswith("hearth mcp audit: ") for l in lines), lines
    assert any('client="hearth-test/1.2.3" tool=exec vm="%s"' % out["vmId"] in l and
               "exit=3 outcome=ok" in l for l in lines), lines
    assert any("tool=exec" in l and "outcome=cancelled" in l for l in lines), lines
    assert any("tool=write_file" in l and "what=\"write_file /tmp/mcp-note.txt\"" in l
               for l in lines), lines
    text = audit.read_text()
    # never file contents or tokens
    assert "héllo" not in text and "world" not in text and "AAEC" not in text
    tok = [l for l in lines if "tool=endpoint_url" in l]
    assert tok and "outcome=ok" in tok[0]
    assert "authToken" not in text and "X-aws-proxy-auth" not in text
