"""The "host" engine (vmm/host.c): the agent as a host process, for
development and benchmarks. It boots and answers, keeps no memory image
(suspend is refused, the VM stays RUNNING), refuses a snapshot it did not
make, never touches the host's hostname, and leaves nothing behind."""
import json
import os
import socket
import subprocess
import time


from agentproto import Agent
from hearthd_harness import BUILD, HOST_SHELL, REAL_BUSYBOX as IMAGE, Hearthd, busybox_images

HEARTH_VM = os.path.join(BUILD, "bin", "hearth-vm")
ENV = dict(os.environ, HEARTH_ENGINE="host", HEARTH_HOST_SHELL=HOST_SHELL)


def vm_tool(args, stdin, timeout=60):
    return subprocess.run([HEARTH_VM] + args, input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def test_boot_run_snapshot_refuse_suspend_and_clean_up(tmp_path):
    host_before = socket.gethostname()
    run, sock, snap = tmp_path / "run", tmp_path / "a.sock", tmp_path / "snap"
    p = subprocess.Popen([HEARTH_VM, "boot", "--image", IMAGE, "--dir", str(run),
                          "--agent-sock", str(sock), "--id", "hostvm"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=ENV)
    try:
        line = p.stdout.readline()
        while line and not line.startswith(("ready", "err")):
            line = p.stdout.readline()
        assert line.startswith("ready"), line
        with Agent.connect_unix(str(sock), timeout=10) as a:
            a.hello(timeout=10)
            how, value, out, err = a.run("echo from-the-host-agent; exit 3", timeout=30)
        assert (how, value) == (0, 3) and out == b"from-the-host-agent\n", (how, value, out, err)
        p.stdin.write("snapshot %s\n" % snap)
        p.stdin.flush()
        assert p.stdout.readline().startswith("ok snapshot"), "snapshot"
        p.stdin.write("suspend %s\n" % (tmp_path / "susp"))
        p.stdin.flush()
        line = p.stdout.readline()
        assert line.startswith("err") and "cannot suspend" in line, line
        p.stdin.write("stop\n")
        p.stdin.flush()
        p.stdin.close()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    assert not run.exists(), "the run dir is removed on stop"
    assert json.loads((snap / "host.json").read_text()) == {"engine": "host"}
    assert socket.gethostname() == host_before

    # A restore of a snapshot the host engine did not make is refused.
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "host.json").write_text('{"engine":"qemu"}\n')
    r = vm_tool(["restore", "--snapshot", str(bogus), "--dir", str(tmp_path / "r2")], "stop\n")
    assert "not a host-engine snapshot" in r.stdout + r.stderr, r
    assert not (tmp_path / "r2").exists()


def test_hearthd_runs_on_the_host_engine(tmp_path):
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--engine", "host"]).start()
    try:
        st, _, vm = d.run()
        assert st == 200, vm
        vid = vm["microvmId"]
        doc = d.wait_state(vid, ("RUNNING", "TERMINATED"), 60)
        assert doc["state"] == "RUNNING", (doc.get("stateReason"), d.read_log())
        # hearth's own fields (what `hearth top` shows), outside the AWS shape.
        assert doc["hearth"]["memoryBytes"] > 0, doc
        assert doc["hearth"]["lastActivityAt"] >= doc["startedAt"], doc
        with Agent.connect_unix(os.path.join(d.state_dir, "vms", vid, "agent.sock"),
                                timeout=10) as a:
            a.hello(timeout=10)
            how, value, out, _ = a.run("echo ok", timeout=30)
        assert (how, value, out) == (0, 0, b"ok\n")
        # Suspend is refused by the engine: the VM stays RUNNING, with the reason.
        assert d.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
        deadline = time.monotonic() + 60
        doc = d.get(vid)[2]
        while doc["state"] != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
            doc = d.get(vid)[2]
        assert doc["state"] == "RUNNING" and "cannot suspend" in doc.get("stateReason", ""), doc
        d.call("DELETE", "/microvms/%s" % vid)
        assert d.wait_state(vid, "TERMINATED", 60)["state"] == "TERMINATED"
        # A second VM of the same image reuses the image snapshot (the host
        # engine's has no manifest, only its mark) instead of failing to build it again.
        st, _, vm2 = d.run()
        assert st == 200, vm2
        doc = d.wait_state(vm2["microvmId"], ("RUNNING", "TERMINATED"), 60)
        assert doc["state"] == "RUNNING", (doc.get("stateReason"), d.read_log())
    finally:
        d.close()
