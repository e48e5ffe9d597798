"""VM egress benchmark, root only: the egress lab of tests/integration/test_egress.py
(namespace LAB as hearthd's --egress-uplink, namespace NET behind it with the
lab "internet" host 198.51.100.10; no route anywhere else) and a bulk server
in NET that sends NET_BENCH_MB megabytes to each connection.

  VM path     a busybox VM (INTERNET_EGRESS) downloads with busybox nc: guest
              virtio-net, tap, the VM's namespace and nftables rules, NAT, veth
  peer        the same busybox nc loop run in LAB (where the VMs' traffic
              leaves): the path without the VM, its tap and its rules
  throughput  MB/s of one download, timed inside the caller
  connect     mean ms per connect+close over NET_BENCH_CONNECTS connects
              (busybox nc each time: the process start is in both figures)

Each figure is the median of BENCH_REPEAT repetitions, VM and peer
interleaved. The guest runs under TCG here, so the ratio is mostly the
emulator's; it is printed, not judged.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from hearthd_harness import REAL_BUSYBOX as IMAGE  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
MB = int(os.environ.get("NET_BENCH_MB", "64"))
CONNECTS = int(os.environ.get("NET_BENCH_CONNECTS", "50"))
BULK_PORT, ECHO_PORT = 9100, 80

BULK = r"""
import socket, sys, threading
n = int(sys.argv[2]) << 20
buf = b"\0" * (1 << 20)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[3]))); s.listen(16)
def send(c):
    try:
        left = n
        while left:
            left -= c.send(buf[:min(left, len(buf))])
    except OSError:
        pass
    c.close()
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=send, args=(c,), daemon=True).start()
"""

# One script for both sides: busybox sh and nc, timed by the caller itself
# (now: nanoseconds; busybox date has no %N, so the guest reads /proc/uptime,
# to 10 ms).
GUEST = "NC=nc; now() { read u r </proc/uptime; echo ${u%.*}${u#*.}0000000; }; "
PEER = "NC='busybox nc'; now() { %s +%%s%%N; }; " % shutil.which("date")  # GNU date: busybox sh would run its own
DOWNLOAD = ("s=$(now); $NC %s %d </dev/null | wc -c; e=$(now); "
            "echo ns=$((e-s))")
CONNECT = ("s=$(now); i=0; while [ $i -lt %d ]; do $NC -w 5 %s %d </dev/null "
           ">/dev/null || echo fail; i=$((i+1)); done; e=$(now); echo ns=$((e-s))")


def parse(out, want_bytes=None):
    lines = out.split()
    if "fail" in lines:
        raise RuntimeError("a connect failed: " + out)
    if want_bytes is not None and str(want_bytes) not in lines:
        raise RuntimeError("short download: " + out)
    return int([w for w in lines if w.startswith("ns=")][-1][3:]) / 1e9


def peer(lab, script):
    r = subprocess.run(["ip", "netns", "exec", lab.lab, "busybox", "sh", "-c", PEER + script],
                       capture_output=True, text=True, timeout=600)
    return r.stdout + r.stderr


def main():
    if os.geteuid() != 0:
        print("net_bench: needs root (network namespaces)")
        return 1
    if not os.path.exists(IMAGE):
        print("net_bench: %s missing (make)" % IMAGE)
        return 1
    from test_egress import INET, Lab, close_hearthd, lab_hearthd
    from test_lifecycle import run_running, sh
    tmp = tempfile.mkdtemp(prefix="hearth-net-bench-")
    lab = Lab(tmp)
    hd = bulk = None
    try:
        bulk = subprocess.Popen(["ip", "netns", "exec", lab.net, sys.executable, "-c", BULK,
                                 INET, str(MB), str(BULK_PORT)], stdout=subprocess.PIPE, text=True)
        assert bulk.stdout.readline().strip() == "ready"
        hd = lab_hearthd(tmp, lab)
        vid = run_running(hd, timeout=900)["microvmId"]
        nbytes = MB << 20
        res = {"vm_mbs": [], "peer_mbs": [], "vm_ms": [], "peer_ms": []}
        for rep in range(1, REPEAT + 1):
            print("run %d/%d ..." % (rep, REPEAT), flush=True)
            dl = DOWNLOAD % (INET, BULK_PORT)
            cn = CONNECT % (CONNECTS, INET, ECHO_PORT)
            res["vm_mbs"].append(MB / parse(sh(hd, vid, GUEST + dl, timeout=600), nbytes))
            res["peer_mbs"].append(MB / parse(peer(lab, dl), nbytes))
            res["vm_ms"].append(parse(sh(hd, vid, GUEST + cn, timeout=600)) * 1000 / CONNECTS)
            res["peer_ms"].append(parse(peer(lab, cn)) * 1000 / CONNECTS)
        med = {k: statistics.median(v) for k, v in res.items()}
        print("\nVM egress vs the uplink namespace itself, same lab server, same run, "
              "median of %d" % REPEAT)
        print("  %-34s %10s %10s %8s" % ("", "VM", "uplink", "ratio"))
        print("  %-34s %10.1f %10.1f %8.2f   (VM/uplink, higher is better)" %
              ("download %d MB, MB/s" % MB, med["vm_mbs"], med["peer_mbs"],
               med["vm_mbs"] / med["peer_mbs"]))
        print("  %-34s %10.2f %10.2f %8.2f   (VM/uplink, lower is better)" %
              ("connect+close (busybox nc), ms", med["vm_ms"], med["peer_ms"],
               med["vm_ms"] / med["peer_ms"]))
        print("raw: " + " ".join("%s=%s" % (k, ",".join("%.2f" % x for x in v))
                                 for k, v in res.items()))
        return 0
    finally:
        if hd is not None:
            close_hearthd(hd)
        if bulk is not None:
            bulk.kill()
            bulk.wait(timeout=10)
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
