"""SSH ingress benchmark: OpenSSH's ssh -> hearthd --ssh-listen (the libssh
worker, hearthd's bridge) -> agent, beside OpenSSH's own sshd on loopback in
the same run, both driven by the same client (agent_bench rtt-cmd / bulk-cmd
running ssh).

  host path   hearthd --engine host: the agent is a host process, so the
              figures are the SSH front end's own cost, comparable with sshd
  VM path     hearthd with the qemu engine and the busybox image
  round trip  N single-byte echoes through a raw pty running cat (ssh -tt)
  throughput  ssh host 'head -c BYTES /dev/zero', first byte to end

Each figure is the median of BENCH_REPEAT repetitions, hearth and sshd
interleaved.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from benchfig import AB, RAWCAT, Figures, cpu_idle_note, row, shell_token, start_sshd  # noqa: E402
from hearthd_harness import REAL_BUSYBOX as IMAGE, Hearthd, busybox_images, wait_port  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
N = int(os.environ.get("BENCH_RTT_N", "1000"))
W = int(os.environ.get("BENCH_RTT_WARMUP", "100"))
MB = int(os.environ.get("BENCH_BULK_MB", "256"))
VM_N = int(os.environ.get("SSH_BENCH_VM_RTT_N", "300"))
VM_MB = int(os.environ.get("SSH_BENCH_VM_MB", "64"))


class Target:
    """A hearthd with one VM; ssh_argv() logs in with a fresh shell token."""

    def __init__(self, root, engine):
        extra = ["--engine", engine] if engine != "qemu" else []
        self.root = root
        self.hd = Hearthd(os.path.join(root, "state"), busybox_images(root), extra=extra).start()
        wait_port(self.hd.ssh_port)
        self.vm = self.hd.run_running(600)["microvmId"]

    def ssh_argv(self):
        tok = shell_token(self.hd, self.vm)
        return ["ssh", "-F", "/dev/null", "-p", str(self.hd.ssh_port), "-o",
                "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
                "BatchMode=yes", "-o", "LogLevel=ERROR", "-o",
                "User=%s#%s" % (self.vm, tok)], "127.0.0.1"

    def close(self):
        self.hd.close()


def main():
    for p in (AB, IMAGE):
        if not os.path.exists(p):
            print("ssh_bench: %s missing (make)" % p)
            return 1
    tmp = tempfile.mkdtemp(prefix="hearth-ssh-bench-")
    sshd_pid, ssh, dest = start_sshd(os.path.join(tmp, "sshd"))
    targets = []
    fig = Figures()
    rec, m = fig.rec, fig.m

    try:
        host = Target(os.path.join(tmp, "host"), "host")
        targets.append(host)
        hssh, hdest = host.ssh_argv()
        nbytes = MB * 1024 * 1024
        for rep in range(1, REPEAT + 1):
            print("host path and OpenSSH, run %d/%d ..." % (rep, REPEAT), flush=True)
            rec("hearth-rtt", [AB, "-t", "120", "rtt-cmd", str(N), str(W), "--"] + hssh +
                ["-tt", hdest, RAWCAT])
            rec("sshd-rtt", [AB, "-t", "120", "rtt-cmd", str(N), str(W), "--"] + ssh +
                ["-tt", dest, RAWCAT])
            rec("hearth-bulk", [AB, "-t", "120", "bulk-cmd", str(nbytes), "--"] + hssh +
                [hdest, "head -c %d /dev/zero" % nbytes])
            rec("sshd-bulk", [AB, "-t", "120", "bulk-cmd", str(nbytes), "--"] + ssh +
                [dest, "head -c %d /dev/zero" % nbytes])
        host.close()
        targets.remove(host)
        vm = Target(os.path.join(tmp, "vm"), "qemu")
        targets.append(vm)
        vssh, vdest = vm.ssh_argv()
        vbytes = VM_MB * 1024 * 1024
        for rep in range(1, REPEAT + 1):
            print("VM path, run %d/%d ..." % (rep, REPEAT), flush=True)
            rec("vm-rtt", [AB, "-t", "300", "rtt-cmd", str(VM_N), "20", "--"] + vssh +
                ["-tt", vdest, RAWCAT], 400)
            rec("vm-bulk", [AB, "-t", "300", "bulk-cmd", str(vbytes), "--"] + vssh +
                [vdest, "head -c %d /dev/zero" % vbytes], 400)

        fig.print_raw(12)

        ver = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.split(",")[0]
        print("\nSSH ingress vs %s's sshd on loopback, same client, median of %d repetitions" %
              (ver, REPEAT))
        print("machine: %s" % cpu_idle_note())
        print("round trip: single-byte echoes through a raw pty running cat (host path %d, "
              "VM path %d); bulk: head -c /dev/zero, MB = 10^6 bytes\n" % (N, VM_N))
        print("  %-34s %10s %10s %8s" % ("", "hearth", "sshd", "ratio"))
        s50, s99, sb = m("sshd-rtt", "p50_us"), m("sshd-rtt", "p99_us"), m("sshd-bulk", "mbps")
        row("host path: round trip p50 (us)", m("hearth-rtt", "p50_us"), s50, "lower is better")
        row("host path: round trip p99 (us)", m("hearth-rtt", "p99_us"), s99, "lower is better")
        row("host path: throughput (MB/s)", m("hearth-bulk", "mbps"), sb,
            "higher is better (%d MiB)" % MB)
        row("VM path: round trip p50 (us)", m("vm-rtt", "p50_us"), s50, "")
        row("VM path: round trip p99 (us)", m("vm-rtt", "p99_us"), s99, "")
        row("VM path: throughput (MB/s)", m("vm-bulk", "mbps"), sb, "(%d MiB)" % VM_MB)
        return 1 if fig.fails else 0
    finally:
        for t in targets:
            t.close()
        try:
            os.kill(sshd_pid, 15)
        except OSError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
