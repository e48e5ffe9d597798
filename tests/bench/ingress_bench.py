"""Shell ingress benchmark: wss -> hearthd -> agent (direct stream) -> pty, beside
OpenSSH on loopback in the same run.

  host path   hearthd --engine host: the agent is a host process, so the
              figures are the front end's own cost, comparable with sshd
  VM path     hearthd with the qemu engine and the busybox image (TCG here):
              the end-to-end figure a user sees
  round trip  ws_bench rtt (compatible core shell, `stty raw -echo; cat`) vs
              agent_bench rtt-cmd -- ssh -tt (same loop: N single-byte echoes)
  throughput  ws_bench bulk (hearth.v1 exec `head -c BYTES /dev/zero`,
              stdout frames) vs agent_bench bulk-cmd -- ssh `head -c BYTES`
  many        INGRESS_BENCH_SHELLS (200) shells across INGRESS_BENCH_VMS (10)
              VMs open at once (Python websockets), each answering two
              commands; none may be dropped
The shell host path and OpenSSH run after the HTTP/2 part below, interleaved
(hearth, ssh, hearth, ...), with no VM running: an idle TCG guest beside them takes CPU at random and
blurs both. The VM path follows. Each figure is the median of BENCH_REPEAT
repetitions. Goals (host path): round trip p50 and p99 no
worse than OpenSSH's, throughput at least OpenSSH's and at least 50 MB/s;
every one of the concurrent shells served.

HTTP/2 and gRPC (tests/bench/ingress_h2.py), first, on the host path with no
VM running: h2load request rate and mean/p99 latency (an h2c app and an
HTTP/1.1 app), and gRPC unary p50/p99, through the endpoint beside the same
apps behind nghttpx on loopback, interleaved (hearth, nghttpx, ...). Printed
as soon as measured, not judged; a run that is not all 2xx over h2 fails the
bench (the shell part still runs).

INGRESS_BENCH_PARTS picks what runs: "h2 shell" (default), "h2" or "shell".
"""
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from benchfig import (AB, RAWCAT, Figures, cpu_idle_note, med, row, shell_token,  # noqa: E402
                      start_sshd)
from hearthd_harness import BUILD, REAL_BUSYBOX as IMAGE, Hearthd, busybox_images  # noqa: E402
import ingress_h2  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
N = int(os.environ.get("BENCH_RTT_N", "2000"))
W = int(os.environ.get("BENCH_RTT_WARMUP", "200"))
VM_N = int(os.environ.get("INGRESS_BENCH_VM_RTT_N", "300"))
MB = int(os.environ.get("BENCH_BULK_MB", "512"))
VM_MB = int(os.environ.get("INGRESS_BENCH_VM_MB", "64"))
SHELLS = int(os.environ.get("INGRESS_BENCH_SHELLS", "200"))
VMS = int(os.environ.get("INGRESS_BENCH_VMS", "10"))
WS = os.path.join(BUILD, "bin", "bench", "ws_bench")
PARTS = os.environ.get("INGRESS_BENCH_PARTS", "h2 shell").split()


class Target:
    """One hearthd (engine host or qemu) with VMs and their shell tokens."""

    def __init__(self, root, engine):
        extra = ["--engine", engine] if engine != "qemu" else []
        self.hd = Hearthd(os.path.join(root, "state"), busybox_images(root), extra=extra).start()
        self.hd.wait_ingress()
        self.ca = os.path.join(root, "state", "tls", "ca.pem")
        self.vms = []

    def add_vm(self, timeout=600):
        doc = self.hd.run_running(timeout)
        self.vms.append(doc["microvmId"])
        return doc["microvmId"]

    def token(self, vm_id):
        return shell_token(self.hd, vm_id)

    def app_token(self, vm_id, ports):
        """An endpoint token for vm_id's ports, valid for an hour."""
        st, _, doc = self.hd.call("POST", "/microvms/%s/auth-token" % vm_id,
                                  {"expirationInMinutes": 60,
                                   "allowedPorts": [{"port": p} for p in ports]})
        if st != 200:
            raise RuntimeError(doc)
        return doc["authToken"]["X-aws-proxy-auth"]

    def addr(self):
        return "127.0.0.1:%d" % self.hd.ingress_port

    def close(self):
        self.hd.close()


async def many_shells(t, shells, timeout=600):
    """Open `shells` compatible-core shells spread over t.vms at once; each
    answers two commands. Returns (served, dropped, open_s, latencies_ms)."""
    import websockets
    ctx = ssl.create_default_context(cafile=t.ca)
    tokens = {v: t.token(v) for v in t.vms}
    lat, dropped = [], []

    async def one(i):
        vm = t.vms[i % len(t.vms)]
        uri = "wss://%s.localhost:%d/" % (vm, t.hd.ingress_port)
        protos = ["lambda-microvms", "lambda-microvms.authentication." + tokens[vm]]
        try:
            async with websockets.connect(uri, ssl=ctx, host="127.0.0.1",
                                          port=t.hd.ingress_port, server_hostname="localhost",
                                          subprotocols=protos, open_timeout=timeout,
                                          max_size=None, ping_interval=None) as ws:
                await ws.send(json.dumps({"type": "resize", "cols": 80, "rows": 24}))
                for k in range(2):
                    want = b"ok-%d-%d" % (i, (i + 1) * (k + 7))
                    t0 = time.monotonic()
                    await ws.send(b"echo ok-%d-$((%d*%d))\n" % (i, i + 1, k + 7))
                    out = b""
                    while want not in out:
                        m = await ws.recv()
                        if isinstance(m, bytes):
                            out += m
                    lat.append((time.monotonic() - t0) * 1000)
                    if k == 0:
                        await opened.wait()
                return True
        except Exception as e:  # a dropped session is the figure, not a crash
            dropped.append("%d: %r" % (i, e))
            return False

    opened = asyncio.Event()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(one(i)) for i in range(shells)]
    # Every session has answered its first command before any sends its second,
    # so all of them are open at the same time.
    while len(lat) + len(dropped) < shells and time.monotonic() - t0 < timeout:
        await asyncio.sleep(0.05)
    open_s = time.monotonic() - t0
    opened.set()
    res = await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    return sum(res), dropped, open_s, lat


def h2_part(t, vm_id, root, fig):
    """h2load and gRPC unary latency through t's endpoint and through nghttpx,
    interleaved; prints the table."""
    apps = ingress_h2.Apps(root)
    try:
        tok = t.app_token(vm_id, [apps.web_port, apps.h1_port, apps.grpc_port])
        web, h1, grpc_ = ingress_h2.fronts(apps, t.hd, vm_id, tok, t.ca)
        log = os.path.join(root, "h2load.log")
        loads = [("h2", web, apps.path), ("h1", h1, apps.h1_path)]
        for _, fs, path in loads:  # warm-up: leaves minted, channels and caches up
            for f in fs:
                ingress_h2.h2load(f, path, min(500, ingress_h2.H2_N), log)
        for rep in range(1, REPEAT + 1):
            print("HTTP/2 and gRPC, hearth and nghttpx, run %d/%d ..." % (rep, REPEAT),
                  flush=True)
            for lab, fs, path in loads:
                for f in fs:
                    fig.add("%s-%s" % (lab, f.name), lambda f=f, path=path:
                            ingress_h2.h2load(f, path, ingress_h2.H2_N, log))
            for f in grpc_:
                fig.rec("grpc-" + f.name, ingress_h2.grpc_client_argv(
                    f, ingress_h2.GRPC_N, ingress_h2.GRPC_W), timeout=300)
        for p in apps.procs:
            if p.poll() is not None:
                fig.fails += 1
                print("  %s exited during the run (%d)" % (p.args[0], p.returncode))
    finally:
        apps.close()
    ingress_h2.print_table(fig.m, REPEAT)


def main():
    for p in (WS, AB, IMAGE):
        if not os.path.exists(p):
            print("ingress_bench: %s missing (make)" % p)
            return 1
    if "h2" in PARTS and ingress_h2.missing_tools():
        print("ingress_bench: %s missing (mk/deps.sh)" % " ".join(ingress_h2.missing_tools()))
        return 1
    tmp = tempfile.mkdtemp(prefix="hearth-ingress-bench-")
    host = vmt = sshd_pid = None
    fig = Figures()
    rec, m = fig.rec, fig.m

    try:
        host = Target(os.path.join(tmp, "host"), "host")
        hv = host.add_vm()
        if "h2" in PARTS:
            try:
                h2_part(host, hv, os.path.join(tmp, "h2"), fig)
            except Exception as e:  # counted; the shell figures still come
                fig.fails += 1
                print("  HTTP/2 part failed: %r" % e)
        if "shell" not in PARTS:
            print()
            fig.print_raw(12)
            return 1 if fig.fails else 0
        print()
        sshd_pid, ssh, dest = start_sshd(os.path.join(tmp, "ssh"))
        htok = host.token(hv)
        nbytes = MB * 1024 * 1024
        vbytes = VM_MB * 1024 * 1024
        for rep in range(1, REPEAT + 1):
            print("host path and OpenSSH, run %d/%d ..." % (rep, REPEAT), flush=True)
            rec("ws-rtt", [WS, "-t", "120", "rtt", host.addr(), hv, htok, str(N), str(W)])
            rec("ssh-rtt", [AB, "-t", "120", "rtt-cmd", str(N), str(W), "--"] + ssh +
                ["-tt", dest, RAWCAT])
            rec("ws-bulk", [WS, "-t", "120", "bulk", host.addr(), hv, htok, str(nbytes)])
            rec("ssh-bulk", [AB, "-t", "120", "bulk-cmd", str(nbytes), "--"] + ssh +
                [dest, "head -c %d /dev/zero" % nbytes])
        host.close()
        host = None
        vmt = Target(os.path.join(tmp, "vm"), "qemu")
        vv = vmt.add_vm()
        vtok = vmt.token(vv)
        for rep in range(1, REPEAT + 1):
            print("VM path, run %d/%d ..." % (rep, REPEAT), flush=True)
            rec("vm-rtt", [WS, "-t", "300", "rtt", vmt.addr(), vv, vtok, str(VM_N), "20"])
            rec("vm-bulk", [WS, "-t", "300", "bulk", vmt.addr(), vv, vtok, str(vbytes)])

        fig.print_raw(12)

        ver = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.split(",")[0]
        print("\nshell ingress vs %s on loopback, same run, median of %d repetitions" %
              (ver, REPEAT))
        print("machine: %s" % cpu_idle_note())
        print("round trip: single-byte echoes through a raw pty running cat (host path %d, "
              "VM path %d); bulk: head -c /dev/zero, first byte to end, MB = 10^6 bytes\n" %
              (N, VM_N))
        print("  %-34s %10s %10s %8s" % ("", "hearth", "OpenSSH", "ratio"))
        a50, s50 = m("ws-rtt", "p50_us"), m("ssh-rtt", "p50_us")
        a99, s99 = m("ws-rtt", "p99_us"), m("ssh-rtt", "p99_us")
        row("host path: round trip p50 (us)", a50, s50, "lower is better")
        row("host path: round trip p99 (us)", a99, s99, "lower is better")
        ab, sb = m("ws-bulk", "mbps"), m("ssh-bulk", "mbps")
        row("host path: throughput (MB/s)", ab, sb, "higher is better (%d MiB)" % MB)
        row("VM path (TCG): round trip p50 (us)", m("vm-rtt", "p50_us"), s50, "")
        row("VM path (TCG): round trip p99 (us)", m("vm-rtt", "p99_us"), s99, "")
        row("VM path (TCG): throughput (MB/s)", m("vm-bulk", "mbps"), sb,
            "(%d MiB)" % VM_MB)

        # Many shells at once, on the VM path.
        print("\nstarting %d more VMs for %d concurrent shells ..." % (VMS - 1, SHELLS),
              flush=True)
        for _ in range(VMS - 1):
            vmt.add_vm()
        served, dropped, open_s, lat = asyncio.run(many_shells(vmt, SHELLS))
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else -1
        print("  %d concurrent shells across %d VMs: %d served, %d dropped; all open and "
              "answering after %.1f s; command latency p50 %.1f ms, p99 %.1f ms" %
              (SHELLS, len(vmt.vms), served, len(dropped), open_s, med(lat), p99))
        for d in dropped[:5]:
            print("    dropped %s" % d)

        rtt_ok = a50 > 0 and s50 > 0 and a50 <= s50 and a99 <= s99
        tp_ok = ab > 0 and sb > 0 and ab >= sb and ab >= 50
        many_ok = served == SHELLS and not dropped
        print("\ngoal: host-path round trip no worse than OpenSSH (p50 and p99): %s" %
              ("MET" if rtt_ok else "NOT MET"))
        print("goal: host-path throughput >= OpenSSH and >= 50 MB/s: %s" %
              ("MET" if tp_ok else "NOT MET"))
        print("goal: %d concurrent shells across %d VMs, none dropped: %s" %
              (SHELLS, VMS, "MET" if many_ok else "NOT MET"))
        return 1 if fig.fails or not many_ok else 0
    finally:
        for t in (host, vmt):
            if t:
                t.close()
        if sshd_pid:
            try:
                os.kill(sshd_pid, 15)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
